"""Response models of the customer resources: the 360 view and the list.

May import: pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from api.freshness import Freshness
from api.models import OpenWarning, Page, Record


class AliasStep(Record):
    customer_id: str = Field(description="An id merged into another ...")
    canonical_id: str = Field(description="... this one ...")
    caused_by: str = Field(description="... by this identity link event.")


class LoyaltyStage(BaseModel):
    stage: str = Field(description="prospect, first_time_buyer, ..., lapsed, win_back.")
    reason: str
    since: datetime
    trigger_event_id: str | None


class StageChange(BaseModel):
    from_stage: str | None
    to_stage: str
    reason: str
    occurred_at: datetime


class ValueTier(BaseModel):
    tier: str = Field(description="vip, key, regular or small.")
    value_minor: int
    rank: int | None
    population: int


class Clv(Record):
    fitted_at: datetime
    p_alive: float = Field(description="Probability the customer is still active (BG/NBD).")
    expected_purchases_90d: float
    expected_spend_minor: float | None
    clv_minor: float | None = Field(description="Discounted expected revenue, minor units.")
    currency: str
    horizon_months: int
    monthly_discount_rate: float


class TimelineItem(BaseModel):
    occurred_at: datetime
    event_type: str
    channel: str
    summary: str
    event_id: str


class OpenComplaint(BaseModel):
    complaint_id: str
    category: str
    severity: str
    filed_at: datetime
    age_days: int
    promised_by: datetime | None
    overdue: bool


class CustomerDetail(BaseModel):
    """One customer, 360°: who, where on the loyalty ladder, what they are worth, what is
    wrong (open warnings and complaints), and what happened lately."""

    requested_id: str
    customer_id: str = Field(description="The canonical customer (aliases are followed).")
    alias_path: list[AliasStep] = Field(description="Merges followed from requested_id.")
    merged_ids: list[str] = Field(description="Ids merged into this customer.")
    figures: dict[str, Any] = Field(
        description="The customer_view row: one figure per column (docs/read-model.md)."
    )
    loyalty: LoyaltyStage | None
    stage_changes: list[StageChange] = Field(description="The latest stage changes, newest first.")
    value: ValueTier | None
    clv: Clv | None
    warnings: list[OpenWarning] = Field(description="Open churn warnings, most urgent first.")
    open_complaints: list[OpenComplaint]
    timeline: list[TimelineItem] = Field(description="The latest touchpoints, newest first.")
    view: dict[str, Any] = Field(description="The whole unified view (CustomerView).")
    freshness: Freshness


class CustomerItem(Record):
    """One customer in a list. Spend in ``currency``; value and CLV in ``clv_currency``."""

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
    warning_reasons: list[str]
    top_priority: float | None = Field(description="Priority of the most urgent open warning.")


class CustomerList(Page):
    items: list[CustomerItem]
