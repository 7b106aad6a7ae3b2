"""The churn warning rules, one class each, with stable reason codes.

Every rule reads ``Prepared`` facts (projections/churn_rules.py) and only the
facts at or before the instant it is asked about, so its answer can't depend
on what arrived later or in which order. To add a rule: write a class with
``code``, ``instants``, ``check`` and ``cleared_because``, add it to
``RULES``, give it a weight in ``ChurnRules.weights`` and a line in
docs/churn.md.

May import: projections, stdlib.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from fractions import Fraction
from functools import cache
from typing import Protocol

from projections.churn_rules import CRITICAL, WARNING, Prepared, Signal, date, days
from projections.customer_facts import DAY


class Rule(Protocol):
    code: str

    def instants(self, p: Prepared) -> Iterable[int]:
        """Every instant at which ``check`` may change (each at or after the fact causing it)."""

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        """The signal at ``t`` from the facts at or before ``t`` (None: the rule does not hold);
        ``held``: whether it held just before ``t``."""

    def cleared_because(self, p: Prepared, t: int) -> str:
        """Why the rule stopped holding at ``t`` (it held just before)."""


@cache
def exact(value: float | int) -> Fraction:
    """A threshold from the rules as the exact decimal it was written as (cached: the rules
    are checked at every instant of every customer's timeline)."""
    return Fraction(str(value))


@cache
def _share(part: int, whole: int) -> Fraction:
    return Fraction(part, whole)


def _scaled(span: int, factor: float) -> int:
    f = exact(factor)
    return (f.numerator * span) // f.denominator


class OverduePurchase:
    """R1: no purchase for 2x (critical: 3x) the customer's own median gap between purchase
    days, or the default rhythm with fewer than 3 purchase days; given up after a year."""

    code = "overdue_purchase"

    def instants(self, p: Prepared) -> Iterable[int]:
        r = p.rules
        for at, (rhythm, _) in zip(p.purchase_at, p.rhythm, strict=True):
            yield at
            yield at + _scaled(rhythm, r.overdue_multiplier)
            yield at + _scaled(rhythm, r.overdue_critical_multiplier)
            yield at + r.overdue_expires_days * DAY

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        r, j = p.rules, p.last_purchase(t)
        if j < 1:  # one-time buyers are an onboarding matter, not a churn warning
            return None
        quiet, (rhythm, personal) = t - p.purchase_at[j], p.rhythm[j]
        if quiet >= r.overdue_expires_days * DAY or quiet < _scaled(rhythm, r.overdue_multiplier):
            return None
        critical = quiet >= _scaled(rhythm, r.overdue_critical_multiplier)
        return Signal(
            self.code,
            CRITICAL if critical else WARNING,
            {
                "days_since_purchase": days(quiet),
                "rhythm_days": days(rhythm),
                "personal_rhythm": personal,
                "times_rhythm": round(quiet / rhythm, 2),
                "last_purchase": date(p.purchase_at[j]),
            },
        )

    def cleared_because(self, p: Prepared, t: int) -> str:
        j = p.last_purchase(t)
        if j >= 0 and p.purchase_at[j] == t:
            return f"purchase resumed on {date(t)}"
        return f"no purchase for {p.rules.overdue_expires_days} days: given up as lost"


class _Ratio:
    """R2/R3: the last ``recent_days`` against the average of the last ``baseline_days``,
    with a lower threshold to raise than to clear (hysteresis)."""

    code = ""
    what = ""
    inclusive = False  # does the ratio at exactly the drop limit hold?

    def limits(self, p: Prepared) -> tuple[Fraction, Fraction]:
        """(raise below, clear at or above)."""
        raise NotImplementedError

    def measure(self, p: Prepared, start: int, end: int) -> int | Fraction:
        raise NotImplementedError

    def instants(self, p: Prepared) -> Iterable[int]:
        r = p.rules
        for at in p.purchase_at:
            yield from (at, at + r.recent_days * DAY, at + r.baseline_days * DAY)

    def _comparable(self, p: Prepared, t: int) -> bool:
        r = p.rules
        least = exact(r.baseline_min_purchases)  # bought × recent / baseline >= least:
        bought = p.bought(t - r.baseline_days * DAY, t)
        return bought * r.recent_days * least.denominator >= least.numerator * r.baseline_days

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        r = p.rules
        if not self._comparable(p, t):
            return None
        base = self.measure(p, t - r.baseline_days * DAY, t)
        if base <= 0:
            return None
        recent = self.measure(p, t - r.recent_days * DAY, t)
        drop, recover = self.limits(p)
        # ratio = recent / (base × recent_days / baseline_days), compared without dividing
        # (integers in the usual case: this runs at every instant of every timeline)
        over, under = recent * r.baseline_days, base * r.recent_days

        def below(x: Fraction) -> bool:
            return bool(over * x.denominator < x.numerator * under)

        if held:
            holds = below(recover)
        else:
            holds = below(drop) or (
                self.inclusive and over * drop.denominator == drop.numerator * under
            )
        if not holds:
            return None
        ratio = Fraction(over) / under
        baseline = base * _share(r.recent_days, r.baseline_days)
        return Signal(
            self.code,
            CRITICAL if ratio < drop / 2 else WARNING,
            {
                "last_90_days": round(float(recent), 2),
                "baseline_90_days": round(float(baseline), 2),
                "ratio": round(float(ratio), 3),
            },
        )

    def cleared_because(self, p: Prepared, t: int) -> str:
        if not self._comparable(p, t):
            return f"too few purchases in the last {p.rules.baseline_days} days to compare"
        return f"{self.what} back to {float(self.limits(p)[1]):.0%} of the baseline or more"


class FallingFrequency(_Ratio):
    """R2: purchases in the last 90 days below 50% of the 12-month average per 90 days
    (cleared at 75%)."""

    code = "falling_frequency"
    what = "purchase frequency"

    def limits(self, p: Prepared) -> tuple[Fraction, Fraction]:
        r = p.rules
        return exact(r.frequency_drop_ratio), exact(r.frequency_recover_ratio)

    def measure(self, p: Prepared, start: int, end: int) -> int | Fraction:
        return p.bought(start, end)


class FallingSpend(_Ratio):
    """R3: spend in the last 90 days at or below 60% of the 12-month average per 90 days
    (cleared above 80%)."""

    code = "falling_spend"
    what = "spend"
    inclusive = True

    def limits(self, p: Prepared) -> tuple[Fraction, Fraction]:
        r = p.rules
        return exact(r.spend_drop_ratio), exact(r.spend_recover_ratio)

    def measure(self, p: Prepared, start: int, end: int) -> int | Fraction:
        return p.spend(start, end)


class ComplaintOverdue:
    """R4: a complaint open past its deadline; critical 4 days later (3 -> 7 days)."""

    code = "complaint_overdue"

    def instants(self, p: Prepared) -> Iterable[int]:
        late = p.rules.complaint_critical_after_days * DAY
        for c in p.complaints:
            yield from (c.filed, c.deadline + 1, c.deadline + 1 + int(late))
            if c.resolved is not None:
                yield c.resolved

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        late = int(p.rules.complaint_critical_after_days * DAY)
        overdue = [
            c
            for c in p.complaints
            if c.filed <= t and (c.resolved is None or c.resolved > t) and t > c.deadline
        ]
        if not overdue:
            return None
        worst = min(overdue, key=lambda c: (c.deadline, c.complaint_id))
        critical = t > worst.deadline + late or worst.severity == "critical"
        return Signal(
            self.code,
            CRITICAL if critical else WARNING,
            {
                "complaints_overdue": len(overdue),
                "complaint_id": worst.complaint_id,
                "category": worst.category,
                "days_past_deadline": days(t - worst.deadline),
                "deadline": date(worst.deadline),
            },
        )

    def cleared_because(self, p: Prepared, t: int) -> str:
        done = [c.complaint_id for c in p.complaints if c.resolved == t]
        return f"complaint {', '.join(sorted(done))} resolved" if done else "complaint resolved"


class ResolutionRejected:
    """R5: a resolution the customer did not accept, or a poor survey score within 30 days
    of a resolution; holds for 90 days unless the complaint is then resolved."""

    code = "resolution_rejected"

    def instants(self, p: Prepared) -> Iterable[int]:
        window = p.rules.rejected_window_days * DAY
        for res in p.resolutions:
            yield from (res.at, res.at + window)
        for at in p.poor_follow_ups:
            yield from (at, at + window)

    def _live(self, p: Prepared, t: int) -> tuple[list[str], list[int]]:
        window = p.rules.rejected_window_days * DAY
        settled = {c.complaint_id: c.resolved for c in p.complaints}
        rejected = []
        for res in p.resolutions:
            if res.accepted is not False or not res.at <= t < res.at + window:
                continue
            fixed = settled.get(res.complaint_id)
            if fixed is None or not res.at < fixed <= t:
                rejected.append(res.complaint_id)
        poor = [at for at in p.poor_follow_ups if at <= t < at + window]
        return sorted(set(rejected)), poor

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        rejected, poor = self._live(p, t)
        if not rejected and not poor:
            return None
        severity = CRITICAL if len(rejected) + len(poor) > 1 else WARNING
        evidence: dict[str, float | int | str | bool] = {
            "rejected_resolutions": len(rejected),
            "poor_follow_up_scores": len(poor),
        }
        if rejected:
            evidence["complaint_id"] = rejected[0]
        return Signal(self.code, severity, evidence)

    def cleared_because(self, p: Prepared, t: int) -> str:
        if any(c.resolved == t for c in p.complaints):
            return "the complaint was resolved after all"
        return f"{p.rules.rejected_window_days} days since the rejection"


class LowSatisfaction:
    """R6: the latest survey (within 180 days) at or below 40% of its scale, or 20% of the
    scale below the previous answer; critical at or below 20%."""

    code = "low_satisfaction"

    def instants(self, p: Prepared) -> Iterable[int]:
        window = p.rules.satisfaction_window_days * DAY
        for at in p.survey_at:
            yield from (at, at + window)

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        r = p.rules
        i = bisect_right(p.survey_at, t) - 1
        if i < 0 or t >= p.survey_at[i] + r.satisfaction_window_days * DAY:
            return None
        at, share, survey = p.surveys[i]
        previous = p.surveys[i - 1][1] if i > 0 else None
        low = share <= exact(r.low_score_share)
        fell = previous is not None and previous - share >= exact(r.score_drop_share)
        if not (low or fell):
            return None
        evidence: dict[str, float | int | str | bool] = {
            "score": survey.score,
            "scale": f"{survey.scale_min}..{survey.scale_max}",
            "answered": date(at),
        }
        if previous is not None:
            evidence["previous_share"] = round(float(previous), 2)
        critical = share <= exact(r.critical_score_share)
        return Signal(self.code, CRITICAL if critical else WARNING, evidence)

    def cleared_because(self, p: Prepared, t: int) -> str:
        if t in p.survey_at:
            return f"a better survey answer on {date(t)}"
        return f"no low score in the last {p.rules.satisfaction_window_days} days"


class SilentDissatisfaction:
    """R7: in 90 days, no complaint but repeated inbound calls about one issue that were not
    resolved, or several return requests: the 95% who never complain."""

    code = "silent_dissatisfaction"

    def instants(self, p: Prepared) -> Iterable[int]:
        window = p.rules.silent_window_days * DAY
        for at in p.call_at + p.filed_at:
            yield from (at, at + window)

    def check(self, p: Prepared, t: int, held: bool) -> Signal | None:
        r = p.rules
        start = t - r.silent_window_days * DAY
        if bisect_right(p.filed_at, t) > bisect_right(p.filed_at, start):
            return None  # they complained: not silent
        calls = p.calls[bisect_right(p.call_at, start) : bisect_right(p.call_at, t)]
        returns = sum(c.reason in r.return_reasons for c in calls)
        repeats = Counter(
            c.reason
            for c in calls
            if c.direction == "inbound"
            and c.outcome != "resolved"
            and c.reason not in r.complaint_reasons
            and c.reason not in r.return_reasons
        )
        reason, count = max(repeats.items(), key=lambda kv: (kv[1], kv[0]), default=("", 0))
        if returns < r.returns and count < r.repeat_contacts:
            return None
        evidence: dict[str, float | int | str | bool] = {"returns": returns}
        if count >= r.repeat_contacts:
            evidence.update(repeated_reason=reason, unresolved_contacts=count)
        return Signal(self.code, WARNING, evidence)

    def cleared_because(self, p: Prepared, t: int) -> str:
        i = bisect_left(p.filed_at, t)
        if i < len(p.filed_at) and p.filed_at[i] == t:
            return "the customer complained: handled as a complaint now"
        return f"no repeated contacts in the last {p.rules.silent_window_days} days"


RULES: tuple[Rule, ...] = (
    OverduePurchase(),
    FallingFrequency(),
    FallingSpend(),
    ComplaintOverdue(),
    ResolutionRejected(),
    LowSatisfaction(),
    SilentDissatisfaction(),
)
CODES = (*(rule.code for rule in RULES), "low_p_alive")  # low_p_alive: streams/clv_job.py
