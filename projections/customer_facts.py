"""The state behind the unified customer view: a join-semilattice of facts.

``CustomerFacts`` holds what happened to one customer, never a running
figure. Each field is a set of facts, or a map whose merge is a union that
settles a key held on both sides by a fixed, symmetric rule. So ``merge`` is
commutative, associative and idempotent, and events folded in any order, in
any batches, any number of times, give equal states.

No counter or sum is stored, because a sum can't be merged: two states that
both saw event E would count it twice. Counts and sums are computed by
``projections.customer_view.view`` from the facts, which are keyed by event
id (or by complaint id or identifier), so a union holds each fact once.

Copy-on-write: a map is never mutated once it is in a state (fields are typed
``Mapping``). Times are integer microseconds since the Unix epoch (UTC):
compact, ordered, and not tied to the offset the event was written in.

May import: stdlib only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypedDict, TypeVar

TIMELINE_SIZE = 20
DAY = 86_400_000_000  # microseconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NONE: Mapping[Any, Any] = {}  # the empty map, shared: never mutated


class Touch(NamedTuple):
    """Any event: when, what kind, on which channel."""

    at: int
    kind: str
    channel: str


class Purchase(NamedTuple):
    at: int
    amount_minor: int
    currency: str


class Filing(NamedTuple):
    """A complaint as first filed (held by complaint id)."""

    at: int
    event_id: int
    category: str
    severity: str
    promised_by: int | None


class Resolution(NamedTuple):
    at: int
    complaint_id: str
    accepted: bool | None


class Survey(NamedTuple):
    at: int
    score: int
    scale_min: int
    scale_max: int


class Referral(NamedTuple):
    at: int
    referred_customer_id: str


class Call(NamedTuple):
    """A call with the customer: inbound or outbound, what about, how it ended."""

    at: int
    direction: str
    reason: str
    outcome: str


class Entry(NamedTuple):
    """One line of the timeline; entries sort by (at, event_id)."""

    at: int
    event_id: int
    kind: str
    channel: str
    summary: str


# (kind, value): kind is email, phone or card (value: fingerprint) or customer_id.
IdentifierKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """Everything the view needs about one customer, as mergeable facts.

    ``touches`` has one entry per distinct event: its keys (event ids as
    128-bit ints) are the seen ids that make redelivery a no-op.
    """

    customer_id: str
    aliases: frozenset[str] = frozenset()  # ids of states merged into this one
    touches: Mapping[int, Touch] = field(default_factory=dict)
    purchases: Mapping[int, Purchase] = field(default_factory=dict)
    filings: Mapping[str, Filing] = field(default_factory=dict)  # by complaint id
    resolutions: Mapping[int, Resolution] = field(default_factory=dict)
    surveys: Mapping[int, Survey] = field(default_factory=dict)
    referrals: Mapping[int, Referral] = field(default_factory=dict)
    calls: Mapping[int, Call] = field(default_factory=dict)
    identifiers: Mapping[IdentifierKey, int] = field(default_factory=dict)  # -> first seen
    timeline: tuple[Entry, ...] = ()  # the newest ``timeline_size`` entries, ascending
    timeline_size: int = TIMELINE_SIZE


def initial(customer_id: str, timeline_size: int = TIMELINE_SIZE) -> CustomerFacts:
    """The state of a customer nothing is known about yet."""
    if timeline_size < 0:
        raise ValueError("timeline_size must not be negative")
    return CustomerFacts(customer_id, timeline_size=timeline_size)


def merge(a: CustomerFacts, b: CustomerFacts) -> CustomerFacts:
    """The union of two states' facts (commutative, associative, idempotent).

    Merging two customers (identity resolution) keeps the smallest id as
    ``customer_id`` and the others as ``aliases``. Returns ``a`` itself when
    ``b`` adds nothing, so callers can tell "unchanged" by identity.
    """
    ids = a.aliases | b.aliases | {a.customer_id, b.customer_id}
    customer_id = min(ids)
    aliases = ids - {customer_id}
    size = min(a.timeline_size, b.timeline_size)
    joined = CustomerFacts(
        customer_id=customer_id,
        aliases=a.aliases if aliases == a.aliases else aliases,
        touches=_join(a.touches, b.touches, _larger),
        purchases=_join(a.purchases, b.purchases, _larger),
        filings=_join(a.filings, b.filings, _smaller),  # a complaint's first filing counts
        resolutions=_join(a.resolutions, b.resolutions, _larger),
        surveys=_join(a.surveys, b.surveys, _larger),
        referrals=_join(a.referrals, b.referrals, _larger),
        calls=_join(a.calls, b.calls, _larger),
        identifiers=_join(a.identifiers, b.identifiers, min),
        timeline=_join_timeline(a.timeline, b.timeline, size),
        timeline_size=size,
    )
    return a if _same(joined, a) else joined


class EventFacts(TypedDict, total=False):
    """What one event adds beyond its touch and timeline entry (one or two maps)."""

    purchases: Mapping[int, Purchase]
    filings: Mapping[str, Filing]
    resolutions: Mapping[int, Resolution]
    surveys: Mapping[int, Survey]
    referrals: Mapping[int, Referral]
    calls: Mapping[int, Call]
    identifiers: Mapping[IdentifierKey, int]


def add_event(
    state: CustomerFacts, event_id: int, touch: Touch, entry: Entry, facts: EventFacts
) -> CustomerFacts:
    """``merge`` of ``state`` with the facts of one event it has not seen (a fast path).

    Only the maps the event touches are copied: ``touches``, and the one or two
    in ``facts``; the rest are shared with ``state``.
    """
    if event_id in state.touches:
        raise ValueError("add_event is for unseen events; merge joins the others")
    touches = dict(state.touches)
    touches[event_id] = touch
    return CustomerFacts(
        customer_id=state.customer_id,
        aliases=state.aliases,
        touches=touches,
        purchases=_join(state.purchases, facts.get("purchases", _NONE), _larger),
        filings=_join(state.filings, facts.get("filings", _NONE), _smaller),
        resolutions=_join(state.resolutions, facts.get("resolutions", _NONE), _larger),
        surveys=_join(state.surveys, facts.get("surveys", _NONE), _larger),
        referrals=_join(state.referrals, facts.get("referrals", _NONE), _larger),
        calls=_join(state.calls, facts.get("calls", _NONE), _larger),
        identifiers=_join(state.identifiers, facts.get("identifiers", _NONE), min),
        timeline=_join_timeline(state.timeline, (entry,), state.timeline_size),
        timeline_size=state.timeline_size,
    )


def micros(when: datetime) -> int:
    """``when`` (timezone-aware) as microseconds since the Unix epoch."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got {when!r}")
    return (when - _EPOCH) // _MICROSECOND


