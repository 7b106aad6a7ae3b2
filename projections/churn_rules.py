"""Churn warning rules: thresholds, and the signals one customer's facts give at an instant.

``ChurnRules`` holds every threshold with its default (docs/churn.md has the
table and the sources: DOMAIN-DETAIL.md §3.4 R1-R7). Each rule is a small
class in ``projections/churn_signals.py`` with a stable reason code; adding
a rule is adding a class there and a line to ``RULES``.

A rule sees the customer's facts prepared once (``Prepared``: purchases in
order, complaints with deadlines, resolutions, surveys, calls) and answers
two questions:

- ``instants(known)``: every instant at which its answer may change, from the
  facts at or before ``known``;
- ``check(t, known, held)``: its ``Signal`` at event time ``t`` (None: it does
  not hold), from the facts at or before ``known``; ``held`` says whether it
  held just before, for rules with a separate clearing threshold (hysteresis,
  so a ratio hovering near its limit can't flap).

Times are integer microseconds (projections.customer_facts).

May import: projections, stdlib.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from projections.customer_facts import DAY, CustomerFacts, to_datetime

WARNING, CRITICAL = "warning", "critical"
SEVERITY_POINTS = {WARNING: 1, CRITICAL: 2}
_SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class ChurnRules:
    """Every threshold of the churn warning rules (days are 24-hour spans of event time)."""

    # R1 overdue_purchase: quiet well past the customer's own rhythm.
    personal_rhythm_min_days: int = 3  # purchase days for a personal median gap
    default_rhythm_days: int = 30  # segment rhythm below that (DOMAIN-DETAIL §7: Dicos)
    min_rhythm_days: int = 14  # floor of the rhythm
    overdue_multiplier: float = 2  # warning at 2 x rhythm ...
    overdue_critical_multiplier: float = 3  # ... critical at 3 x
    overdue_expires_days: int = 365  # then given up as lost (cleared: "expired")
    # R2 falling_frequency / R3 falling_spend: the last 90 days against the 12-month average.
    recent_days: int = 90
    baseline_days: int = 365
    baseline_min_purchases: float = 2  # baseline: at least 2 purchases per 90 days on average
    frequency_drop_ratio: float = 0.5  # raise below 50% of the baseline ...
    frequency_recover_ratio: float = 0.75  # ... clear at 75% or more again
    spend_drop_ratio: float = 0.6  # raise at or below 60% of the baseline spend ...
    spend_recover_ratio: float = 0.8  # ... clear above 80% again
    # R4 complaint_overdue: open past its deadline (promised_by, else by severity/category).
    complaint_deadline_days: Mapping[str, float] = field(
        default_factory=lambda: {"low": 5, "medium": 3, "high": 2, "critical": 1}
    )
    category_deadline_days: Mapping[str, float] = field(default_factory=dict)  # overrides
    complaint_critical_after_days: float = 4  # critical this long past the deadline (3 -> 7)
    vip_spend_minor: int | None = None  # customers with this 365-day spend or more ...
    vip_deadline_factor: float = 0.5  # ... get deadlines this much shorter (R4: halved)
    # R5 resolution_rejected: a resolution not accepted, or a poor score soon after one.
    rejected_window_days: int = 90
    follow_up_days: int = 30  # a survey this soon after a resolution is its follow-up
    follow_up_max_share: float = 0.25  # ... and at or below 25% of its scale (<= 2 of 1..5)
    # R6 low_satisfaction: a low score, or a fall of at least 20% of the scale.
    satisfaction_window_days: int = 180
    low_score_share: float = 0.4  # at or below 40% of the scale (<= 4 of 0..10)
    critical_score_share: float = 0.2
    score_drop_share: float = 0.2  # a fall of 2 points on 0..10 from the previous answer
    # R7 silent_dissatisfaction: repeat contacts about one issue, or returns, no complaint.
    silent_window_days: int = 90
    repeat_contacts: int = 3  # inbound calls about the same reason not resolved
    returns: int = 2  # calls whose reason is a return
    return_reasons: tuple[str, ...] = ("return", "returns", "refund")
    complaint_reasons: tuple[str, ...] = ("complaint",)  # calls about a filed complaint
    # low_p_alive: the lifetime-value model's P(alive) at a refit (`touchpoint fit`).
    low_p_alive: float = 0.3  # raise below 30% ...
    critical_p_alive: float = 0.1  # ... critical below 10% ...
    p_alive_recover: float = 0.4  # ... clear at 40% or more at a later refit
    # Priority: sum of weight x severity points (x the value tier's weight, read side).
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "overdue_purchase": 1.0,
            "falling_frequency": 0.5,
            "falling_spend": 0.5,
            "complaint_overdue": 1.5,
            "resolution_rejected": 1.5,
            "low_satisfaction": 1.0,
            "silent_dissatisfaction": 1.0,
            "low_p_alive": 1.0,
        }
    )

    def __post_init__(self) -> None:
        for name in type(self).__slots__:
            value = getattr(self, name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.overdue_multiplier > self.overdue_critical_multiplier:
            raise ValueError("overdue_multiplier must not exceed overdue_critical_multiplier")
        if self.frequency_recover_ratio < self.frequency_drop_ratio:
            raise ValueError("frequency_recover_ratio must be at least frequency_drop_ratio")
        if self.spend_recover_ratio < self.spend_drop_ratio:
            raise ValueError("spend_recover_ratio must be at least spend_drop_ratio")
        if self.personal_rhythm_min_days < 2:
            raise ValueError("personal_rhythm_min_days must be at least 2 (one gap)")
        missing = set(_SEVERITIES) - set(self.complaint_deadline_days)
        if missing:
            raise ValueError(f"complaint_deadline_days lacks {sorted(missing)}")
        if not self.critical_p_alive <= self.low_p_alive <= self.p_alive_recover:
            raise ValueError("need critical_p_alive <= low_p_alive <= p_alive_recover")
        for share in ("follow_up_max_share", "low_score_share", "critical_score_share",
                      "p_alive_recover"):  # fmt: skip
            if getattr(self, share) > 1:
                raise ValueError(f"{share} must be at most 1")


class Signal(NamedTuple):
    """A rule that holds: its reason code, severity and the numbers behind it."""

    code: str
    severity: str
    evidence: Mapping[str, float | int | str | bool]


class Valuation(NamedTuple):
    """How to sum purchases in several currencies (as for value tiers, docs/value.md)."""

    currency: str = "EUR"
    rates: Mapping[str, float] = {}

    def of(self, amount_minor: int, currency: str) -> Fraction:
        if currency == self.currency:
            return Fraction(amount_minor)
        rate = self.rates.get(currency)
        return Fraction(0) if rate is None else amount_minor * Fraction(str(rate))


class Complaint(NamedTuple):
    complaint_id: str
    filed: int
    category: str
    severity: str
    deadline: int
    resolved: int | None  # the first resolution not rejected
    accepted: bool | None  # that resolution's acceptance


class Prepared:
    """One customer's facts in the shapes the rules read (built once per evaluation)."""

    def __init__(
        self, facts: CustomerFacts, rules: ChurnRules, valuation: Valuation | None = None
    ) -> None:
        valuation = valuation or Valuation()
        self.rules = rules
        self.customer_id = facts.customer_id
        ordered = sorted(facts.purchases.values())
        self.purchase_at = [p.at for p in ordered]
        self.value = [valuation.of(p.amount_minor, p.currency) for p in ordered]
        total, cumulative = Fraction(0), [Fraction(0)]
        for v in self.value:
            total += v
            cumulative.append(total)
        # whole numbers as ints (the usual case: one currency), which compute much faster
        self.cumulative: list[int | Fraction] = [
            c.numerator if c.denominator == 1 else c for c in cumulative
        ]
        self.rhythm = self._rhythms()
        self.resolutions = sorted(facts.resolutions.values())
        self.complaints = sorted(self._complaints(facts), key=lambda c: (c.filed, c.complaint_id))
        self.surveys = sorted(
            (s.at, Fraction(s.score - s.scale_min, s.scale_max - s.scale_min), s)
            for s in facts.surveys.values()
            if s.scale_max > s.scale_min
        )
        self.survey_at = [s[0] for s in self.surveys]
        self.calls = sorted(facts.calls.values())
        self.call_at = [c.at for c in self.calls]
        self.filed_at = sorted(c.filed for c in self.complaints)
        self.poor_follow_ups = self._poor_follow_ups()

    def _poor_follow_ups(self) -> list[int]:
        """Instants of surveys at or below ``follow_up_max_share`` of their scale within
        ``follow_up_days`` after a resolution that was not rejected (R5)."""
        r, out = self.rules, []
        resolved = sorted(res.at for res in self.resolutions if res.accepted is not False)
        for at, share, _ in self.surveys:
            i = bisect_right(resolved, at) - 1
            recent = i >= 0 and at - resolved[i] <= r.follow_up_days * DAY
            if recent and share <= Fraction(str(r.follow_up_max_share)):
                out.append(at)
        return out

    def _rhythms(self) -> list[tuple[int, bool]]:
        """Per purchase: the rhythm (µs) after it, and whether it is the customer's own."""
        r = self.rules
        floor, out = r.min_rhythm_days * DAY, []
        days: list[int] = []
        gaps: list[int] = []
        for at in self.purchase_at:
            day = at // DAY
            if not days or days[-1] != day:
                if days:
                    insort(gaps, day - days[-1])
                days.append(day)
            if len(days) < r.personal_rhythm_min_days:
                out.append((max(r.default_rhythm_days * DAY, floor), False))
                continue
            mid = len(gaps) // 2
            median = gaps[mid] * DAY if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) * DAY // 2
            out.append((max(median, floor), True))
        return out

    def _complaints(self, facts: CustomerFacts) -> list[Complaint]:
        first: dict[str, tuple[int, bool | None]] = {}
        for res in sorted(facts.resolutions.values()):
            if res.accepted is not False and res.complaint_id not in first:
                first[res.complaint_id] = (res.at, res.accepted)
        out = []
        for cid, f in facts.filings.items():
            deadline = f.promised_by
            if deadline is None:
                deadline = f.at + self.deadline_span(f.category, f.severity, f.at)
            resolved, accepted = first.get(cid, (None, None))
            out.append(Complaint(cid, f.at, f.category, f.severity, deadline, resolved, accepted))
        return out

    def deadline_span(self, category: str, severity: str, at: int) -> int:
        """The default time to resolve a complaint filed at ``at`` (µs)."""
        r = self.rules
        days = r.category_deadline_days.get(category, r.complaint_deadline_days.get(severity, 3))
        span = Fraction(str(days)) * DAY
        if r.vip_spend_minor is not None and self.spend(at - r.baseline_days * DAY, at) >= (
            r.vip_spend_minor
        ):
            span *= Fraction(str(r.vip_deadline_factor))
        return int(span)

    def bought(self, start: int, end: int) -> int:
        """The number of purchases in ``(start, end]``."""
        return bisect_right(self.purchase_at, end) - bisect_right(self.purchase_at, start)

    def spend(self, start: int, end: int) -> int | Fraction:
        """The value of the purchases in ``(start, end]`` (reporting currency, minor units)."""
        hi, lo = bisect_right(self.purchase_at, end), bisect_right(self.purchase_at, start)
        return self.cumulative[hi] - self.cumulative[lo]

    def last_purchase(self, known: int) -> int:
        """Index of the last purchase at or before ``known`` (-1: none)."""
        return bisect_right(self.purchase_at, known) - 1


def days(span: int | Fraction) -> float:
    """A span of microseconds in days, rounded to a tenth."""
    return round(float(span) / DAY, 1)


def date(at: int) -> str:
    return to_datetime(at).date().isoformat()
