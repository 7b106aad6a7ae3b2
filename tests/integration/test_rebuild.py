"""`touchpoint rebuild --verify` after a simulated history with late and duplicate events:
the model rebuilt in process from offset 0 equals the one the live worker and the
materializer built through the broker (streams/rebuild.py, projections/read_model_diff.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta

import duckdb
import pytest

from projections.read_model_diff import ARRIVAL_TIMED, compare
from schemas import decode
from streams import kafka_clients
from streams.keyvault import sealer_for
from streams.materializer import Materializer
from streams.producer import EventPublisher
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import TOUCHPOINTS, create_topics
from tests.builders import a_purchase, eid
from tests.e2e.test_worker_crash import assert_read_model_is_the_fold_of_the_log
from tests.integration.test_worker import publish_simulation, run_worker

pytestmark = pytest.mark.broker

TOUCHPOINT = [sys.executable, "-m", "streams"]


def add_late_and_duplicate_events(settings: Settings) -> int:
    """Every 40th record of the log sent again (the same event: a producer retry), and for
    every 6th customer a purchase 120 days before their latest event, arriving now: the
    number of new events."""
    log = list(read_topic(settings, settings.topic(TOUCHPOINTS)))
    producer = kafka_clients.producer(settings)
    for record in log[::40]:
        producer.send(settings.topic(TOUCHPOINTS), key=record.key, value=record.value)
    producer.flush()
    producer.close()
    latest: dict[str, str] = {}
    for record in log:
        event = decode(record.value)
        at = event.occurred_at.isoformat()
        latest[event.customer_id] = max(latest.get(event.customer_id, at), at)
    late = [
        a_purchase(customer, 4200, _days_before(at, 120), event_id=eid(f"late-{customer}"))
        for customer, at in sorted(latest.items())[::6]
    ]
    with EventPublisher(settings, sealer_for(settings)) as publisher:
        for number, raw in enumerate(late):
            publisher.submit(raw, origin=f"late:{number}")
    assert publisher.report.ok
    return len(late)


def _days_before(iso: str, days: int) -> str:
    return (datetime.fromisoformat(iso) - timedelta(days=days)).isoformat()


def test_rebuild_from_the_log_equals_the_live_read_model(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    create_topics(settings)
    published = publish_simulation(settings, customers=150, days=300)
    published += add_late_and_duplicate_events(settings)
    run_worker(settings)
    with Materializer(settings) as materializer:
        materializer.run_until_caught_up(timeout=120)
    live = settings.db
    rebuilt = live.with_name("rebuilt.duckdb")

    done = subprocess.run([*TOUCHPOINT, "rebuild", "--out", str(rebuilt), "--verify"],
                          env=cli_env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout + done.stderr

    diffs = {diff.table: diff for diff in compare(live, rebuilt, examples=100_000)}
    for table in ("customer_view", "customer_alias", "loyalty_stage", "loyalty_transitions",
                  "churn_warning_events", "value_tier", "complaint_sla"):  # fmt: skip
        assert diffs[table].left_rows > 0, f"{table} is empty: the test proves nothing"
    for diff in diffs.values():
        assert diff.settled, diff
        if diff.table not in ARRIVAL_TIMED:
            assert diff.equal, diff
    # Histories differ only for customers whose facts came out of order (our late
    # purchases) or were merged, and the late purchases did change some.
    differing = {
        row[diff.columns.index("customer_id")]
        for diff in diffs.values()
        if "customer_id" in diff.columns
        for row in diff.examples_left + diff.examples_right
    }
    late = late_customers(settings)
    assert differing <= late | merged_customers(str(live))
    assert differing & late, "the late purchases revised no history: the test proves nothing"
    # The rebuilt views are the fold of the log, duplicates counted once.
    assert_read_model_is_the_fold_of_the_log(settings.model_copy(update={"db": rebuilt}),
                                             published)  # fmt: skip

    again = subprocess.run([*TOUCHPOINT, "rebuild", "--out", str(rebuilt)],
                           env=cli_env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert again.returncode == 1 and "exists" in again.stderr


def late_customers(settings: Settings) -> set[str]:
    """Customers with an event that reached the log after a later one (event time) of its
    partition, computed here from the log."""
    late, watermark = set(), {}
    for record in read_topic(settings, settings.topic(TOUCHPOINTS)):
        event = decode(record.value)
        mark = watermark.get(record.partition, event.occurred_at)
        if event.occurred_at < mark:
            late.add(event.customer_id)
        watermark[record.partition] = max(mark, event.occurred_at)
    return late


def merged_customers(path: str) -> set[str]:
    with duckdb.connect(path, read_only=True) as db:
        rows = db.execute("SELECT alias_id, canonical_id FROM customer_alias").fetchall()
    return {customer for row in rows for customer in row}


def test_adopt_hands_the_rebuilt_model_over_and_the_pipeline_continues_on_it(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    """Blue runs; its workers stop; more events arrive; `rebuild --adopt` builds green up to
    what blue processed and hands it over; the workers and a materializer on green carry on
    from there, and green ends equal to the fold of the whole log and to a full rebuild."""
    create_topics(settings)
    published = publish_simulation(settings, customers=60, days=200)
    run_worker(settings)  # blue: workers, then the materializer into settings.db
    with Materializer(settings) as materializer:
        materializer.run_until_caught_up(timeout=120)
    before = published
    backlog = add_late_and_duplicate_events(settings)  # arrives while no worker runs
    published += backlog
    green = settings.db.with_name("green.duckdb")

    done = subprocess.run([*TOUCHPOINT, "rebuild", "--out", str(green), "--adopt"],
                          env=cli_env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(green), read_only=True) as db:
        (customers,) = db.execute("SELECT count(*) FROM customer_view").fetchone() or (0,)
    assert customers > 0

    on_green = settings.model_copy(update={"db": green})
    worker = run_worker(on_green)
    # the workers go on where blue stopped: the backlog only (late events, resent ones)
    assert worker.stats.applied == backlog + len(range(0, before, 40))
    with Materializer(on_green) as materializer:
        materializer.run_until_caught_up(timeout=120)
    assert_read_model_is_the_fold_of_the_log(on_green, published)

    full = settings.db.with_name("full.duckdb")
    again = subprocess.run([*TOUCHPOINT, "rebuild", "--out", str(full)],
                           env=cli_env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    for diff in compare(green, full):
        assert diff.settled, diff
        if diff.table not in ARRIVAL_TIMED:
            assert diff.equal, diff
