"""Response models of the reports: summary, loyalty funnel, value pyramid, timeliness.

May import: pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from api.freshness import Freshness
from api.models import Record, WarningCounts


class Summary(BaseModel):
    customers: int
    buyers: int
    total_spend_minor: dict[str, int] = Field(description="Per currency.")
    open_complaints: int
    customers_with_open_complaints: int
    overdue_complaints: int
    aliases: int
    open_warnings: WarningCounts
    freshness: Freshness


class FunnelStep(Record):
    stage: str
    customers: int
    share: float | None = Field(description="Of all customers with a stage; null: none.")
    conversion: float | None = Field(
        description="Ladder stages: customers at this stage or above ÷ at the previous or above."
    )


class Funnel(BaseModel):
    customers: int = Field(description="Customers with a loyalty stage.")
    stages: list[FunnelStep] = Field(description="The ladder in order, then the off-ladder stages.")
    freshness: Freshness


class TierRow(Record):
    tier: str
    customers: int
    value_minor: int
    customer_share: float | None
    value_share: float | None


class Pyramid(Record):
    customers: int
    ranked: int = Field(description="Customers with a value above 0.")
    total_value_minor: int
    pareto_share: float | None = Field(
        description="Share of the value held by the top 20% of the ranked customers."
    )
    tiers: list[TierRow] = Field(description="vip, key, regular, small.")
    freshness: Freshness


class RepurchaseGroup(Record):
    outcome: str = Field(description="on_time, late or never (still open past the deadline).")
    complaints: int
    repurchased: int
    rate: float | None


class OpenComplaint(Record):
    customer_id: str
    complaint_id: str
    category: str
    severity: str
    filed_at: datetime
    deadline: datetime
    age_hours: float
    hours_overdue: float
    overdue: bool


class Timeliness(Record):
    """Complaint handling as of ``as_of`` (docs/api.md gives each definition)."""

    as_of: datetime
    filed: int
    resolved: int
    open: int
    open_overdue: int
    due: int = Field(description="Complaints whose deadline has passed by as_of.")
    due_on_time: int = Field(description="Of those, resolved by their deadline.")
    resolved_on_time: int
    resolved_late: int
    timeliness_rate: float | None = Field(description="due_on_time ÷ due.")
    median_hours_to_resolve: float | None
    answered: int
    accepted: int
    acceptance_rate: float | None = Field(description="accepted ÷ answered resolutions.")
    repurchase: list[RepurchaseGroup]
    open_complaints: list[OpenComplaint] = Field(description="Most overdue first.")
    freshness: Freshness
