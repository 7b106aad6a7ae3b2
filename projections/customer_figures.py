"""Purchase, complaint and satisfaction figures of the customer view.

Each function reads facts (``projections.customer_facts``) and ``cutoff``,
the view's ``as_of`` in epoch microseconds, and counts only facts that
happened at or before it. Days are UTC calendar days.

May import: projections, stdlib.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from projections.customer_facts import DAY, Filing, Purchase, Resolution, Survey, to_datetime

SHORT_WINDOW_DAYS = 90
LONG_WINDOW_DAYS = 365


@dataclass(frozen=True, slots=True)
class PurchaseFigures:
    """What the customer bought, and the BTYD/RFM summary.

    Counts and dates cover every purchase. Money figures are in ``currency``,
    the currency of most purchases (ties: alphabetical first), over purchases
    in it only; ``other_currency_purchases`` counts the rest (amounts in
    different currencies are never added). Means round half up to a minor unit.

    BTYD as in lifetimes' ``summary_data_from_transaction_data`` (freq "D"):
    ``frequency`` = distinct purchase days after the first; ``recency_days`` =
    last purchase day - first; ``t_days`` = as_of's day - first purchase day;
    ``monetary_minor`` = mean spend per repeat day (first day excluded), 0
    when frequency is 0.
    """

    purchase_count: int = 0
    purchase_days: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    currency: str | None = None
    total_spend_minor: int = 0
    other_currency_purchases: int = 0
    avg_order_value_minor: int = 0
    spend_90d_minor: int = 0  # purchases in (as_of - 90 days, as_of]
    spend_365d_minor: int = 0  # purchases in (as_of - 365 days, as_of]
    frequency: int = 0
    recency_days: int | None = None  # None before the first purchase
    t_days: int | None = None
    monetary_minor: int = 0


def purchase_figures(purchases: Iterable[Purchase], cutoff: int) -> PurchaseFigures:
    bought = sorted(p for p in purchases if p.at <= cutoff)
    if not bought:
        return PurchaseFigures()
    currency = main_currency(bought)
    own = [p for p in bought if p.currency == currency]
    total = sum(p.amount_minor for p in own)
    days = sorted({p.at // DAY for p in bought})
    first_day = days[0]
    repeat_spend = sum(p.amount_minor for p in own if p.at // DAY != first_day)
    return PurchaseFigures(
        purchase_count=len(bought),
        purchase_days=len(days),
        first_purchase_at=to_datetime(bought[0].at),
        last_purchase_at=to_datetime(bought[-1].at),
        currency=currency,
        total_spend_minor=total,
        other_currency_purchases=len(bought) - len(own),
        avg_order_value_minor=mean_minor(total, len(own)),
        spend_90d_minor=_spend_after(own, cutoff - SHORT_WINDOW_DAYS * DAY),
        spend_365d_minor=_spend_after(own, cutoff - LONG_WINDOW_DAYS * DAY),
        frequency=len(days) - 1,
        recency_days=days[-1] - first_day,
        t_days=cutoff // DAY - first_day,
        monetary_minor=mean_minor(repeat_spend, len(days) - 1),
    )


def main_currency(purchases: Collection[Purchase]) -> str:
    """The currency of most purchases; on a tie, the alphabetically first."""
    counts = Counter(p.currency for p in purchases)
    return min(counts, key=lambda currency: (-counts[currency], currency))


def mean_minor(total: int, count: int) -> int:
    """``total / count`` rounded half up to a whole minor unit; 0 when count is 0."""
    return (2 * total + count) // (2 * count) if count else 0


def _spend_after(purchases: Iterable[Purchase], start: int) -> int:
    return sum(p.amount_minor for p in purchases if p.at > start)


@dataclass(frozen=True, slots=True)
class OpenComplaint:
    complaint_id: str
    category: str
    severity: str
    filed_at: datetime
    age_days: int  # whole days since filing, as of as_of
    promised_by: datetime | None
    overdue: bool  # open past promised_by


@dataclass(frozen=True, slots=True)
class ComplaintFigures:
    """Complaints and their timeliness.

    A complaint is resolved by its first resolution that was not rejected
    (``accepted`` true, or not asked); a rejected one leaves it open. A
    resolution may arrive before its filing: it counts in
    ``complaints_resolved`` already. Overdue: open past ``promised_by``, or
    resolved after it.
    """

    open: tuple[OpenComplaint, ...] = ()  # oldest first
    complaints_filed: int = 0
    complaints_resolved: int = 0
    complaints_overdue: int = 0
    resolutions_rejected: int = 0


def complaint_figures(
    filings: Mapping[str, Filing], resolutions: Iterable[Resolution], cutoff: int
) -> ComplaintFigures:
    closed: dict[str, int] = {}  # complaint id -> when first resolved
    rejected = 0
    for r in resolutions:
        if r.at > cutoff:
            continue
        if r.accepted is False:
            rejected += 1
        else:
            closed[r.complaint_id] = min(r.at, closed.get(r.complaint_id, r.at))
    filed = {cid: f for cid, f in filings.items() if f.at <= cutoff}
    still_open = [_open(cid, f, cutoff) for cid, f in filed.items() if cid not in closed]
    still_open.sort(key=lambda c: (c.filed_at, c.complaint_id))
    late = sum(1 for cid, f in filed.items() if cid in closed and _late(f, closed[cid]))
    return ComplaintFigures(
        open=tuple(still_open),
        complaints_filed=len(filed),
        complaints_resolved=len(closed),
        complaints_overdue=late + sum(c.overdue for c in still_open),
        resolutions_rejected=rejected,
    )


def _late(filing: Filing, at: int) -> bool:
    return filing.promised_by is not None and at > filing.promised_by


def _open(complaint_id: str, filing: Filing, cutoff: int) -> OpenComplaint:
    promised = filing.promised_by
    return OpenComplaint(
        complaint_id=complaint_id,
        category=filing.category,
        severity=filing.severity,
        filed_at=to_datetime(filing.at),
        age_days=(cutoff - filing.at) // DAY,
        promised_by=None if promised is None else to_datetime(promised),
        overdue=_late(filing, cutoff),
    )


@dataclass(frozen=True, slots=True)
class Satisfaction:
    """The last survey answer (by occurred_at, then event id) and its trend.

    ``last_score`` is ``last_score_raw`` rescaled from its scale to 0..1;
    ``trend`` is the last rescaled score minus the one before (None with one).
    """

    surveys_answered: int = 0
    last_score: float | None = None
    last_score_raw: int | None = None
    last_score_scale: tuple[int, int] | None = None
    last_answered_at: datetime | None = None
    trend: float | None = None


def satisfaction(surveys: Mapping[int, Survey], cutoff: int) -> Satisfaction:
    answered = sorted((s.at, event_id, s) for event_id, s in surveys.items() if s.at <= cutoff)
    if not answered:
        return Satisfaction()
    last = answered[-1][2]
    trend = None
    if len(answered) > 1:
        trend = float(_rescaled(last) - _rescaled(answered[-2][2]))
    return Satisfaction(
        surveys_answered=len(answered),
        last_score=float(_rescaled(last)),
        last_score_raw=last.score,
        last_score_scale=(last.scale_min, last.scale_max),
        last_answered_at=to_datetime(last.at),
        trend=trend,
    )


def _rescaled(survey: Survey) -> Fraction:
    # Exact, so a trend of 4/5 - 3/5 is 0.2, not 0.20000000000000007.
    return Fraction(survey.score - survey.scale_min, survey.scale_max - survey.scale_min)
