"""The ``customer_view`` table: one flat row per customer view.

``VIEW_COLUMNS`` lists (name, DuckDB type, description) for creating the
table and documenting it (docs/read-model.md); ``view_row`` gives a view's
row with exactly those keys. Both come from one list, so they cannot drift.
Money is integer minor units of ``currency``; timestamps are UTC.

May import: projections, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time only customer_view imports this module
    from projections.customer_view import CustomerView

_Column = tuple[str, str, str, "Callable[[CustomerView], object]"]

_COLUMNS: tuple[_Column, ...] = (
    ("customer_id", "VARCHAR", "Customer id (the smallest, when customers were merged).",
     lambda v: v.customer_id),
    ("as_of", "TIMESTAMPTZ", "Event time the view is computed as of (the stream watermark).",
     lambda v: v.as_of),
    ("aliases", "VARCHAR[]", "Other customer ids merged into this one.",
     lambda v: list(v.aliases)),
    ("first_seen_at", "TIMESTAMPTZ", "First touchpoint, any kind.",
     lambda v: v.first_seen_at),
    ("last_seen_at", "TIMESTAMPTZ", "Latest touchpoint, any kind.",
     lambda v: v.last_seen_at),
    ("event_count", "BIGINT", "Distinct touchpoints (redeliveries counted once).",
     lambda v: v.event_count),
    ("channels", "VARCHAR[]", "Channels the customer used, sorted.",
     lambda v: list(v.channels)),
    ("visits", "BIGINT", "Visits recorded.",
     lambda v: v.counts_by_kind.get("visit_recorded", 0)),
    ("calls", "BIGINT", "Calls handled, either direction.",
     lambda v: v.counts_by_kind.get("call_handled", 0)),
    ("purchase_count", "BIGINT", "Purchases, all currencies.",
     lambda v: v.purchases.purchase_count),
    ("purchase_days", "BIGINT", "Distinct UTC days with a purchase.",
     lambda v: v.purchases.purchase_days),
    ("first_purchase_at", "TIMESTAMPTZ", "First purchase.",
     lambda v: v.purchases.first_purchase_at),
    ("last_purchase_at", "TIMESTAMPTZ", "Latest purchase.",
     lambda v: v.purchases.last_purchase_at),
    ("currency", "VARCHAR", "Currency of most purchases: the money columns are in it.",
     lambda v: v.purchases.currency),
    ("other_currency_purchases", "BIGINT", "Purchases in other currencies (not in money columns).",
     lambda v: v.purchases.other_currency_purchases),
    ("total_spend_minor", "BIGINT", "Total spend, minor units.",
     lambda v: v.purchases.total_spend_minor),
    ("avg_order_value_minor", "BIGINT", "Mean purchase amount, minor units.",
     lambda v: v.purchases.avg_order_value_minor),
    ("spend_90d_minor", "BIGINT", "Spend in the 90 days up to as_of, minor units.",
     lambda v: v.purchases.spend_90d_minor),
    ("spend_365d_minor", "BIGINT", "Spend in the 365 days up to as_of, minor units.",
     lambda v: v.purchases.spend_365d_minor),
    ("frequency", "BIGINT", "BTYD frequency: purchase days after the first.",
     lambda v: v.purchases.frequency),
    ("recency_days", "BIGINT", "BTYD recency: days from first to last purchase day.",
     lambda v: v.purchases.recency_days),
    ("t_days", "BIGINT", "BTYD T: days from the first purchase day to as_of.",
     lambda v: v.purchases.t_days),
    ("monetary_minor", "BIGINT", "BTYD monetary value: mean spend per repeat purchase day.",
     lambda v: v.purchases.monetary_minor),
    ("complaints_filed", "BIGINT", "Complaints filed.",
     lambda v: v.complaints.complaints_filed),
    ("open_complaints", "BIGINT", "Complaints filed and not resolved.",
     lambda v: len(v.complaints.open)),
    ("oldest_open_complaint_days", "BIGINT", "Age in whole days of the oldest open complaint.",
     lambda v: max((c.age_days for c in v.complaints.open), default=None)),
    ("complaints_resolved", "BIGINT", "Complaints resolved (first non-rejected resolution).",
     lambda v: v.complaints.complaints_resolved),
    ("complaints_overdue", "BIGINT", "Complaints open past, or resolved after, promised_by.",
     lambda v: v.complaints.complaints_overdue),
    ("resolutions_rejected", "BIGINT", "Resolutions the customer rejected.",
     lambda v: v.complaints.resolutions_rejected),
    ("surveys_answered", "BIGINT", "Survey answers.",
     lambda v: v.satisfaction.surveys_answered),
    ("last_score", "DOUBLE", "Last survey score rescaled to 0..1.",
     lambda v: v.satisfaction.last_score),
    ("last_score_raw", "INTEGER", "Last survey score on its own scale.",
     lambda v: v.satisfaction.last_score_raw),
    ("score_trend", "DOUBLE", "Last rescaled score minus the previous one.",
     lambda v: v.satisfaction.trend),
    ("referrals_made", "BIGINT", "Distinct customers this customer referred.",
     lambda v: v.referrals_made),
)  # fmt: skip

VIEW_COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    (name, sql_type, doc) for name, sql_type, doc, _ in _COLUMNS
)


def view_row(view: CustomerView) -> dict[str, object]:
    """The ``customer_view`` row of ``view``: keys are ``VIEW_COLUMNS``' names, in order."""
    return {name: value(view) for name, _, _, value in _COLUMNS}
