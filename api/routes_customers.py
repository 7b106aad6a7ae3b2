"""``/customers``: the list (filter, search by e-mail or phone, sort, page), one customer
360° by id or alias, and a customer's churn warnings.

May import: fastapi, pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status

from api.customer_models import (
    AliasStep,
    Clv,
    CustomerDetail,
    CustomerItem,
    CustomerList,
    LoyaltyStage,
    OpenComplaint,
    StageChange,
    TimelineItem,
    ValueTier,
)
from api.deps import Reading, ReadModel
from api.models import (
    CUSTOMER_ID_PATTERN,
    MAX_OFFSET,
    MAX_PAGE,
    OpenWarning,
    Problem,
    WarningHistory,
    WarningReason,
    WarningRecord,
    page_fields,
)
from projections import churn_queries, customer_list, queries
from projections.customer_list import SortKey
from projections.loyalty import LoyaltyStageChanged, Stage
from projections.ports import StoredStage, StoredTier
from projections.value_tiers import Tier

router = APIRouter(tags=["customers"])
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "Neither a customer id nor an alias."}
}

Fingerprint = Callable[[Literal["email", "phone"], str], str]
STAGE_CHANGES = 10  # latest stage changes in the 360 view
TIMELINE = 20  # latest touchpoints in the 360 view

CustomerId = Annotated[
    str,
    Path(
        pattern=CUSTOMER_ID_PATTERN,
        description="A customer id, or an id merged into another customer (followed).",
        examples=["C000042"],
    ),
]


@router.get("/customers", summary="List, filter and search customers")
def list_customers(
    read: ReadModel,
    request: Request,
    stage: Annotated[Stage | None, Query(description="Current loyalty stage.")] = None,
    tier: Annotated[Tier | None, Query(description="Current value tier.")] = None,
    reason: Annotated[
        WarningReason | None, Query(description="Has an open churn warning for this reason.")
    ] = None,
    email: Annotated[
        str | None,
        Query(max_length=254, pattern=r"^\s*[^@\s]+@[^@\s]+\s*$", description="Holds this e-mail."),
    ] = None,
    phone: Annotated[
        str | None,
        Query(
            max_length=40, pattern=r"^\s*\+?[0-9][0-9 ()./\-]{2,}$", description="Holds this phone."
        ),
    ] = None,
    sort: Annotated[SortKey, Query(description="Sort key; missing values last.")] = "customer_id",
    order: Annotated[Literal["asc", "desc"], Query()] = "asc",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CustomerList:
    """Customers matching every filter given, one page at a time. ``email`` and ``phone``
    match by keyed fingerprint: personal data is never stored in clear text."""
    fingerprint: Fingerprint = request.app.state.fingerprint
    prints: dict[customer_list.IdentifierKind, str] = {}
    if email is not None:
        prints["email"] = fingerprint("email", email)
    if phone is not None:
        prints["phone"] = fingerprint("phone", phone)
    found = customer_list.list_customers(
        read.conn,
        stage=None if stage is None else stage.value,
        tier=None if tier is None else tier.value,
        reason=reason,
        fingerprints=prints,
        sort=sort,
        descending=order == "desc",
        limit=limit,
        offset=offset,
    )
    return CustomerList(
        items=[CustomerItem.model_validate(item) for item in found.items],
        freshness=read.freshness,
        **page_fields(found.total, limit, offset),
    )


@router.get("/customers/{customer_id}", summary="One customer, 360°", responses=NOT_FOUND)
def get_customer(read: ReadModel, customer_id: CustomerId) -> CustomerDetail:
    """The unified view of the customer (an alias id leads to the customer it was merged
    into), with loyalty stage, value tier, CLV, open warnings and the recent timeline."""
    found = _lookup(read, customer_id)
    assert found.view is not None and found.row is not None  # _lookup refuses the others
    canonical = found.customer_id
    stage = queries.current_stage(read.conn, canonical)
    tier = queries.value_tier(read.conn, canonical)
    score = queries.clv_of(read.conn, canonical)
    changes = queries.stage_history(read.conn, canonical, limit=STAGE_CHANGES)
    warnings = churn_queries.open_warnings(read.conn, customer_id=canonical, limit=MAX_PAGE)
    view = found.view
    return CustomerDetail(
        requested_id=found.requested_id,
        customer_id=canonical,
        alias_path=[AliasStep.model_validate(step) for step in found.alias_path],
        merged_ids=sorted({*view.get("aliases", ()), *found.merged_ids}),
        figures=found.row,
        loyalty=_loyalty(stage),
        stage_changes=[_change(change) for change in reversed(changes)],
        value=_value(tier),
        clv=None if score is None else Clv.model_validate(score),
        warnings=[OpenWarning.model_validate(w) for w in warnings.items],
        open_complaints=[OpenComplaint(**c) for c in view["complaints"]["open"]],
        timeline=[TimelineItem(**item) for item in view["timeline"][:TIMELINE]],
        view=view,
        freshness=read.freshness,
    )


def _loyalty(stage: StoredStage | None) -> LoyaltyStage | None:
    if stage is None:
        return None
    trigger = None if stage.trigger_event_id is None else str(stage.trigger_event_id)
    return LoyaltyStage(
        stage=stage.stage.value, reason=stage.reason, since=stage.since, trigger_event_id=trigger
    )


def _change(change: LoyaltyStageChanged) -> StageChange:
    return StageChange(
        from_stage=None if change.from_stage is None else change.from_stage.value,
        to_stage=change.to_stage.value,
        reason=change.reason,
        occurred_at=change.occurred_at,
    )


def _value(tier: StoredTier | None) -> ValueTier | None:
    if tier is None:
        return None
    return ValueTier(
        tier=tier.tier.value,
        value_minor=tier.value_minor,
        rank=tier.rank,
        population=tier.population,
    )


@router.get(
    "/customers/{customer_id}/warnings", summary="A customer's churn warnings", responses=NOT_FOUND
)
def customer_warnings(read: ReadModel, customer_id: CustomerId) -> WarningHistory:
    """Every churn warning of the customer, open or cleared, newest first, with events."""
    found = _lookup(read, customer_id)
    history = churn_queries.warning_history(read.conn, found.customer_id)
    return WarningHistory(
        customer_id=found.customer_id,
        warnings=[WarningRecord.model_validate(w) for w in history],
        freshness=read.freshness,
    )


def _lookup(read: Reading, customer_id: str) -> queries.CustomerLookup:
    found = queries.customer(read.conn, customer_id)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no customer {customer_id} in the read model (neither a customer id nor an alias)",
        )
    if found.view is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"{customer_id} was merged into {found.customer_id}, which has no view in the read "
            "model yet",
        )
    return found
