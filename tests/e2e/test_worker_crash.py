"""A worker killed with SIGKILL mid-stream and restarted ends with exactly the read
model an uninterrupted run gives: nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import CUSTOMER_STATE, create_topics
from tests.integration.test_worker import (
    expected_from_the_log,
    latest_records,
    publish_simulation,
)

pytestmark = pytest.mark.broker

TOUCHPOINT = [sys.executable, "-m", "streams"]


def test_killed_worker_restarts_to_the_same_read_model(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    create_topics(settings)
    published = publish_simulation(settings, customers=400, days=365)
    worker = subprocess.Popen(
        [*TOUCHPOINT, "worker", "--batch-size", "500"],
        env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_some_state(settings, timeout_s=90)
        os.kill(worker.pid, signal.SIGKILL)  # mid-stream: no flush, no commit, no goodbye
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL

    restarted = subprocess.run(
        [*TOUCHPOINT, "worker", "--until-idle"],
        env=cli_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert restarted.returncode == 0, restarted.stderr
    # The kill left work undone: the restart folded events (a redelivery skips, not folds).
    folded = re.search(r"processed ([\d,]+) events", restarted.stderr)
    assert folded and int(folded.group(1).replace(",", "")) > 0, restarted.stderr

    records = latest_records(settings)
    aliases = assert_read_model_is_the_fold_of_the_log(settings, published)
    assert {k for k, v in records.items() if getattr(v, "canonical_id", None)} == aliases.keys()


def assert_read_model_is_the_fold_of_the_log(settings: Settings, published: int) -> dict[str, str]:
    """The DuckDB views and aliases equal the fold computed directly over the event log,
    which holds every published event once; the aliases."""
    rows, aliases = expected_from_the_log(settings)
    with duckdb.connect(str(settings.db), read_only=True) as db:
        names = [c[0] for c in db.execute("SELECT * FROM customer_view LIMIT 0").description]
        stored = {
            row[0]: dict(zip(names, row, strict=True))
            for row in db.execute("SELECT * FROM customer_view").fetchall()
        }
        stored_aliases = dict(
            db.execute("SELECT alias_id, canonical_id FROM customer_alias").fetchall()
        )
    assert stored.keys() == rows.keys()
    for customer, expected in rows.items():
        assert {k: stored[customer][k] for k in expected} == expected, customer
    assert stored_aliases == aliases
    assert sum(row["event_count"] for row in rows.values()) == published
    return aliases


def _wait_for_some_state(settings: Settings, timeout_s: float) -> None:
    """Until the worker has written part (not all) of its state."""
    deadline = time.monotonic() + timeout_s
    topic = settings.topic(CUSTOMER_STATE)
    while time.monotonic() < deadline:
        if any(True for _ in read_topic(settings, topic, expected=1, timeout_s=2)):
            return
        time.sleep(0.2)
    raise AssertionError("the worker wrote no state in time")
