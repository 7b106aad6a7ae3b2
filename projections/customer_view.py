"""The unified customer view: one profile per customer, from all touchpoints.

The fold is ``initial(customer_id)``, ``evolve(state, event) -> (state,
emitted)`` and ``merge(a, b)`` over ``CustomerFacts``, a join-semilattice
(projections.customer_facts): redelivery, order, batching and merging
customers never change the result. ``view(state, as_of)`` computes the
``CustomerView`` from the facts as of an event time (the stream watermark,
never the wall clock): a fact after ``as_of`` counts in no figure.
``view_row`` flattens a view into a ``customer_view`` table row described by
``VIEW_COLUMNS`` (projections.customer_view_table).

May import: schemas, projections, stdlib.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from projections.customer_facts import (
    TIMELINE_SIZE,
    CustomerFacts,
    IdentifierKey,
    initial,
    merge,
    micros,
    to_datetime,
)
from projections.customer_figures import (
    ComplaintFigures,
    OpenComplaint,
    PurchaseFigures,
    Satisfaction,
    complaint_figures,
    purchase_figures,
    satisfaction,
)
from projections.customer_fold import Emitted, ViewChanged, evolve, facts_of, fold
from projections.customer_view_table import VIEW_COLUMNS, view_row

__all__ = [
    "TIMELINE_SIZE",
    "VIEW_COLUMNS",
    "ComplaintFigures",
    "CustomerFacts",
    "CustomerView",
    "Emitted",
    "Identifiers",
    "OpenComplaint",
    "PurchaseFigures",
    "Satisfaction",
    "TimelineItem",
    "ViewChanged",
    "evolve",
    "facts_of",
    "fold",
    "initial",
    "merge",
    "view",
    "view_row",
]


@dataclass(frozen=True, slots=True)
class Identifiers:
    """Fingerprints (keyed hashes) of the customer's contact points; never clear text."""

    email: tuple[str, ...] = ()
    phone: tuple[str, ...] = ()
    card: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineItem:
    occurred_at: datetime
    event_type: str
    channel: str
    summary: str  # e.g. "purchase 45.99 EUR"
    event_id: UUID


@dataclass(frozen=True, slots=True)
class CustomerView:
    """One customer as of ``as_of`` (UTC). Counts are of distinct events.

    ``timeline`` is newest first. The state keeps only the newest N entries,
    so a view as of an earlier instant than the latest events may show fewer.
    """

    customer_id: str
    as_of: datetime
    aliases: tuple[str, ...]  # customer ids merged into this one
    linked_customer_ids: tuple[str, ...]  # ids named by identity links
    identifiers: Identifiers
    channels: tuple[str, ...]
    first_seen_at: datetime | None
    last_seen_at: datetime | None
    event_count: int
    counts_by_kind: Mapping[str, int]
    counts_by_channel: Mapping[str, int]
    purchases: PurchaseFigures
    complaints: ComplaintFigures
    satisfaction: Satisfaction
    referrals_made: int  # distinct customers referred
    referred_customer_ids: tuple[str, ...]
    timeline: tuple[TimelineItem, ...]


def view(state: CustomerFacts, as_of: datetime) -> CustomerView:
    """The customer's view from the facts that happened at or before ``as_of``."""
    cutoff = micros(as_of)
    times = []
    kinds: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    for touch in state.touches.values():
        if touch.at <= cutoff:
            times.append(touch.at)
            kinds[touch.kind] += 1
            channels[touch.channel] += 1
    known = _identifiers_until(state.identifiers, cutoff)
    referred = sorted({r.referred_customer_id for r in state.referrals.values() if r.at <= cutoff})
    return CustomerView(
        customer_id=state.customer_id,
        as_of=to_datetime(cutoff),
        aliases=tuple(sorted(state.aliases)),
        linked_customer_ids=known.get("customer_id", ()),
        identifiers=Identifiers(
            known.get("email", ()), known.get("phone", ()), known.get("card", ())
        ),
        channels=tuple(sorted(channels)),
        first_seen_at=to_datetime(min(times)) if times else None,
        last_seen_at=to_datetime(max(times)) if times else None,
        event_count=len(times),
        counts_by_kind=dict(sorted(kinds.items())),
        counts_by_channel=dict(sorted(channels.items())),
        purchases=purchase_figures(state.purchases.values(), cutoff),
        complaints=complaint_figures(state.filings, state.resolutions.values(), cutoff),
        satisfaction=satisfaction(state.surveys, cutoff),
        referrals_made=len(referred),
        referred_customer_ids=tuple(referred),
        timeline=_timeline_until(state, cutoff),
    )


def _identifiers_until(
    identifiers: Mapping[IdentifierKey, int], cutoff: int
) -> dict[str, tuple[str, ...]]:
    by_kind: dict[str, list[str]] = {}
    for (kind, value), first_seen in identifiers.items():
        if first_seen <= cutoff:
            by_kind.setdefault(kind, []).append(value)
    return {kind: tuple(sorted(values)) for kind, values in by_kind.items()}


def _timeline_until(state: CustomerFacts, cutoff: int) -> tuple[TimelineItem, ...]:
    return tuple(
        TimelineItem(to_datetime(e.at), e.kind, e.channel, e.summary, UUID(int=e.event_id))
        for e in reversed(state.timeline)
        if e.at <= cutoff
    )
