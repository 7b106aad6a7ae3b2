"""Customers listed from a read-model snapshot: filtered, sorted, one page at a time.

``list_customers`` joins each ``customer_view`` row with the customer's loyalty
stage, value tier, CLV scores and open churn warnings, filters by stage, tier,
warning reason or identifier fingerprint, sorts by one of ``SORT_KEYS`` and
returns one page with the number of customers that match. Merged-away ids are
not listed (they have no view); their canonical customer is.

Identifiers are matched by fingerprint (keyed HMAC, schemas/pii.py): the caller
fingerprints the e-mail or phone a user typed with the deployment's pepper, and
the customers whose view holds that fingerprint match (docs/privacy.md).

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb

from projections import churn_queries, queries

# Sort key -> SQL expression (a whitelist: never interpolate user text into SQL).
SORT_KEYS = {
    "customer_id": "v.customer_id",
    "total_spend": "v.total_spend_minor",
    "value": "t.value_minor",
    "clv": "c.clv_minor",
    "p_alive": "c.p_alive",
    "last_seen": "v.last_seen_at",
    "last_purchase": "v.last_purchase_at",
    "open_complaints": "v.open_complaints",
    "priority": "w.top_priority",
}
SortKey = Literal[
    "customer_id",
    "total_spend",
    "value",
    "clv",
    "p_alive",
    "last_seen",
    "last_purchase",
    "open_complaints",
    "priority",
]
IdentifierKind = Literal["email", "phone"]


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """One line of the list. Money in minor units: spend in ``currency`` (the customer's
    main currency), value and CLV in the reporting currency ``clv_currency``."""

    customer_id: str
    stage: str | None
    tier: str | None
    value_minor: int | None
    clv_minor: float | None
    p_alive: float | None
    clv_currency: str | None
    currency: str | None
    total_spend_minor: int
    purchase_count: int
    last_seen_at: datetime | None
    last_purchase_at: datetime | None
    open_complaints: int
    open_warnings: int
    warning_reasons: tuple[str, ...]
    top_priority: float | None


@dataclass(frozen=True, slots=True)
class CustomerPage:
    total: int
    items: tuple[CustomerSummary, ...]


_WARNINGS = """
SELECT customer_id, count(*) AS open_warnings, max(priority) AS top_priority,
       list_sort(list_distinct(flatten(list(reasons)))) AS reasons
FROM open_churn_warnings GROUP BY customer_id
"""
_NO_WARNINGS = (
    "SELECT NULL::VARCHAR AS customer_id, 0 AS open_warnings, NULL::DOUBLE AS top_priority, "
    "NULL::VARCHAR[] AS reasons WHERE false"
)
_COLUMNS = """
v.customer_id, s.stage, t.tier, t.value_minor, c.clv_minor, c.p_alive, c.currency,
v.currency, v.total_spend_minor, v.purchase_count, v.last_seen_at, v.last_purchase_at,
v.open_complaints, coalesce(w.open_warnings, 0), coalesce(w.reasons, []), w.top_priority
"""
_FROM = """
FROM customer_view v
LEFT JOIN loyalty_stage s USING (customer_id)
LEFT JOIN value_tier t USING (customer_id)
LEFT JOIN clv c USING (customer_id)
LEFT JOIN ({warnings}) w USING (customer_id)
WHERE ($stage::VARCHAR IS NULL OR s.stage = $stage)
  AND ($tier::VARCHAR IS NULL OR t.tier = $tier)
  AND ($reason::VARCHAR IS NULL OR list_contains(w.reasons, $reason))
  AND ($email::VARCHAR IS NULL
       OR list_contains(CAST(v.view_json->'$.identifiers.email' AS VARCHAR[]), $email))
  AND ($phone::VARCHAR IS NULL
       OR list_contains(CAST(v.view_json->'$.identifiers.phone' AS VARCHAR[]), $phone))
"""


def list_customers(
    conn: duckdb.DuckDBPyConnection,
    *,
    stage: str | None = None,
    tier: str | None = None,
    reason: str | None = None,
    fingerprints: dict[IdentifierKind, str] | None = None,
    sort: SortKey = "customer_id",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> CustomerPage:
    """The customers that match every filter given (``fingerprints``: kind -> the
    fingerprint of an identifier they hold), sorted by ``sort`` (missing values last,
    ties by id), rows ``offset`` .. ``offset + limit``, and how many match in all.

    Raises ``queries.ReadModelOutdated`` for a snapshot without loyalty or value tables;
    without churn tables nobody has a warning (a ``reason`` filter matches nobody).
    """
    if not (queries.has_loyalty(conn) and queries.has_values(conn)):
        raise queries.ReadModelOutdated(
            "the read model has no loyalty or value tables yet (published by an older "
            "materializer): run `touchpoint materialize --until-idle` to migrate it"
        )
    warnings = _WARNINGS if churn_queries.has_churn(conn) else _NO_WARNINGS
    found = fingerprints or {}
    params: dict[str, Any] = {
        "stage": stage,
        "tier": tier,
        "reason": reason,
        "email": found.get("email"),
        "phone": found.get("phone"),
    }
    where = _FROM.format(warnings=warnings)
    total = (conn.execute(f"SELECT count(*) {where}", params).fetchone() or (0,))[0]
    direction = "DESC" if descending else "ASC"
    rows = conn.execute(
        f"SELECT {_COLUMNS} {where} ORDER BY {SORT_KEYS[sort]} {direction} NULLS LAST, "
        "v.customer_id LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    return CustomerPage(int(total), tuple(_summary(row) for row in rows))


def _summary(row: tuple[Any, ...]) -> CustomerSummary:
    (customer, stage, tier, value, clv, p_alive, clv_currency, currency, spend, purchases,
     seen, bought, complaints, warnings, reasons, priority) = row  # fmt: skip
    return CustomerSummary(
        customer_id=str(customer),
        stage=_text(stage),
        tier=_text(tier),
        value_minor=None if value is None else int(value),
        clv_minor=None if clv is None else float(clv),
        p_alive=None if p_alive is None else float(p_alive),
        clv_currency=_text(clv_currency),
        currency=_text(currency),
        total_spend_minor=int(spend),
        purchase_count=int(purchases),
        last_seen_at=seen,
        last_purchase_at=bought,
        open_complaints=int(complaints),
        open_warnings=int(warnings),
        warning_reasons=tuple(str(r) for r in reasons),
        top_priority=None if priority is None else float(priority),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
