"""Response models shared by the routes: errors, pages, churn warnings.

Each model mirrors a read-side record of projections (built with
``model_validate(record)``), so the OpenAPI spec documents exactly what the
queries return.

May import: pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.freshness import Freshness

# The event contract's customer id (schemas/envelope.py CustomerId), the churn rules' reason
# codes (projections.churn_signals.CODES) and severities: tests check they agree.
CUSTOMER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
MAX_PAGE = 500
MAX_OFFSET = 1_000_000

WarningReason = Literal[
    "overdue_purchase",
    "falling_frequency",
    "falling_spend",
    "complaint_overdue",
    "resolution_rejected",
    "low_satisfaction",
    "low_p_alive",
    "silent_dissatisfaction",
]
Severity = Literal["warning", "critical"]


class Problem(BaseModel):
    """An error: what went wrong, in words."""

    detail: str = Field(description="What went wrong and, where it helps, what to do.")


class Record(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel):
    """One page of a list: ``items`` from ``offset``, ``total`` matching in all."""

    total: int = Field(ge=0, description="Items that match, on every page.")
    limit: int = Field(ge=1, description="Page size asked for.")
    offset: int = Field(ge=0, description="Items skipped before this page.")
    next_offset: int | None = Field(
        description="The offset of the next page; null on the last page."
    )
    freshness: Freshness


def page_fields(total: int, limit: int, offset: int) -> dict[str, Any]:
    """The paging fields of a ``Page`` for a page of ``limit`` at ``offset`` out of ``total``."""
    following = offset + limit
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


class OpenWarning(Record):
    """An open churn warning, with the customer's value tier and the resulting priority."""

    warning_id: str
    customer_id: str
    reasons: list[str] = Field(description="Reason codes, e.g. complaint_overdue.")
    severity: str = Field(description="warning or critical.")
    score: float
    priority: float = Field(description="score × tier weight (vip 4, key 3, regular 2, else 1).")
    value_tier: str | None
    value_minor: int = Field(description="The customer's value when the warning was raised.")
    raised_at: datetime
    updated_at: datetime
    evidence: dict[str, Any] = Field(description="The figures the rules saw.")


class WarningCounts(Record):
    total: int
    by_severity: dict[str, int]
    by_reason: dict[str, int]


class WarningList(Page):
    """Open warnings, highest priority first."""

    items: list[OpenWarning]
    counts: WarningCounts = Field(description="All open warnings (not only this page's).")


class WarningEvent(Record):
    kind: str = Field(description="raised, updated or cleared.")
    occurred_at: datetime
    reasons: list[str]
    severity: str | None
    score: float | None
    detail: dict[str, Any]


class WarningRecord(Record):
    """A warning, open or cleared, with its events oldest first."""

    warning_id: str
    customer_id: str
    status: str = Field(description="open or cleared.")
    reasons: list[str]
    severity: str
    score: float
    evidence: dict[str, Any]
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    cleared_because: str | None
    events: list[WarningEvent]


class WarningHistory(BaseModel):
    customer_id: str = Field(description="The canonical customer (aliases are followed).")
    warnings: list[WarningRecord]
    freshness: Freshness
