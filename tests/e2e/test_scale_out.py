"""Scale-out: two workers in one group share the partitions; one is killed with SIGKILL
mid-stream, the other takes its partitions over and finishes, and the read model equals
the single-worker answer (the fold over the log)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from streams.health import worker_group
from streams.offsets import HighWaterMarks, committed_offsets
from streams.settings import Settings
from streams.topics import TOUCHPOINTS, create_topics
from tests.e2e.test_worker_crash import (
    _wait_for_some_state,
    assert_read_model_is_the_fold_of_the_log,
)
from tests.integration.test_worker import publish_simulation

pytestmark = pytest.mark.broker

TOUCHPOINT = [sys.executable, "-m", "streams"]


def test_two_workers_share_partitions_and_one_survives_the_others_kill(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    create_topics(settings, partitions=4)
    published = publish_simulation(settings, customers=400, days=365)
    start = [*TOUCHPOINT, "worker", "--no-materialize", "--batch-size", "500"]
    quiet: dict[str, int] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen(start, env=cli_env, **quiet)  # type: ignore[call-overload]
    second = subprocess.Popen(start, env=cli_env, **quiet)  # type: ignore[call-overload]
    try:
        _wait_for_some_state(settings, timeout_s=120)
        time.sleep(1.0)  # both members in the group and folding
        os.kill(first.pid, signal.SIGKILL)  # no flush, no commit, no leave-group
        first.wait(10)
        # The survivor gets the dead member's partitions at the next rebalance and
        # commits every partition of the log up to its end.
        _wait_until(lambda: _all_committed(settings), timeout_s=300)
        assert second.poll() is None, "the survivor kept running"
        second.send_signal(signal.SIGTERM)
        second.wait(60)
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
    assert first.returncode == -signal.SIGKILL

    done = subprocess.run([*TOUCHPOINT, "materialize", "--until-idle"], env=cli_env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert_read_model_is_the_fold_of_the_log(settings, published)


def _all_committed(settings: Settings) -> bool:
    topic = settings.topic(TOUCHPOINTS)
    with HighWaterMarks(settings, [topic]) as marks:
        high = marks.sample()
    done = committed_offsets(settings, worker_group(settings), list(high))
    return all(h is not None and (done[tp] or 0) >= h for tp, h in high.items())


def _wait_until(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(1.0)
    raise AssertionError(f"not done within {timeout_s} s")
