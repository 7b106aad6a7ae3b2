"""Producing and consuming through the real broker: topics, keys, validation, dead letters."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from schemas import decode
from streams.deadletter import ERRORS, ORIGIN, REASON
from streams.keyvault import sealer_for
from streams.producer import EventPublisher
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, LAYOUT, TOUCHPOINTS, create_topics

pytestmark = pytest.mark.broker

T0 = "2025-03-01T10:00:00+00:00"


def purchase(n: int, customer: str, amount: int = 1250) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "event_type": "purchase_completed",
        "schema_version": 1,
        "customer_id": customer,
        "occurred_at": T0,
        "recorded_at": T0,
        "channel": "store",
        "source": "pos",
        "order_id": f"O{n}",
        "amount_minor": amount,
        "currency": "EUR",
    }


def test_topics_are_created_once_with_the_requested_partitions(settings: Settings) -> None:
    first = create_topics(settings, partitions=2)
    second = create_topics(settings, partitions=5)

    assert [r.name for r in first] == [settings.topic(spec.name) for spec in LAYOUT]
    assert all(r.created for r in first)
    assert not any(r.created for r in second)
    fixed = {settings.topic(spec.name): spec.partitions for spec in LAYOUT if spec.partitions}
    assert fixed == {
        settings.topic(name): 1
        for name in ("identity-claims", "customer-values", "touchpoints-dlq-redriven")
    }
    assert {r.partitions for r in second if r.name not in fixed} == {2}  # left as they are
    assert all(r.partitions == fixed[r.name] for r in second if r.name in fixed)


def test_valid_events_are_published_keyed_by_customer_and_bad_ones_dead_lettered(
    settings: Settings,
) -> None:
    create_topics(settings)
    customers = [f"C{i}" for i in range(12)]
    good = [purchase(n, customers[n % 12]) for n in range(60)]
    bad_amount = purchase(99, "C1", amount=-1)
    with EventPublisher(settings, sealer_for(settings)) as publisher:
        for n, record in enumerate(good):
            publisher.submit(json.dumps(record), origin=f"test:{n}")
        publisher.submit(json.dumps(bad_amount), origin="test:bad-amount")
        publisher.submit(b"{not json", origin="test:not-json")

    report = publisher.report
    assert report.published == {"purchase_completed": 60}
    assert [r.origin for r in report.rejected] == ["test:bad-amount", "test:not-json"]
    assert report.dead_lettered == 2

    partitions_of: dict[str, set[int]] = defaultdict(set)
    ids = set()
    for record in read_topic(settings, settings.topic(TOUCHPOINTS), expected=60):
        event = decode(record.value)
        assert record.key == event.customer_id.encode()
        assert dict(record.headers)["event_type"] == b"purchase_completed"
        partitions_of[event.customer_id].add(record.partition)
        ids.add(str(event.event_id))
    assert ids == {r["event_id"] for r in good}
    assert all(len(p) == 1 for p in partitions_of.values())  # one customer, one partition

    letters = list(read_topic(settings, settings.topic(DEAD_LETTERS), expected=2))
    by_origin = {dict(r.headers)[ORIGIN].decode(): r for r in letters}
    amount_letter = by_origin["test:bad-amount"]
    assert json.loads(dict(amount_letter.headers)[ERRORS])[0]["field"] == "amount_minor"
    assert json.loads(amount_letter.value)["order_id"] == "O99"  # the record itself is kept
    assert b"not valid JSON" in dict(by_origin["test:not-json"].headers)[REASON]
    assert by_origin["test:not-json"].value == b"{not json"


def test_clear_text_personal_data_never_reaches_the_log(settings: Settings) -> None:
    create_topics(settings)
    registration = {
        **purchase(1, "C7"),
        "event_type": "customer_registered",
        "name": "Mei Lin",
        "email": "Mei.Lin@example.com",
    }
    for field in ("order_id", "amount_minor", "currency"):
        del registration[field]
    sealer = sealer_for(settings)
    with EventPublisher(settings, sealer) as publisher:
        publisher.submit(registration, origin="test")
    assert publisher.report.published_total == 1

    (record,) = read_topic(settings, settings.topic(TOUCHPOINTS), expected=1)
    assert b"Mei" not in record.value and b"example.com" not in record.value
    event = decode(record.value)
    assert event.event_type == "customer_registered"
    assert sealer.open("C7", event.email) == "Mei.Lin@example.com"
