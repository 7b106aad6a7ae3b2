"""Health without a broker: Prometheus collectors and their endpoint, status arithmetic,
and re-drive decisions (fix files, validation again, what is skipped)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from kafka import TopicPartition
from prometheus_client import CollectorRegistry, generate_latest

from schemas import InMemoryKeyVault, PiiSealer
from streams.dlq import Handled, Letter
from streams.health import WORKER_INPUTS, _Samples, worker_group
from streams.materializer import MaterializerStats
from streams.metrics import (
    MaterializerCollector,
    MaterializerProbe,
    MetricsServer,
    WorkerCollector,
)
from streams.redrive import FixFileError, Refused, load_fixes, plan, revalidate
from streams.settings import load_settings
from streams.worker import INPUTS, WorkerStats, make_faust_app

NOW = datetime(2025, 3, 2, tzinfo=UTC)


def a_worker() -> SimpleNamespace:
    stats = WorkerStats(applied=7, redelivered=2, dead_lettered=1, views_published=5, batches=3)
    stats.by_partition.update({0: 4, 2: 3})
    return SimpleNamespace(
        stats=stats,
        watermarks={0: 1_740_823_200_000_000},  # 2025-03-01T10:00:00Z in µs
        processed_next={"touchpoints": {0: 9, 2: 3}},
        failure=None,
    )


def scrape(*collectors: object) -> str:
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry).decode()


def test_worker_metrics_are_read_from_its_stats_at_every_scrape() -> None:
    worker = a_worker()
    text = scrape(WorkerCollector(worker))
    assert "touchpoint_worker_events_applied_total 7.0" in text
    assert "touchpoint_worker_events_redelivered_total 2.0" in text
    assert "touchpoint_worker_events_dead_lettered_total 1.0" in text
    assert 'touchpoint_worker_partition_events_applied_total{partition="2"} 3.0' in text
    assert 'touchpoint_worker_watermark_seconds{partition="0"} 1.7408232e+09' in text
    assert 'touchpoint_worker_next_offset{partition="0",topic="touchpoints"} 9.0' in text
    assert "touchpoint_worker_failed 0.0" in text
    worker.stats.applied += 5
    worker.failure = RuntimeError("boom")
    again = scrape(WorkerCollector(worker))
    assert "touchpoint_worker_events_applied_total 12.0" in again
    assert "touchpoint_worker_failed 1.0" in again


def test_a_count_the_worker_gains_later_is_exported_under_its_field_name() -> None:
    @dataclass
    class NewerStats(WorkerStats):
        warnings_raised: int = 0

    worker = a_worker()
    worker.stats = NewerStats(applied=1, warnings_raised=4)
    text = scrape(WorkerCollector(worker))
    assert "touchpoint_worker_warnings_raised_total 4.0" in text
    assert "touchpoint_worker_applied_total" not in text  # named explicitly instead


def test_materializer_metrics_appear_once_it_runs() -> None:
    probe = MaterializerProbe()
    assert "touchpoint_materializer" not in scrape(MaterializerCollector(probe))
    probe.stats = MaterializerStats(batches=2, records=10, applied=9, skipped=1)
    probe.lag = {"t.customer-views/1": 4, "t.customer-views/2": None}
    text = scrape(MaterializerCollector(probe))
    assert "touchpoint_materializer_records_applied_total 9.0" in text
    assert 'touchpoint_materializer_lag_records{partition="1",topic="t.customer-views"} 4.0' in text
    assert 'partition="2"' not in text  # unknown lag: no sample


def test_the_endpoint_serves_the_collectors_over_http() -> None:
    with MetricsServer(0, "127.0.0.1", WorkerCollector(a_worker())) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
    assert "touchpoint_worker_events_applied_total 7.0" in text
    assert "process_cpu_seconds_total" in text or "python_gc" in text


def test_status_knows_the_worker_inputs_and_group() -> None:
    assert set(WORKER_INPUTS) == set(INPUTS)
    settings = load_settings(topic_prefix="x.", broker_profile="tansu")
    assert worker_group(settings) == make_faust_app(settings).conf.id


def test_lag_and_rates_from_two_samples() -> None:
    tp, fresh = TopicPartition("touchpoints", 0), TopicPartition("touchpoints", 1)
    samples = _Samples(
        first={tp: 100, fresh: 10},
        last={tp: 130, fresh: 20},
        done_first={tp: 90, fresh: None},
        done_last={tp: 110, fresh: None},
        low={tp: 0, fresh: 5},
        elapsed=2.0,
    )
    row = samples.row(tp)
    assert (row.committed, row.high_water, row.lag) == (110, 130, 20)
    assert (row.arriving_per_s, row.processed_per_s) == (15.0, 10.0)
    never = samples.row(fresh)  # the group never committed: lag from the log's start
    assert (never.lag, never.processed_per_s) == (15, None)


# -- re-drive decisions --


def sealer() -> PiiSealer:
    return PiiSealer(InMemoryKeyVault(), b"pepper-for-tests")


def an_event(**changes: object) -> dict[str, object]:
    return {
        "event_id": "00000000-0000-4000-8000-000000000001",
        "event_type": "visit_recorded",
        "schema_version": 1,
        "customer_id": "C1",
        "occurred_at": "2025-03-01T10:00:00+00:00",
        "channel": "web",
        "source": "web-shop",
        "page": "/shoes",
        **changes,
    }


def a_letter(offset: int, value: bytes, partition: int = 0) -> Letter:
    return Letter(partition, offset, 0, "C1", value, "invalid", "events.jsonl:1")


def test_a_record_is_validated_again_as_produce_validates_input() -> None:
    event = revalidate(json.dumps(an_event()).encode(), sealer(), NOW)
    assert event.customer_id == "C1"
    assert event.recorded_at == NOW  # added when missing, as produce does
    with pytest.raises(Refused, match="occurred_at"):
        revalidate(json.dumps(an_event(occurred_at="2025-03-01T10:00:00")).encode(), sealer(), NOW)
    with pytest.raises(Refused, match="not valid JSON"):
        revalidate(b"{oops", sealer(), NOW)
    with pytest.raises(Refused, match="null value"):
        revalidate(b"", sealer(), NOW)
    redacted = an_event(event_type="customer_registered", email="[redacted: no valid id]")
    with pytest.raises(Refused, match="email: redacted"):
        revalidate(redacted, sealer(), NOW)


def test_plan_skips_handled_letters_uses_fixes_and_keeps_invalid_ones_pending(
    tmp_path: Path,
) -> None:
    naive = json.dumps(an_event(occurred_at="2025-03-01T10:00:00")).encode()
    letters = [a_letter(0, naive), a_letter(1, naive), a_letter(2, b"junk"), a_letter(3, naive)]
    path = tmp_path / "fixed.jsonl"
    path.write_text(json.dumps({"partition": 0, "offset": 1, "event": an_event()}) + "\n")
    fixes = load_fixes(path)
    handled = {"0@3": Handled("0@3", "redriven", NOW.isoformat())}

    decisions = plan(letters, handled, fixes, sealer(), NOW, discard={"0@2"})

    assert [d.action for d in decisions] == ["invalid", "redrive", "discard", "handled"]
    assert decisions[1].fix is not None and decisions[1].event is not None
    only = plan(letters, handled, fixes, sealer(), NOW, only={"0@1"})
    assert [d.letter.ref for d in only] == ["0@1"]


def test_a_fix_file_names_each_dead_letter_once(tmp_path: Path) -> None:
    path = tmp_path / "fixed.jsonl"
    path.write_text(json.dumps({"partition": 0, "offset": 1, "event": an_event()}) + "\n\n")
    assert set(load_fixes(path)) == {"0@1"}
    for bad, message in [
        ("{oops", "not valid JSON"),
        ('{"partition": 0, "event": {}}', "partition and offset"),
        ('{"partition": 0, "offset": 1, "value": "x"}', "corrected event"),
        (json.dumps({"partition": 0, "offset": 1, "event": an_event()}) + "\n"
         + json.dumps({"partition": 0, "offset": 1, "event": an_event()}), "a second fix"),
    ]:  # fmt: skip
        path.write_text(bad)
        with pytest.raises(FixFileError, match=message):
            load_fixes(path)
