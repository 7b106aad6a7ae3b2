"""The `touchpoint` CLI as a user runs it: a subprocess against the real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from schemas import decode
from streams.broker import free_port
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import TOUCHPOINTS

pytestmark = pytest.mark.broker

TOUCHPOINT = [sys.executable, "-m", "streams"]
T0 = "2025-03-01T10:00:00+00:00"


def run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOUCHPOINT, *args], env=env, input=stdin, capture_output=True, text=True, timeout=240
    )


def visit_line(n: int, customer: str = "C1", **changes: object) -> str:
    record = {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "event_type": "visit_recorded",
        "schema_version": 1,
        "customer_id": customer,
        "occurred_at": T0,
        "channel": "web",
        "source": "web-shop",
        "page": "/shoes",
        **changes,
    }
    return json.dumps(record)


def test_broker_command_serves_kafka_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TOUCHPOINT_KEY_VAULT": str(tmp_path / "k.sqlite")}
    broker = subprocess.Popen(
        [*TOUCHPOINT, "broker", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert broker.stdout is not None
        assert broker.stdout.readline().strip() == f"127.0.0.1:{port}"  # printed once ready
        env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{port}"
        created = run(["topics", "create", "--partitions", "2"], env)
        assert created.returncode == 0, created.stderr
        assert "created" in created.stdout
        again = run(["topics", "create"], env)
        assert again.returncode == 0 and "created" not in again.stdout
        broker.send_signal(signal.SIGINT)
        assert broker.wait(timeout=15) == 0
    finally:
        if broker.poll() is None:
            broker.kill()


def test_produce_publishes_valid_lines_and_reports_bad_ones_by_line(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    lines = [
        visit_line(1),
        visit_line(2, occurred_at="2025-03-01T10:00:00"),  # naive time
        visit_line(3, customer="C2"),
        "{oops",
        visit_line(5, channel="carrier-pigeon"),
        visit_line(6, customer="C3"),
    ]
    file = tmp_path / "events.jsonl"
    file.write_text("\n".join(lines) + "\n")
    assert run(["topics", "create"], cli_env).returncode == 0

    result = run(["produce", str(file)], cli_env)

    assert result.returncode == 1  # refused lines make the run fail for scripts
    assert f"{file}:2: invalid visit_recorded event: occurred_at" in result.stderr
    assert f"{file}:4: $: not valid JSON" in result.stderr
    assert f"{file}:5: invalid visit_recorded event: channel" in result.stderr
    events = [
        decode(r.value) for r in read_topic(settings, settings.topic(TOUCHPOINTS), expected=3)
    ]
    assert sorted(e.customer_id for e in events) == ["C1", "C2", "C3"]  # nothing valid lost


def test_produce_reads_stdin(settings: Settings, cli_env: dict[str, str]) -> None:
    result = run(["produce", "-"], cli_env, stdin=visit_line(7) + "\n" + visit_line(8) + "\n")
    assert result.returncode == 0, result.stderr
    assert len(list(read_topic(settings, settings.topic(TOUCHPOINTS), expected=2))) == 2


def test_simulated_events_read_back_by_a_plain_consumer_match_the_exported_schemas(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    assert run(["topics", "create"], cli_env).returncode == 0
    published = run(["simulate", "--customers", "150", "--days", "365", "--seed", "7"], cli_env)
    assert published.returncode == 0, published.stderr
    exported = run(["schemas", "export", str(tmp_path / "schemas")], cli_env)
    assert exported.returncode == 0, exported.stderr
    validators = {}
    for path in (tmp_path / "schemas").glob("*.schema.json"):
        schema = json.loads(path.read_text())
        validators[schema["$id"]] = jsonschema.Draft202012Validator(schema)

    written = run(
        ["simulate", "--customers", "150", "--days", "365", "--seed", "7", "--out", "-"], cli_env
    )
    expected = len(written.stdout.splitlines())
    records = list(read_topic(settings, settings.topic(TOUCHPOINTS), expected=expected))

    assert len(records) == expected > 150
    for record in records:
        body = json.loads(record.value)
        urn = f"urn:touchpoint:event:{body['event_type']}:v{body['schema_version']}"
        validators[urn].validate(body)
    assert len({json.loads(r.value)["event_type"] for r in records}) >= 8


def test_simulate_out_is_reproducible(cli_env: dict[str, str]) -> None:
    args = ["simulate", "-n", "40", "-d", "90", "-s", "3", "--out", "-"]
    first, second = run(args, cli_env), run(args, cli_env)
    other = run([*args[:-3], "4", "--out", "-"], cli_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout != other.stdout


def test_commands_fail_fast_with_a_clear_message_when_no_broker_answers() -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    started = time.monotonic()
    result = run(["topics", "create"], env)
    assert result.returncode == 1
    assert "touchpoint broker" in result.stderr and "KAFKA_BOOTSTRAP_SERVERS" in result.stderr
    assert time.monotonic() - started < 20
