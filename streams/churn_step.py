"""Churn warnings on the worker: publish each customer's warning events as the facts grow
and as the partition's event-time watermark passes their due times.

Rides along with the loyalty step (streams/loyalty_step.py): both advance a
customer to the same ``until`` from the same ``emitted_through``, and the
partition's ``DueQueue`` holds the earlier of their two due times, so a
watermark advance touches only customers whose warning or stage may change.
The warning open as published is kept in the customer's state (``Tracked.
warning``), next to the offsets, so a restart or a replay continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from projections.churn import (
    CLEARED,
    ChurnRules,
    ChurnWarningEvent,
    Valuation,
    advance,
    due_at,
)
from projections.customer_facts import CustomerFacts, to_datetime
from streams.processing import Tracked


@dataclass(frozen=True, slots=True)
class Warned:
    tracked: Tracked
    events: tuple[ChurnWarningEvent, ...]
    due: datetime | None


def advance_warnings(
    tracked: Tracked, until: datetime, rules: ChurnRules, valuation: Valuation
) -> Warned:
    """The customer's warning events up to ``until`` (``tracked`` as before the loyalty step
    moved its ``emitted_through``)."""
    since = None if tracked.emitted_through is None else to_datetime(tracked.emitted_through)
    if since is not None and until < since:
        until = since
    progress = advance(tracked.facts, tracked.warning, since, until, rules, valuation)
    due = None if progress.due is None else to_datetime(progress.due)
    return Warned(replace(tracked, warning=progress.open), progress.events, due)


def warning_due(
    facts: CustomerFacts, at: datetime, rules: ChurnRules, valuation: Valuation
) -> datetime | None:
    """When time alone next changes the customer's warning after ``at`` (on restore)."""
    due = due_at(facts, at, rules, valuation)
    return None if due is None else to_datetime(due)


def merged_away(tracked: Tracked, into: str, at: datetime) -> ChurnWarningEvent | None:
    """The clear of an alias's open warning once its facts went to ``into``."""
    open_ = tracked.warning
    if open_ is None:
        return None
    return ChurnWarningEvent(
        CLEARED, tracked.facts.customer_id, open_.warning_id, at, open_.reasons, open_.severity,
        0.0, {}, 0, f"merged into {into}",
    )  # fmt: skip
