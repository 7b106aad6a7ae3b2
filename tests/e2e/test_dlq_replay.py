"""Dead letters re-driven through the real broker, as a user runs the CLI: each is folded
once, a second replay sends nothing, and an interrupted replay still counts once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.view_records import ViewRecord, decode_view_record
from streams import kafka_clients, redrive
from streams.dlq import read_handled, read_letters
from streams.idle import run_until_idle
from streams.keyvault import sealer_for
from streams.readback import read_topic
from streams.redrive import execute, plan
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, TOUCHPOINTS, create_topics
from streams.worker import ProcessingWorker
from tests.e2e.test_cli import run, visit_line

pytestmark = pytest.mark.broker


def event_counts(settings: Settings) -> dict[str, int]:
    """Distinct events per customer in the latest published views."""
    counts = {}
    for record in read_topic(settings, settings.topic(CUSTOMER_VIEWS)):
        view = decode_view_record(record.value, record.key)
        if isinstance(view, ViewRecord):
            counts[view.customer_id] = int(view.row["event_count"])
    return counts


def log_size(settings: Settings) -> int:
    return sum(1 for _ in read_topic(settings, settings.topic(TOUCHPOINTS)))


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_replay_after_a_fix_folds_each_dead_letter_once_and_again_sends_nothing(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        visit_line(1, "C1") + "\n" + visit_line(2, "C2", occurred_at="2025-03-01T10:00:00") + "\n"
    )
    assert run(["produce", str(events)], cli_env).returncode == 1  # line 2 refused
    # A valid event under the wrong key: the worker dead-letters it, a replay re-keys it.
    misfiled = json.loads(visit_line(3, "C3"))
    misfiled["recorded_at"] = "2025-03-01T10:00:01+00:00"
    producer = kafka_clients.producer(settings)
    producer.send(settings.topic(TOUCHPOINTS), key=b"C1", value=json.dumps(misfiled).encode())
    producer.close()
    first = run(["worker", "--until-idle", "--no-materialize"], cli_env)
    assert first.returncode == 0, first.stderr
    assert event_counts(settings) == {"C1": 1}

    listed = run(["dlq", "list", "--json"], cli_env)
    assert listed.returncode == 0, listed.stderr
    letters = json_lines(listed.stdout)
    assert sorted(str(letter["key"]) for letter in letters) == ["C1", "C2"]
    refused = next(letter for letter in letters if letter["key"] == "C2")
    assert refused["origin"] == f"{events}:2" and refused["state"] == "pending"
    assert refused["errors"][0]["field"] == "occurred_at"
    refused["event"]["occurred_at"] = "2025-03-01T10:00:00+00:00"
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(json.dumps(refused) + "\n")

    dry = run(["dlq", "replay", "--fixed", str(fixed), "--dry-run", "--json"], cli_env)
    assert dry.returncode == 0, dry.stderr
    assert {r["result"] for r in json_lines(dry.stdout)} == {"would re-drive"}
    replayed = run(["dlq", "replay", "--fixed", str(fixed), "--json"], cli_env)
    assert replayed.returncode == 0, replayed.stderr
    results = {r["customer_id"]: r for r in json_lines(replayed.stdout)}
    assert {c: r["result"] for c, r in results.items()} == {"C2": "re-driven", "C3": "re-driven"}
    assert results["C2"]["fixed_from"] == f"{fixed}:1"
    second = run(["worker", "--until-idle", "--no-materialize"], cli_env)
    assert second.returncode == 0, second.stderr
    assert event_counts(settings) == {"C1": 1, "C2": 1, "C3": 1}
    size = log_size(settings)

    again = run(["dlq", "replay", "--fixed", str(fixed), "--json"], cli_env)
    assert again.returncode == 0, again.stderr
    assert {r["result"] for r in json_lines(again.stdout)} == {"already handled"}
    assert log_size(settings) == size  # nothing new on the event log
    pending = run(["dlq", "list", "--pending", "--json"], cli_env)
    assert pending.returncode == 0 and json_lines(pending.stdout) == []


def test_a_still_invalid_dead_letter_is_reported_and_stays_pending(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("{oops\n")
    assert run(["produce", str(events)], cli_env).returncode == 1

    replayed = run(["dlq", "replay", "--json"], cli_env)
    assert replayed.returncode == 1
    assert [r["result"] for r in json_lines(replayed.stdout)] == ["still invalid"]
    assert "--discard" in replayed.stderr
    assert len(read_letters(settings)) == 1  # not dead-lettered again
    assert read_handled(settings) == {}

    (ref,) = [f"{letter.partition}@{letter.offset}" for letter in read_letters(settings)]
    discarded = run(["dlq", "replay", "--discard", ref], cli_env)
    assert discarded.returncode == 0, discarded.stderr
    assert read_handled(settings)[ref].action == "discarded"
    unknown = run(["dlq", "replay", "--offset", "0@999"], cli_env)
    assert unknown.returncode == 2 and "no dead letter at 0@999" in unknown.stderr


def test_a_replay_interrupted_before_its_marks_resends_and_the_fold_counts_once(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_topics(settings)
    line = json.loads(visit_line(1, "C7"))
    producer = kafka_clients.producer(settings)
    producer.send(settings.topic(TOUCHPOINTS), key=b"WRONG", value=json.dumps(line).encode())
    producer.close()
    asyncio.run(run_until_idle(ProcessingWorker(settings), timeout_s=120))
    sealer = sealer_for(settings)

    def crash(*_: object) -> None:
        raise RuntimeError("stopped before the marks were written")

    with monkeypatch.context() as patched:
        patched.setattr(redrive, "mark_handled", crash)
        decisions = plan(read_letters(settings), {}, {}, sealer, datetime.now(UTC))
        with pytest.raises(RuntimeError):
            execute(settings, decisions, sealer, datetime.now(UTC))
    decisions = plan(read_letters(settings), read_handled(settings), {}, sealer, datetime.now(UTC))
    assert [d.action for d in decisions] == ["redrive"]  # not marked: re-driven again
    execute(settings, decisions, sealer, datetime.now(UTC))
    asyncio.run(run_until_idle(ProcessingWorker(settings), timeout_s=120))

    assert log_size(settings) == 3  # the misfiled record and the event sent twice
    assert event_counts(settings) == {"C7": 1}
