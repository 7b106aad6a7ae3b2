"""`touchpoint status` and the worker's Prometheus endpoint, through the real broker."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from streams.broker import free_port
from tests.e2e.test_cli import TOUCHPOINT, run, visit_line

pytestmark = pytest.mark.broker

EVENTS = 12


def some_events(tmp_path: Path, bad: bool = False) -> Path:
    lines = [visit_line(n, f"C{n % 4}", occurred_at=f"2025-03-01T10:{n:02d}:00+00:00")
             for n in range(1, EVENTS + 1)]  # fmt: skip
    if bad:
        lines.append("{oops")
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def status(env: dict[str, str]) -> dict[str, object]:
    result = run(["status", "--json", "--interval", "0.5"], env)
    assert result.returncode == 0, result.stderr
    body: dict[str, object] = json.loads(result.stdout)
    return body


def test_status_shows_lag_dead_letters_and_read_model_freshness(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    missing = run(["status"], cli_env)
    assert missing.returncode == 1 and "run `touchpoint topics create`" in missing.stderr
    assert run(["topics", "create"], cli_env).returncode == 0
    assert run(["produce", str(some_events(tmp_path, bad=True))], cli_env).returncode == 1

    before = status(cli_env)
    assert before["events"]["lag"] == EVENTS
    log = [p for p in before["partitions"] if p["topic"].endswith("touchpoints")]
    assert len(log) == 3 and all(p["committed"] is None for p in log)
    assert before["dead_letters"] == {
        "topic": cli_env["TOUCHPOINT_TOPIC_PREFIX"] + "touchpoints-dlq",
        "records": 1,
        "handled": 0,
        "pending": 1,
    }
    assert before["read_model"]["error"] == "no read model published yet"
    table = run(["status", "--interval", "0"], cli_env)
    assert table.returncode == 0 and "touchpoint-worker" in table.stdout
    assert f"event log lag: {EVENTS} events" in table.stderr

    assert run(["worker", "--until-idle"], cli_env).returncode == 0

    after = status(cli_env)
    assert after["events"] == {"lag": 0, "arriving_per_s": 0.0, "processed_per_s": 0.0}
    assert all(p["lag"] == 0 for p in after["partitions"])
    log = [p for p in after["partitions"] if p["topic"].endswith("touchpoints")]
    assert all(p["committed"] == p["high_water"] or p["high_water"] == 0 for p in log)
    model = after["read_model"]
    assert model["error"] is None
    assert model["watermark"] == f"2025-03-01T10:{EVENTS:02d}:00+00:00"
    assert set(model["lag"].values()) == {0}
    assert 0 <= model["age_s"] < 120
    datetime.fromisoformat(model["published_at"])


def test_status_says_when_the_broker_cannot_be_reached(cli_env: dict[str, str]) -> None:
    env = {**cli_env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    result = run(["status"], env)
    assert result.returncode == 1
    assert "is a broker running there?" in result.stderr


def scrape(port: int) -> str:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return None if found is None else float(found.group(1))


def test_the_worker_serves_prometheus_metrics_counting_what_it_applied(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["produce", str(some_events(tmp_path))], cli_env).returncode == 0
    port = free_port()
    worker = subprocess.Popen(
        [*TOUCHPOINT, "worker", "--no-materialize", "--metrics-port", str(port)],
        env=cli_env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        applied, deadline, text = None, time.monotonic() + 120, ""
        while applied != EVENTS and time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                text = scrape(port)
            except OSError:
                continue  # not listening yet
            applied = metric(text, "touchpoint_worker_events_applied_total")
        assert applied == EVENTS, text
        per_partition = re.findall(
            r'^touchpoint_worker_partition_events_applied_total\{partition="\d+"\} (\S+)$',
            text,
            re.MULTILINE,
        )
        assert sum(float(n) for n in per_partition) == EVENTS
        assert metric(text, "touchpoint_worker_failed") == 0
        assert "touchpoint_worker_watermark_seconds" in text
    finally:
        worker.send_signal(signal.SIGINT)
        _, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert f"metrics at http://127.0.0.1:{port}/metrics" in stderr
