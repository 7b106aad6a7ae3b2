"""The customer pyramid: global value ranks and tiers, kept current incrementally.

Tiers by value rank (DOMAIN.md "Value tiers"; DOMAIN-DETAIL.md §4, value
pyramid [001]): the top 1% of customers are ``vip``, the next 4% ``key``, the
next 15% ``regular`` and the remaining 80% ``small``. One resolver (a
single-partition consumer, so ranks are global across the log's partitions)
feeds a ``TierBook`` with ``(customer_id, value_minor)``: the customer's latest
value, in one reporting currency. The book answers exactly (no approximation):

- **Rank.** Customers with a value above 0 are *ranked*: rank 1 is the highest
  value, ties go to the smaller customer id (plain ``str`` order), so ranks
  depend only on the set of (customer, value) pairs. ``n`` (the population)
  counts ranked customers only.
- **Unranked.** A customer with value 0 (or below) has no rank, doesn't count
  in ``n`` and is always ``small``: prospects who never bought don't push
  anyone up the pyramid, and can't be promoted above someone who bought.
- **Rounding.** Rank ``r`` is in the top share ``s`` iff ``r / n <= s``, i.e.
  ``r <= floor(s * n)`` with ``s`` taken exactly as written (0.01 is 1/100, not
  the nearest double). So the first ``floor(0.01 n)`` ranks are ``vip``, the
  ranks up to ``floor(0.05 n)`` ``key``, up to ``floor(0.20 n)`` ``regular``,
  the rest ``small``. A tier (cumulatively) never exceeds its share and falls
  short of it by less than one customer: 100 customers give 1 / 4 / 15 / 80;
  below 100 there is no vip, below 20 no key, below 5 no regular.

``TierBook.update`` returns the ``ValueTierChanged`` events the update causes:
the customer's own change and those of the customers pushed across a tier
boundary because ``n`` grew or shrank or ranks shifted. Every other customer's
rank moves by at most one and every boundary by at most one, so only the two
ranks either side of a boundary can change tier, and only for a boundary that
moved or that the shifted ranks reach: an update costs O(log n) (sorted list
operations plus at most six positional look-ups), never a re-rank, and is fine
for millions of customers.

Order: the *sequence* of changes emitted depends on the order of the updates
(a customer may be promoted and demoted again on the way); the state after the
updates does not: ``tiers()``, ``rank_of``, ``summary()`` and ``pareto_share``
are functions of the latest value per customer alone, and applying the
emitted changes in order to a dict (``to_tier`` None: delete) reproduces
``tiers()``. A replay of the same updates in the same order emits the same
changes.

Pure: no I/O, no clock. May import: projections, schemas, stdlib, sortedcontainers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any, TypeVar, cast

from sortedcontainers import SortedList

__all__ = [
    "DEFAULT_RULES",
    "TIERS",
    "Tier",
    "TierBook",
    "TierRules",
    "TierShare",
    "TierSummary",
    "ValueTierChanged",
]

RECORD_TYPE = "value_tier_changed"
RECORD_VERSION = 1
_T = TypeVar("_T")


class Tier(StrEnum):
    VIP = "vip"
    KEY = "key"
    REGULAR = "regular"
    SMALL = "small"


TIERS = (Tier.VIP, Tier.KEY, Tier.REGULAR, Tier.SMALL)  # top of the pyramid first


def _exact(share: float) -> Fraction:
    """``share`` as the fraction its text spells (0.01 -> 1/100, not the nearest double)."""
    return Fraction(str(share)) if isinstance(share, float) else Fraction(share)


@dataclass(frozen=True, slots=True)
class TierRules:
    """Cumulative shares of the ranked customers at the top of each tier.

    Source: DOMAIN.md "Value tiers" and DOMAIN-DETAIL.md §4 (value pyramid
    [001]: VIP 1%, major 4%, ordinary 15%, small the remaining 80%). The
    shares are cumulative: ``key_share`` = 0.05 means vip and key together are
    the top 5%. ``small`` is everything below ``regular_share``.
    """

    vip_share: float = 0.01  # top 1% (VIP)
    key_share: float = 0.05  # top 5% = VIP 1% + key 4% (major customers)
    regular_share: float = 0.20  # top 20% = ... + regular 15% (ordinary); the 80/20 cut

    def __post_init__(self) -> None:
        if not 0 <= self.vip_share <= self.key_share <= self.regular_share <= 1:
            raise ValueError("need 0 <= vip_share <= key_share <= regular_share <= 1")

    @property
    def shares(self) -> tuple[float, float, float]:
        return (self.vip_share, self.key_share, self.regular_share)

    def cutoffs(self, population: int) -> tuple[int, int, int]:
        """The last rank of vip, key and regular among ``population`` ranked customers:
        ``floor(share * population)`` each (0: the tier is empty)."""
        return cast(
            "tuple[int, int, int]",
            tuple((_exact(s) * population).__floor__() for s in self.shares),
        )

    def tier_at(self, rank: int, population: int) -> Tier:
        """The tier of rank ``rank`` (1 = highest value) among ``population``."""
        if not 1 <= rank <= population:
            raise ValueError(f"rank {rank} outside 1..{population}")
        for tier, last in zip(TIERS, self.cutoffs(population), strict=False):
            if rank <= last:
                return tier
        return Tier.SMALL


DEFAULT_RULES = TierRules()


@dataclass(frozen=True, slots=True)
class ValueTierChanged:
    """The customer's value tier changed (published keyed by customer id).

    ``from_tier`` is None when the customer is new to the book; ``to_tier`` is
    None when the customer left it (``TierBook.remove``: an identity merge made
    the id an alias), like a tombstone. ``value_minor``, ``rank`` (None:
    unranked, value <= 0, or removed) and ``population`` (ranked customers)
    are as of the change.
    """

    customer_id: str
    from_tier: Tier | None
    to_tier: Tier | None
    value_minor: int
    rank: int | None
    population: int

    def to_dict(self) -> dict[str, object]:
        return {
            "type": RECORD_TYPE,
            "version": RECORD_VERSION,
            "customer_id": self.customer_id,
            "from_tier": None if self.from_tier is None else self.from_tier.value,
            "to_tier": None if self.to_tier is None else self.to_tier.value,
            "value_minor": self.value_minor,
            "rank": self.rank,
            "population": self.population,
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON of ``to_dict()`` (the value to publish, keyed by customer id)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes | str) -> ValueTierChanged:
        """The change in ``value`` (raises ValueError, KeyError or TypeError if malformed)."""
        body = json.loads(value)
        if body.get("type") != RECORD_TYPE or body.get("version") != RECORD_VERSION:
            raise ValueError(f"not a {RECORD_TYPE} v{RECORD_VERSION} record")
        previous, now, rank = body["from_tier"], body["to_tier"], body["rank"]
        return cls(
            customer_id=_typed(body["customer_id"], str),
            from_tier=None if previous is None else Tier(previous),
            to_tier=None if now is None else Tier(now),
            value_minor=_typed(body["value_minor"], int),
            rank=None if rank is None else _typed(rank, int),
            population=_typed(body["population"], int),
        )


def _typed(value: object, kind: type[_T]) -> _T:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class TierShare:
    """One tier of the pyramid: its customers and the value they hold.

    ``customers`` includes, for ``small``, the unranked customers (value <= 0);
    ``customer_share`` is of every customer in the book, ``value_share`` of the
    total value (values <= 0 count as 0).
    """

    tier: Tier
    customers: int
    value_minor: int
    customer_share: float
    value_share: float


@dataclass(frozen=True, slots=True)
class TierSummary:
    """The pyramid: ``population`` ranked customers plus ``unranked`` ones (value <= 0)."""

    population: int
    unranked: int
    total_value_minor: int
    pareto_share: float  # share of value held by the top regular_share (the 80/20 check)
    tiers: tuple[TierShare, ...]  # vip, key, regular, small


# A ranked customer's place in the order, as one string: the value's complement to
# _CEILING in 20 digits, then the id. Ascending string order is rank order (high value
# first, then the smaller id), and a string compares 2-3 times faster than a tuple.
_CEILING = 10**20
_WIDTH = 20


def _key(value: int, customer_id: str) -> str:
    return f"{_CEILING - value:020d}{customer_id}"


def _value(key: str) -> int:
    return _CEILING - int(key[:_WIDTH])


class TierBook:
    """Every customer's value, rank and tier, kept current one update at a time.

    Mutable inside; everything observable is a function of the latest value
    per customer (see the module docstring). Memory: a few hundred bytes per
    customer.
    """

    def __init__(self, rules: TierRules = DEFAULT_RULES) -> None:
        self.rules = rules
        self._ratios = tuple(_exact(s).as_integer_ratio() for s in rules.shares)
        self._values: dict[str, int] = {}
        self._tiers: dict[str, Tier] = {}
        self._order: Any = SortedList()  # _key() of every ranked customer
        self._tier_value: dict[Tier, int] = dict.fromkeys(TIERS, 0)  # of ranked customers
        self._total = 0  # value of the ranked customers
        self._unranked = 0

    @classmethod
    def from_values(
        cls,
        values: Mapping[str, int] | Iterable[tuple[str, int]],
        rules: TierRules = DEFAULT_RULES,
    ) -> TierBook:
        """A book holding ``values`` (later pairs win), built in O(n log n) without
        emitting changes: for a restore, or to start from a known population."""
        book = cls(rules)
        latest = dict(values.items() if isinstance(values, Mapping) else values)
        book._values = latest
        for value in latest.values():
            _check(value)
        keys = sorted(_key(v, c) for c, v in latest.items() if v > 0)
        book._order = SortedList(keys)
        cut = book._cutoffs(len(keys))
        for position, key in enumerate(keys):
            customer, tier = key[_WIDTH:], _tier(position, cut)
            book._tiers[customer] = tier
            book._tier_value[tier] += latest[customer]
        book._total = sum(book._tier_value.values())
        for customer, value in latest.items():
            if value <= 0:
                book._tiers[customer] = Tier.SMALL
                book._unranked += 1
        return book

    # -- changes ---------------------------------------------------------------

    def update(self, customer_id: str, value_minor: int) -> tuple[ValueTierChanged, ...]:
        """Set the customer's value; the tier changes this causes (own first, then by rank)."""
        _check(value_minor)
        old = self._values.get(customer_id)
        if old == value_minor:
            return ()
        order = self._order
        before = len(order)
        was = self._tiers.get(customer_id)
        left = None
        if old is not None:
            if old > 0:
                left = self._drop(customer_id, old, cast(Tier, was))
            else:
                self._unranked -= 1
        self._values[customer_id] = value_minor
        at = None
        if value_minor > 0:
            key = _key(value_minor, customer_id)
            order.add(key)
            at = int(order.bisect_left(key))
        else:
            self._unranked += 1
        n = len(order)
        now = Tier.SMALL if at is None else _tier(at, self._cutoffs(n))
        if at is not None:
            self._tier_value[now] += value_minor
            self._total += value_minor
        self._tiers[customer_id] = now
        changes = []
        if now != was:
            rank = None if at is None else at + 1
            changes.append(ValueTierChanged(customer_id, was, now, value_minor, rank, n))
        shifted = _shifted(left, at, n)
        changes.extend(self._settle(before, shifted, skip=at))
        return tuple(changes)

    def remove(self, customer_id: str) -> tuple[ValueTierChanged, ...]:
        """Take the customer out of the book (an identity merge made the id an alias):
        a change to None for them, then the boundary changes of the others."""
        old = self._values.pop(customer_id, None)
        if old is None:
            return ()
        before = len(self._order)
        was = self._tiers.pop(customer_id)
        left = None
        if old > 0:
            left = self._drop(customer_id, old, was)
        else:
            self._unranked -= 1
        n = len(self._order)
        changes = [ValueTierChanged(customer_id, was, None, old, None, n)]
        changes.extend(self._settle(before, _shifted(left, None, n), skip=None))
        return tuple(changes)

    def _drop(self, customer_id: str, value: int, tier: Tier) -> int:
        """Take a ranked customer out of the order; their former position."""
        position = int(self._order.bisect_left(_key(value, customer_id)))
        del self._order[position]
        self._tier_value[tier] -= value
        self._total -= value
        return position

    def _settle(
        self, before: int, shifted: tuple[int, int], skip: int | None
    ) -> list[ValueTierChanged]:
        """Re-tier the customers who may have crossed a boundary.

        Every customer other than the updated one moved by at most one position
        (those in ``shifted``, new positions, inclusive), and every cutoff k (the
        first 0-based position below the boundary) by at most one, in step: n
        grows by one only when a customer comes in above some (who move down
        one) and k may grow by one; it shrinks only when one leaves; a move
        keeps n and k. In each case a customer who crossed the boundary is now
        at k - 1 (moved up) or k (moved down), so those two positions per
        boundary are all there is to look at.
        """
        order = self._order
        n = len(order)
        old_cut, cut = self._cutoffs(before), self._cutoffs(n)
        low, high = shifted
        positions: set[int] = set()
        for was_k, k in zip(old_cut, cut, strict=True):
            first, last = max(k - 1, 0), min(k, n - 1)
            if was_k != k or (low <= high and first <= high and low <= last):
                positions.update(range(first, last + 1))
        if skip is not None:
            positions.discard(skip)
        changes = []
        for position in sorted(positions):
            key = order[position]
            customer = key[_WIDTH:]
            now, was = _tier(position, cut), self._tiers[customer]
            if now != was:
                value = _value(key)
                self._tiers[customer] = now
                self._tier_value[was] -= value
                self._tier_value[now] += value
                changes.append(ValueTierChanged(customer, was, now, value, position + 1, n))
        return changes

    def _cutoffs(self, n: int) -> tuple[int, int, int]:
        (a, b), (c, d), (e, f) = self._ratios
        return (a * n // b, c * n // d, e * n // f)

    # -- reading ----------------------------------------------------------------

    def __len__(self) -> int:
        """Customers in the book, ranked or not."""
        return len(self._values)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._values

    @property
    def population(self) -> int:
        """Ranked customers (value > 0): the n the shares apply to."""
        return len(self._order)

    def value_of(self, customer_id: str) -> int | None:
        return self._values.get(customer_id)

    def tier_of(self, customer_id: str) -> Tier | None:
        """The customer's tier (None: not in the book)."""
        return self._tiers.get(customer_id)

    def rank_of(self, customer_id: str) -> int | None:
        """1 = highest value; None when not in the book or unranked (value <= 0). O(log n)."""
        value = self._values.get(customer_id)
        if value is None or value <= 0:
            return None
        return int(self._order.bisect_left(_key(value, customer_id))) + 1

    def tiers(self) -> dict[str, Tier]:
        """Every customer's tier (a copy)."""
        return dict(self._tiers)

    def pareto_share(self, top: float | None = None) -> float:
        """Share of the total value held by the top ``top`` of the ranked customers
        (default ``rules.regular_share``, 0.20: the 80/20 check), i.e. by ranks
        ``1 .. floor(top * n)``; 0.0 with no value at all.

        O(1) when ``floor(top * n)`` is a tier cutoff (running sums per tier),
        otherwise O(distance to the nearest cutoff).
        """
        share = self.rules.regular_share if top is None else top
        if not 0 <= share <= 1:
            raise ValueError("top must be within 0..1")
        n = len(self._order)
        if self._total <= 0:
            return 0.0
        m = (_exact(share) * n).__floor__()
        anchors, held = [(0, 0)], 0
        for tier, cut in zip(TIERS, self._cutoffs(n), strict=False):
            held += self._tier_value[tier]
            anchors.append((cut, held))
        anchors.append((n, self._total))
        at, held = min(anchors, key=lambda anchor: abs(anchor[0] - m))
        if at < m:
            held += sum(map(_value, self._order.islice(at, m)))
        elif at > m:
            held -= sum(map(_value, self._order.islice(m, at)))
        return held / self._total

    def summary(self) -> TierSummary:
        """Per tier: customers, value and shares; plus the 80/20 check."""
        n, everyone = len(self._order), len(self._values)
        vip, key, regular = self._cutoffs(n)
        counts = (vip, key - vip, regular - key, n - regular + self._unranked)
        rows = tuple(
            TierShare(
                tier=tier,
                customers=count,
                value_minor=self._tier_value[tier],
                customer_share=count / everyone if everyone else 0.0,
                value_share=self._tier_value[tier] / self._total if self._total > 0 else 0.0,
            )
            for tier, count in zip(TIERS, counts, strict=True)
        )
        return TierSummary(n, self._unranked, self._total, self.pareto_share(), rows)


def _tier(position: int, cut: tuple[int, int, int]) -> Tier:
    """The tier at 0-based ``position`` given the cutoffs (last ranks of vip, key, regular)."""
    if position < cut[2]:
        if position < cut[1]:
            return Tier.VIP if position < cut[0] else Tier.KEY
        return Tier.REGULAR
    return Tier.SMALL


def _check(value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"value_minor must be an int, got {value!r}")
    if value >= _CEILING:
        raise ValueError(f"value_minor {value} is implausibly large (limit 10**20 - 1)")


def _shifted(left: int | None, at: int | None, n: int) -> tuple[int, int]:
    """New positions (inclusive; empty when low > high) of the customers who moved by one
    when one customer left position ``left`` and/or took position ``at``."""
    if left is None:
        return (n, -1) if at is None else (at + 1, n - 1)
    if at is None:
        return (left, n - 1)
    return (at + 1, left) if at < left else (left, at - 1)
