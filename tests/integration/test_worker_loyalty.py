"""Loyalty stage changes through the real broker: the worker publishes exactly the
changes the ladder gives over each customer's facts, including time-driven ones, and
a restart publishes nothing again."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from projections.customer_facts import CustomerFacts, initial
from projections.customer_fold import fold
from projections.identity import IdentityGraph, claims_of
from projections.loyalty import LoyaltyStageChanged, transitions
from schemas import TouchpointEvent, decode
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import LOYALTY_CHANGES, LOYALTY_STAGES, TOUCHPOINTS, create_topics
from tests.integration.test_worker import publish_simulation, run_worker

pytestmark = pytest.mark.broker


def published_changes(settings: Settings) -> dict[str, list[LoyaltyStageChanged]]:
    changes: dict[str, list[LoyaltyStageChanged]] = defaultdict(list)
    for record in read_topic(settings, settings.topic(LOYALTY_CHANGES)):
        changes[record.key.decode()].append(LoyaltyStageChanged.from_json(record.value))
    return changes


@dataclass
class TheLog:
    """The event log read back: each customer's events and the instant just before their
    partition's latest event time (the worker's watermark), and the ids identity
    resolution merged (either side)."""

    events: dict[str, list[TouchpointEvent]]
    until: dict[str, datetime]
    merged: set[str]

    def unmerged(self) -> dict[str, tuple[CustomerFacts, datetime]]:
        """Each unmerged customer's facts folded from the log, and their ``until``."""
        return {
            customer: (fold(initial(customer), events), self.until[customer])
            for customer, events in self.events.items()
            if customer not in self.merged
        }


def read_the_log(settings: Settings) -> TheLog:
    events: dict[str, list[TouchpointEvent]] = defaultdict(list)
    partition_of: dict[str, int] = {}
    latest: dict[int, datetime] = {}
    graph = IdentityGraph()
    for record in read_topic(settings, settings.topic(TOUCHPOINTS)):
        event = decode(record.value)
        events[event.customer_id].append(event)
        partition_of[event.customer_id] = record.partition
        latest[record.partition] = max(
            latest.get(record.partition, event.occurred_at), event.occurred_at
        )
        for claim in claims_of(event):
            graph.add(claim)
    merged = {a.alias_id for a in graph.aliases().values()} | {
        a.canonical_id for a in graph.aliases().values()
    }
    until = {c: latest[p] - timedelta(microseconds=1) for c, p in partition_of.items()}
    return TheLog(dict(events), until, merged)


def expected_changes(
    settings: Settings,
) -> tuple[dict[str, tuple[LoyaltyStageChanged, ...]], set[str]]:
    """Per unmerged customer, the ladder's changes up to the worker's watermark, computed
    directly over the log."""
    log = read_the_log(settings)
    expected = {
        customer: transitions(facts, None, until)
        for customer, (facts, until) in log.unmerged().items()
    }
    return expected, log.merged


def test_stage_changes_equal_the_ladder_over_the_log_and_are_not_repeated(
    settings: Settings,
) -> None:
    create_topics(settings)
    publish_simulation(settings, customers=60, days=365)

    first = run_worker(settings)
    again = run_worker(settings)

    published = published_changes(settings)
    expected, merged = expected_changes(settings)
    assert first.stats.stage_changes == sum(len(c) for c in published.values())
    assert again.stats.stage_changes == 0
    for customer, changes in expected.items():
        assert tuple(published.get(customer, ())) == changes, customer
    time_driven = [c for cs in expected.values() for c in cs if c.trigger_event_id is None]
    assert any(c.to_stage.value in ("at_risk", "lapsed") for c in time_driven)
    current = {}
    for record in read_topic(settings, settings.topic(LOYALTY_STAGES)):
        current[record.key.decode()] = record.value
    for customer, changes in expected.items():
        if changes:
            assert LoyaltyStageChanged.from_json(current[customer]) == changes[-1]
    aliases = {c for c in merged if current.get(c, b"") is None}
    assert aliases, "merged-away customers get a tombstone"
