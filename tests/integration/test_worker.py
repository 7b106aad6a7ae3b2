"""The processing tier through the real broker: views equal the fold, bad records are
dead-lettered with their source, redelivery and restarts change nothing."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from kafka import KafkaProducer

import simulator
from projections.customer_facts import CustomerFacts, initial, merge
from projections.customer_fold import fold
from projections.customer_view import CustomerView
from projections.identity import IdentityGraph, claims_of
from projections.view_records import (
    AliasRecord,
    ViewRecord,
    decode_view_record,
    encode_view_record,
)
from schemas import decode
from streams import kafka_clients
from streams.deadletter import ORIGIN_OFFSET, ORIGIN_TOPIC, REASON
from streams.idle import run_until_idle
from streams.keyvault import sealer_for
from streams.processing import current_view
from streams.producer import EventPublisher
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, DEAD_LETTERS, TOUCHPOINTS, create_topics
from streams.worker import ProcessingWorker

pytestmark = pytest.mark.broker


def publish_simulation(settings: Settings, customers: int, days: int = 200) -> int:
    with EventPublisher(settings, sealer_for(settings)) as publisher:
        for number, record in enumerate(simulator.generate(customers, days, seed=5)):
            publisher.submit(record, origin=f"sim:{number}")
    assert publisher.report.ok
    return publisher.report.published_total


def latest_records(settings: Settings) -> dict[str, ViewRecord | AliasRecord]:
    latest: dict[str, ViewRecord | AliasRecord] = {}
    for record in read_topic(settings, settings.topic(CUSTOMER_VIEWS)):
        decoded = decode_view_record(record.value, record.key)
        assert isinstance(decoded, ViewRecord | AliasRecord)
        latest[record.key.decode()] = decoded
    return latest


def latest_views(settings: Settings) -> dict[str, ViewRecord]:
    return {k: v for k, v in latest_records(settings).items() if isinstance(v, ViewRecord)}


def expected_from_the_log(
    settings: Settings,
) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """Rows and aliases computed directly over the log, without the worker: fold each
    customer, resolve identities over all claims, merge each component."""
    events = defaultdict(list)
    graph = IdentityGraph()
    for record in read_topic(settings, settings.topic(TOUCHPOINTS)):
        event = decode(record.value)
        events[event.customer_id].append(event)
        for claim in claims_of(event):
            graph.add(claim)
    merged: dict[str, CustomerFacts] = {}
    for customer, evs in events.items():
        canonical = graph.canonical(customer)
        state = fold(initial(customer), evs)
        merged[canonical] = merge(merged[canonical], state) if canonical in merged else state
    rows = {c: _row(current_view(state)) for c, state in merged.items()}
    return rows, {a.alias_id: a.canonical_id for a in graph.aliases().values()}


def _row(view: CustomerView) -> dict[str, object]:
    record = decode_view_record(encode_view_record(view))
    assert isinstance(record, ViewRecord)
    return record.row


def run_worker(settings: Settings) -> ProcessingWorker:
    worker = ProcessingWorker(settings)
    asyncio.run(run_until_idle(worker, timeout_s=240))
    return worker


def test_published_views_equal_the_fold_over_the_same_events(settings: Settings) -> None:
    create_topics(settings)
    published = publish_simulation(settings, customers=80)

    worker = run_worker(settings)

    assert worker.stats.applied == published
    records = latest_records(settings)
    rows, aliases = expected_from_the_log(settings)
    assert aliases, "the simulation has people under two ids"
    assert {k: v.canonical_id for k, v in records.items() if isinstance(v, AliasRecord)} == aliases
    views = {k: v.row for k, v in records.items() if isinstance(v, ViewRecord)}
    assert views.keys() == rows.keys()
    for customer, row in views.items():
        assert row == rows[customer], customer
    merged = [row for row in views.values() if row["aliases"]]
    assert merged and all(set(row["aliases"]) <= aliases.keys() for row in merged)


def test_a_second_run_applies_nothing_and_a_redelivered_event_changes_nothing(
    settings: Settings,
) -> None:
    create_topics(settings)
    publish_simulation(settings, customers=30, days=90)
    run_worker(settings)
    before = {k: v.row for k, v in latest_views(settings).items()}

    again = run_worker(settings)  # committed offsets: nothing to do
    assert again.stats.applied == 0

    # The same event produced twice (a producer retry): folded once.
    first = next(iter(read_topic(settings, settings.topic(TOUCHPOINTS), expected=1, only=0)))
    producer = kafka_clients.producer(settings)
    producer.send(settings.topic(TOUCHPOINTS), key=first.key, value=first.value).get(30)
    producer.close()
    third = run_worker(settings)
    assert third.stats.applied == 1
    after = {k: v.row for k, v in latest_views(settings).items()}
    assert after.keys() == before.keys()
    for k in after:
        diff = {f: (before[k][f], after[k][f]) for f in after[k] if after[k][f] != before[k][f]}
        assert not diff, (k, diff)


def test_bad_records_on_the_log_are_dead_lettered_with_their_source_and_the_worker_goes_on(
    settings: Settings,
) -> None:
    create_topics(settings)
    topic = settings.topic(TOUCHPOINTS)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers)
    producer.send(topic, key=b"C1", value=b'{"event_type": "purchase_completed"}', partition=0)
    producer.send(topic, key=b"C1", value=b"\xff not json", partition=0)
    producer.flush()
    producer.close()
    publish_simulation(settings, customers=5, days=30)

    worker = run_worker(settings)

    assert worker.stats.dead_lettered == 2
    letters = list(read_topic(settings, settings.topic(DEAD_LETTERS), expected=2))
    headers = [dict(letter.headers) for letter in letters]
    assert {h[ORIGIN_TOPIC].decode() for h in headers} == {topic}
    assert sorted(int(h[ORIGIN_OFFSET]) for h in headers) == [0, 1]
    assert any(b"schema_version" in h[REASON] for h in headers)
    assert letters[1].value == b"\xff not json"  # the original bytes
    assert len(latest_views(settings)) == 5
