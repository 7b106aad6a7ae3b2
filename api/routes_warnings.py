"""``/warnings``: the open churn warnings, most urgent first: the retention worklist.

May import: fastapi, pydantic, projections, api, stdlib.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import ReadModel
from api.models import (
    MAX_OFFSET,
    MAX_PAGE,
    OpenWarning,
    Severity,
    WarningCounts,
    WarningList,
    WarningReason,
    page_fields,
)
from projections import churn_queries

router = APIRouter(tags=["warnings"])


@router.get("/warnings", summary="Open churn warnings by priority")
def open_warnings(
    read: ReadModel,
    reason: Annotated[WarningReason | None, Query(description="Only this reason.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> WarningList:
    """Open warnings ordered by priority (score × value-tier weight), then the oldest
    raised: the most valuable customers at the most risk come first."""
    found = churn_queries.open_warnings(
        read.conn, reason=reason, severity=severity, limit=limit, offset=offset
    )
    counts = churn_queries.open_warning_counts(read.conn)
    return WarningList(
        items=[OpenWarning.model_validate(w) for w in found.items],
        counts=WarningCounts.model_validate(counts),
        freshness=read.freshness,
        **page_fields(found.total, limit, offset),
    )
