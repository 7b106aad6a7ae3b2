"""Value tiers through the real broker: the tiers the worker publishes equal a full
ranking of every canonical customer's value computed directly over the log."""

from __future__ import annotations

from collections import defaultdict

import pytest

from projections.customer_facts import CustomerFacts, initial, merge
from projections.customer_fold import fold
from projections.customer_value import customer_value
from projections.identity import IdentityGraph, claims_of
from projections.value_tiers import TierBook, ValueTierChanged
from schemas import decode
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import TOUCHPOINTS, VALUE_TIERS, create_topics
from tests.integration.test_worker import publish_simulation, run_worker

pytestmark = pytest.mark.broker


def test_published_tiers_equal_a_full_ranking_of_the_log(settings: Settings) -> None:
    create_topics(settings)
    publish_simulation(settings, customers=250, days=365)

    worker = run_worker(settings)
    again = run_worker(settings)

    events, graph = defaultdict(list), IdentityGraph()
    for record in read_topic(settings, settings.topic(TOUCHPOINTS)):
        event = decode(record.value)
        events[event.customer_id].append(event)
        for claim in claims_of(event):
            graph.add(claim)
    merged: dict[str, CustomerFacts] = {}
    for customer, evs in events.items():
        canonical, state = graph.canonical(customer), fold(initial(customer), evs)
        merged[canonical] = merge(merged[canonical], state) if canonical in merged else state
    values = {
        c: customer_value(f, settings.reporting_currency, settings.fx_rates)
        for c, f in merged.items()
    }
    expected = TierBook.from_values(values).tiers()

    current: dict[str, ValueTierChanged | None] = {}
    for record in read_topic(settings, settings.topic(VALUE_TIERS)):
        current[record.key.decode()] = (
            None if record.value is None else ValueTierChanged.from_json(record.value)
        )
    published = {c: ch.to_tier for c, ch in current.items() if ch is not None}
    assert worker.stats.tier_changes > 0 and again.stats.tier_changes == 0
    assert published == expected
    fresh = {c: ch.value_minor for c, ch in current.items() if ch is not None}
    assert fresh == values  # value kept current even where the tier did not change
    counts = {
        tier: sum(1 for t in published.values() if t == tier) for tier in set(published.values())
    }
    ranked = sum(1 for v in values.values() if v > 0)
    assert counts[next(t for t in published.values() if t.value == "vip")] == ranked // 100
