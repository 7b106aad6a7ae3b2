"""The loyalty ladder's thresholds, and the stage they give at one instant.

``LoyaltyRules`` holds every threshold, with its default and where it comes
from (docs/loyalty.md has the table). ``StageTimeline`` prepares one
customer's facts for the rules once: purchase instants in order with their
era (the purchases since the last comeback) and quiet thresholds,
complaints with deadlines, referrals and surveys. Then ``stage(t, known)``
is the stage at event time ``t`` from the facts at or before ``known``, and
``candidates(known)`` lists every instant at which that stage may change.

The stage at ``t`` depends only on facts at or before ``t`` (the history is
replayed from them, e.g. "was lapsed before this purchase"), so it is a pure
function of the set of facts: order, batching and redelivery can't change it.
Times are integer microseconds (projections.customer_facts).

May import: projections, stdlib.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

from projections.customer_facts import DAY, CustomerFacts, to_datetime


class Stage(StrEnum):
    PROSPECT = "prospect"
    FIRST_TIME_BUYER = "first_time_buyer"
    REPEAT_BUYER = "repeat_buyer"
    LOYAL = "loyal"
    ADVOCATE = "advocate"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    WIN_BACK = "win_back"


LADDER = (Stage.PROSPECT, Stage.FIRST_TIME_BUYER, Stage.REPEAT_BUYER, Stage.LOYAL, Stage.ADVOCATE)


@dataclass(frozen=True, slots=True)
class LoyaltyRules:
    """Every threshold of the ladder (days are 24-hour spans of event time).

    Sources: DOMAIN.md (the ladder) and DOMAIN-DETAIL.md §2.2 A (stage rules)
    and §3.4 R1/R4 (rhythm, complaints); see docs/loyalty.md.
    """

    default_rhythm_days: int = 30  # segment gap below personal_rhythm_min_days (R1; §7 Dicos)
    personal_rhythm_min_days: int = 3  # purchase days for a personal median gap (R1)
    min_rhythm_days: int = 14  # floor of the rhythm (R1)
    at_risk_multiplier: float = 2  # at risk: quiet for 2 × rhythm (R1 warning)
    lapse_multiplier: float = 3  # lapsed: quiet for 3 × rhythm (R1 critical, LOST) ...
    lapse_after_days: int = 180  # ... and for 180 days (LAPSED)
    complaint_deadline_days: int = 3  # deadline of a complaint filed without one (R4)
    loyal_min_purchase_days: int = 4  # loyal: >= 4 purchase days ... (LOYAL)
    loyal_min_span_days: int = 90  # ... spread over >= 90 days (~3 calendar quarters) ...
    loyal_window_days: int = 365  # ... within the trailing 365 days (LOYAL)
    loyal_grace_days: int = 30  # demotion from loyal after 30 failing days (§2.2 A)
    advocate_window_days: int = 365  # referral or top score in 365 days (ADVOCATE)
    top_box_share: float = 0.9  # top score: in the top 10% of its scale (9-10 of 0-10)

    def __post_init__(self) -> None:
        for name in type(self).__slots__:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.personal_rhythm_min_days < 2:
            raise ValueError("personal_rhythm_min_days must be at least 2 (one gap)")
        if self.at_risk_multiplier > self.lapse_multiplier:
            raise ValueError("at_risk_multiplier must not exceed lapse_multiplier")
        if self.top_box_share > 1:
            raise ValueError("top_box_share must be at most 1")


def exact(value: float) -> Fraction:
    """``value`` as the fraction its text spells (0.9 -> 9/10, not the nearest binary)."""
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


class Verdict(NamedTuple):
    stage: Stage
    reason: str


class _Complaint(NamedTuple):
    deadline: int
    complaint_id: str
    filed: int
    resolved: int | None  # the first resolution not rejected


def _day_text(span: int) -> str:
    return f"{span / DAY:g}"


def _date(at: int) -> str:
    return to_datetime(at).date().isoformat()


class StageTimeline:
    """One customer's facts, prepared for ``stage`` and ``candidates``."""

    def __init__(self, facts: CustomerFacts, rules: LoyaltyRules) -> None:
        self.rules = rules
        self.inst = sorted({p.at for p in facts.purchases.values()})
        self.day = [at // DAY for at in self.inst]
        self.rank = [0] * len(self.inst)  # distinct-day rank of each instant
        for i in range(1, len(self.inst)):
            self.rank[i] = self.rank[i - 1] + (self.day[i] != self.day[i - 1])
        firsts = [t.at for t in facts.touches.values()] + self.inst[:1]
        self.first_touch = min(firsts) if firsts else None
        # Instants of the facts that may change the stage (not visits, calls, links).
        self.facts_at = sorted(
            set(self.inst)
            | {f.at for f in facts.filings.values()}
            | {r.at for r in facts.resolutions.values()}
            | {s.at for s in facts.surveys.values()}
            | {r.at for r in facts.referrals.values()}
            | ({self.first_touch} if self.first_touch is not None else set())
        )
        self._replay_eras()
        self.complaints = sorted(_complaints(facts, rules))
        self.referrals = sorted((r.at, r.referred_customer_id) for r in facts.referrals.values())
        self.referral_at = [at for at, _ in self.referrals]
        share = exact(rules.top_box_share)
        self.surveys = sorted(
            (s.at, eid, Fraction(s.score - s.scale_min, s.scale_max - s.scale_min) >= share, s)
            for eid, s in facts.surveys.items()
            if s.scale_max > s.scale_min
        )
        self.survey_at = [s[0] for s in self.surveys]

    def _replay_eras(self) -> None:
        """Per purchase instant: its era's start, comeback flag, rhythm and quiet limits."""
        self.era_start: list[int] = []
        self.comeback: list[bool] = []
        self.rhythm: list[tuple[int, bool]] = []  # (microseconds, personal?)
        self.at_risk_after: list[int] = []
        self.lapse_after: list[int] = []
        at_risk, lapse = exact(self.rules.at_risk_multiplier), exact(self.rules.lapse_multiplier)
        floor = self.rules.lapse_after_days * DAY
        era = 0
        days: list[int] = []  # the era's distinct purchase days so far
        gaps: list[int] = []  # their gaps in days, sorted
        for i, at in enumerate(self.inst):
            back = i > 0 and at - 1 - self.inst[i - 1] >= self.lapse_after[i - 1]
            if back:  # lapsed at some instant before this purchase: a new era
                era, days, gaps = i, [], []
            if not days or days[-1] != self.day[i]:
                if days:
                    insort(gaps, self.day[i] - days[-1])
                days.append(self.day[i])
            rhythm = self._rhythm(gaps, len(days))
            self.era_start.append(era)
            self.comeback.append(back)
            self.rhythm.append(rhythm)
            self.at_risk_after.append(rhythm[0] * at_risk.numerator // at_risk.denominator)
            self.lapse_after.append(max(rhythm[0] * lapse.numerator // lapse.denominator, floor))

    def _rhythm(self, gaps: list[int], days: int) -> tuple[int, bool]:
        floor = self.rules.min_rhythm_days * DAY
        if days < self.rules.personal_rhythm_min_days:
            return max(self.rules.default_rhythm_days * DAY, floor), False
        mid = len(gaps) // 2
        median = gaps[mid] * DAY if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) * DAY // 2
        return max(median, floor), True

    def candidates(self, known: int | None = None) -> list[int]:
        """Every instant at which the stage may change, ascending: a superset of the
        change points of the stage from the facts at or before ``known`` (default: all)."""
        r = self.rules
        if known is None:
            known = max(self.facts_at, default=0)
        window, grace = r.loyal_window_days * DAY, r.loyal_grace_days * DAY
        out = set(self.facts_at[: bisect_right(self.facts_at, known)])
        for i in range(bisect_right(self.inst, known)):
            at = self.inst[i]
            out.update((at + self.at_risk_after[i], at + self.lapse_after[i]))
            out.update((at + grace, at + window, at + window + grace))
        out.update(c.deadline + 1 for c in self.complaints if c.filed <= known)
        shelf = r.advocate_window_days * DAY
        out.update(at + shelf for at in self.referral_at if at <= known)
        out.update(at + shelf for at in self.survey_at if at <= known)
        return sorted(out)

    def stage(self, t: int, known: int | None = None) -> Verdict | None:
        """The stage at ``t`` from the facts at or before ``known`` (default ``t``).

        None before the customer's first touchpoint.
        """
        k = t if known is None else min(t, known)
        if self.first_touch is None or self.first_touch > k:
            return None
        j = bisect_right(self.inst, k) - 1
        if j < 0:
            return Verdict(Stage.PROSPECT, f"known since {_date(self.first_touch)}, no purchase")
        quiet, (rhythm, personal) = t - self.inst[j], self.rhythm[j]
        last = f"last on {_date(self.inst[j])}"
        if quiet >= self.lapse_after[j]:
            limit = _day_text(self.lapse_after[j])
            return Verdict(Stage.LAPSED, f"no purchase for {limit} days ({last})")
        if quiet >= self.at_risk_after[j]:
            kind = "own median gap" if personal else "default rhythm"
            limit = f"{self.rules.at_risk_multiplier:g} × {kind} of {_day_text(rhythm)} days"
            reason = f"no purchase for {_day_text(self.at_risk_after[j])} days = {limit} ({last})"
            return Verdict(Stage.AT_RISK, reason)
        for c in self.complaints:
            if c.filed <= k and (c.resolved is None or c.resolved > k) and t > c.deadline:
                reason = f"complaint {c.complaint_id} open past its deadline {_date(c.deadline)}"
                return Verdict(Stage.AT_RISK, reason)
        return self._ladder(t, k, j)

    def _ladder(self, t: int, k: int, j: int) -> Verdict:
        e = self.era_start[j]
        days = self.rank[j] - self.rank[e] + 1
        after = f" since coming back on {_date(self.inst[e])}" if self.comeback[e] else ""
        if days == 1 and self.comeback[e]:
            gap = (self.inst[e] - self.inst[e - 1]) // DAY
            return Verdict(Stage.WIN_BACK, f"bought again after {gap} days without a purchase")
        if days == 1:
            return Verdict(Stage.FIRST_TIME_BUYER, f"first purchase on {_date(self.inst[e])}")
        loyal = self._loyal(t, e, j)
        if loyal is None:
            return Verdict(Stage.REPEAT_BUYER, f"{days} purchase days{after}")
        advocacy = self._advocacy(t, k)
        if advocacy is None:
            return Verdict(Stage.LOYAL, loyal + after)
        return Verdict(Stage.ADVOCATE, f"{loyal}{after}; {advocacy}")

    def _criteria(self, s: int, e: int, j: int) -> tuple[int, int] | None:
        """(purchase days, span in days) in the loyal window ending at ``s``, if they qualify."""
        r = self.rules
        hi = min(j, bisect_right(self.inst, s) - 1)
        lo = max(e, bisect_right(self.inst, s - r.loyal_window_days * DAY))
        if hi < lo:
            return None
        days, span = self.rank[hi] - self.rank[lo] + 1, self.day[hi] - self.day[lo]
        if days >= r.loyal_min_purchase_days and span >= r.loyal_min_span_days:
            return days, span
        return None

    def _loyal(self, t: int, e: int, j: int) -> str | None:
        # Loyal iff the criteria held at some instant in [t - grace, t]. Between
        # purchases they can only stop holding (purchases leave the window), so it
        # is enough to look at t - grace and at the purchases after it.
        window = self.rules.loyal_window_days
        now = self._criteria(t, e, j)
        if now is not None:
            return f"{now[0]} purchase days over {now[1]} days in the last {window} days"
        grace = self.rules.loyal_grace_days * DAY
        first = max(e, bisect_right(self.inst, t - grace))
        held = [t - grace, *self.inst[first : j + 1]]
        if any(self._criteria(s, e, j) is not None for s in held):
            return f"loyal rules met within the last {self.rules.loyal_grace_days} days"
        return None

    def _advocacy(self, t: int, k: int) -> str | None:
        start = t - self.rules.advocate_window_days * DAY
        i = bisect_right(self.referral_at, k) - 1
        if i >= 0 and self.referrals[i][0] > start:
            at, referred = self.referrals[i]
            return f"referred {referred} on {_date(at)}"
        i = bisect_right(self.survey_at, k) - 1
        if i >= 0 and self.surveys[i][2] and self.surveys[i][0] > start:
            s = self.surveys[i][3]
            return f"top survey score {s.score} on {s.scale_min}..{s.scale_max} on {_date(s.at)}"
        return None


def _complaints(facts: CustomerFacts, rules: LoyaltyRules) -> list[_Complaint]:
    resolved: dict[str, int] = {}
    for r in facts.resolutions.values():
        if r.accepted is not False:  # a rejected resolution leaves the complaint open
            resolved[r.complaint_id] = min(r.at, resolved.get(r.complaint_id, r.at))
    out = []
    for cid, f in facts.filings.items():
        deadline = f.promised_by
        if deadline is None:
            deadline = f.at + rules.complaint_deadline_days * DAY
        out.append(_Complaint(deadline, cid, f.at, resolved.get(cid)))
    return out
