"""Loyalty stages on the worker: publish each customer's stage changes as the facts
grow and as the partition's event-time watermark passes their due times.

A customer's state remembers the event time through which its changes were
published (``emitted_through``) and the stage it ended at. Advancing it to
``until`` publishes a correction if late events changed the past, then every
change in ``(emitted_through, until]`` (projections/loyalty.py), and returns
the next due time for the customer's ``DueQueue`` entry: no scan of every
customer on a tick, and a replay publishes the same changes at the same
event times.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from projections.customer_facts import micros, to_datetime
from projections.loyalty import (
    DEFAULT_RULES,
    LoyaltyRules,
    LoyaltyStageChanged,
    Stage,
    correction,
    due_at,
    transitions,
)
from streams.processing import Tracked


@dataclass(frozen=True, slots=True)
class Advanced:
    tracked: Tracked
    changes: tuple[LoyaltyStageChanged, ...]
    due: datetime | None


def advance(tracked: Tracked, until: datetime, rules: LoyaltyRules = DEFAULT_RULES) -> Advanced:
    """Publishable stage changes of a (canonical) customer up to ``until``."""
    facts, changes = tracked.facts, []
    since = None if tracked.emitted_through is None else to_datetime(tracked.emitted_through)
    stage = None if tracked.stage is None else Stage(tracked.stage)
    if since is not None:
        fix = correction(facts, stage, since, rules)
        if fix is not None:
            # One microsecond after the last instant emitted: a change published at that
            # instant keeps its (customer_id, occurred_at) key in the read model.
            changes.append(replace(fix, occurred_at=fix.occurred_at + timedelta(microseconds=1)))
    if since is None or until > since:
        changes.extend(transitions(facts, since, until, rules))
        since = until
    if changes:
        stage = changes[-1].to_stage
    progressed = replace(
        tracked,
        emitted_through=micros(since) if since is not None else None,
        stage=None if stage is None else stage.value,
    )
    return Advanced(progressed, tuple(changes), due_at(facts, since, rules) if since else None)
