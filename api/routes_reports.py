"""``/reports``: summary figures, the loyalty funnel, the value pyramid and complaint
timeliness (definitions in docs/read-model.md and docs/api.md).

May import: fastapi, pydantic, projections, api, stdlib.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime

from api.deps import ReadModel
from api.models import MAX_PAGE, WarningCounts
from api.report_models import Funnel, FunnelStep, Pyramid, Summary, Timeliness
from projections import churn_queries, queries

router = APIRouter(prefix="/reports", tags=["reports"])

# Instants outside these bounds are refused (422) rather than overflowing in date arithmetic.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _plausible(value: datetime) -> datetime:
    try:
        inside = EARLIEST <= value <= LATEST
    except OverflowError:  # an offset that moves the instant out of datetime's range
        inside = False
    if not inside:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()}")
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


@router.get("/summary", summary="Headline figures")
def summary(read: ReadModel) -> Summary:
    """Customers, buyers, spend per currency, complaints, merges and open warnings."""
    counts = WarningCounts.model_validate(churn_queries.open_warning_counts(read.conn))
    # Only the figures Summary names are taken (queries.summary may grow).
    figures = {**queries.summary(read.conn), "open_warnings": counts, "freshness": read.freshness}
    return Summary.model_validate(figures)


@router.get("/funnel", summary="The loyalty funnel")
def funnel(read: ReadModel) -> Funnel:
    """Customers per loyalty stage, their share, and the conversion up the ladder."""
    steps = queries.funnel(read.conn)
    return Funnel(
        customers=sum(step.customers for step in steps),
        stages=[FunnelStep.model_validate(step) for step in steps],
        freshness=read.freshness,
    )


@router.get("/pyramid", summary="The value pyramid")
def pyramid(read: ReadModel) -> Pyramid:
    """Customers and value per value tier (vip, key, regular, small) and the 80/20 check."""
    found = queries.tiers(read.conn)
    return Pyramid.model_validate({**dataclasses.asdict(found), "freshness": read.freshness})


@router.get("/complaints", summary="Complaint timeliness")
def complaints(
    read: ReadModel,
    as_of: Annotated[
        Instant | None,
        Query(description="Instant to report as of (with offset); default: the watermark."),
    ] = None,
    open_limit: Annotated[int, Query(ge=0, le=MAX_PAGE, description="Open ones listed.")] = 50,
) -> Timeliness:
    """Timeliness rate, median time to resolve, acceptance, repurchase after fast, slow and
    no resolution, and the open complaints, most overdue first."""
    when = as_of or read.freshness.watermark or datetime.now(UTC)
    found = churn_queries.complaint_timeliness(read.conn, when, open_limit=open_limit)
    return Timeliness.model_validate({**dataclasses.asdict(found), "freshness": read.freshness})