def to_datetime(at: int) -> datetime:
    """The UTC datetime of a microsecond timestamp."""
    return _EPOCH + timedelta(microseconds=at)


def _same(x: CustomerFacts, y: CustomerFacts) -> bool:
    return x.customer_id == y.customer_id and all(
        getattr(x, name) is getattr(y, name) for name in _SHARED_FIELDS
    )


_SHARED_FIELDS = tuple(name for name in CustomerFacts.__slots__ if name != "customer_id")

K = TypeVar("K")
V = TypeVar("V")


def _join(a: Mapping[K, V], b: Mapping[K, V], pick: Callable[[V, V], V]) -> Mapping[K, V]:
    """Union of two maps; ``pick`` (symmetric) settles a key whose values differ.

    Copies the larger map once, and only when the smaller adds something.
    """
    if len(a) < len(b):
        a, b = b, a
    out: dict[K, V] | None = None
    for key, value in b.items():
        held = a.get(key)
        if held is not None and (held == value or pick(held, value) is held):
            continue
        if out is None:
            out = dict(a)
        out[key] = value
    return a if out is None else out


def _larger(x: V, y: V) -> V:
    # Two different events under one event id break the contract (a redelivery
    # is the same event); picking by a total order keeps merge symmetric anyway.
    return max(x, y, key=_total_order)


def _smaller(x: V, y: V) -> V:
    return min(x, y, key=_total_order)


def _total_order(value: Any) -> tuple[tuple[bool, Any], ...]:
    # None sorts first; the NamedTuple fields are scalars of one type each.
    return tuple((part is not None, part if part is not None else 0) for part in value)


def _join_timeline(a: tuple[Entry, ...], b: tuple[Entry, ...], size: int) -> tuple[Entry, ...]:
    """The newest ``size`` entries of the union of two ascending timelines."""
    if len(a) < len(b):
        a, b = b, a
    if len(a) > size or len(b) > 1:
        union = sorted(set(a) | set(b))
        joined = tuple(union[max(0, len(union) - size) :])
        return a if joined == a else joined
    if not b or (len(a) == size and (size == 0 or b[0] <= a[0])):
        return a  # nothing new, or older than every entry kept (or the oldest itself)
    i = bisect_left(a, b[0])  # evolve's case: one new entry into a sorted tuple
    if i < len(a) and a[i] == b[0]:
        return a
    joined = (*a[:i], b[0], *a[i:])
    return joined[len(joined) - size :] if len(joined) > size else joined
