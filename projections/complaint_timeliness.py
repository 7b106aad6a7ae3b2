"""Complaint-handling timeliness from the ``complaint_sla`` table, as of an instant.

Every figure is computed from the rows' timestamps as they stand at ``as_of``
(a complaint resolved after ``as_of`` counts as open then), so the same
snapshot answers for any earlier instant too (docs/read-model.md):

- **timeliness rate**: complaints whose deadline has passed by ``as_of`` (due)
  and that were resolved by their deadline ÷ all due complaints; the ones still
  open past their deadline are in the denominator. A complaint resolved early
  counts once its deadline has passed, so fast and slow ones enter alike;
- **median hours to resolve** over the complaints resolved by ``as_of``;
- **acceptance rate**: resolutions the customer accepted ÷ resolutions with an
  answer (``accepted`` not null);
- **repurchase rate** per outcome: resolved on time, resolved late, never
  resolved (still open past the deadline): complaints with a purchase recorded
  after them (``repurchased_at`` by ``as_of``) ÷ complaints in the group;
- the **open complaints**, most overdue first, with their age and deadline.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

OUTCOMES = ("on_time", "late", "never")  # repurchase groups: resolved on time, late, not at all


@dataclass(frozen=True, slots=True)
class RepurchaseGroup:
    """Complaints of one ``outcome`` (on_time, late, never), how many of their customers
    bought again after them, and the share (None: no complaint in the group)."""

    outcome: str
    complaints: int
    repurchased: int
    rate: float | None


@dataclass(frozen=True, slots=True)
class OpenComplaint:
    """A complaint still open at ``as_of``: hours since filed, hours past the deadline
    (0 when not due yet), and whether it is overdue (its deadline has passed)."""

    customer_id: str
    complaint_id: str
    category: str
    severity: str
    filed_at: datetime
    deadline: datetime
    age_hours: float
    hours_overdue: float
    overdue: bool


@dataclass(frozen=True, slots=True)
class Timeliness:
    """The complaint-handling figures as of ``as_of`` (ratios None when there is nothing
    to divide by); ``open_complaints``: the most overdue open ones, up to the limit asked."""

    as_of: datetime
    filed: int
    resolved: int
    open: int
    open_overdue: int
    due: int
    due_on_time: int
    resolved_on_time: int
    resolved_late: int
    timeliness_rate: float | None
    median_hours_to_resolve: float | None
    answered: int
    accepted: int
    acceptance_rate: float | None
    repurchase: tuple[RepurchaseGroup, ...]
    open_complaints: tuple[OpenComplaint, ...]


def has_complaint_sla(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the snapshot has the ``complaint_sla`` table."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name = 'complaint_sla'"
    ).fetchone()
    return found is not None and found[0] == 1


# The complaints filed by $as_of, with whether each was resolved by then.
_AT = """
WITH c AS (
    SELECT *, resolved_at IS NOT NULL AND resolved_at <= $as_of AS done,
           deadline <= $as_of AS due,
           coalesce(hours_to_resolve, epoch(resolved_at - filed_at) / 3600) AS hours,
           repurchased_at IS NOT NULL AND repurchased_at <= $as_of AS bought
    FROM complaint_sla WHERE filed_at <= $as_of
)
"""
_FIGURES = (
    _AT
    + """
SELECT count(*), count(*) FILTER (done), count(*) FILTER (NOT done),
       count(*) FILTER (NOT done AND due), count(*) FILTER (due),
       count(*) FILTER (due AND done AND resolved_at <= deadline),
       count(*) FILTER (done AND resolved_at <= deadline),
       count(*) FILTER (done AND resolved_at > deadline),
       median(hours) FILTER (done),
       count(*) FILTER (done AND accepted IS NOT NULL), count(*) FILTER (done AND accepted)
FROM c
"""
)
_REPURCHASE = (
    _AT
    + """
SELECT outcome, count(*), count(*) FILTER (bought) FROM (
    SELECT bought, CASE WHEN NOT done THEN 'never' WHEN resolved_at <= deadline THEN 'on_time'
                        ELSE 'late' END AS outcome
    FROM c WHERE done OR due
) GROUP BY ALL
"""
)
_OPEN = (
    _AT
    + """
SELECT customer_id, complaint_id, category, severity, filed_at, deadline,
       epoch($as_of - filed_at) / 3600, greatest(epoch($as_of - deadline) / 3600, 0), due
FROM c WHERE NOT done ORDER BY deadline, filed_at, customer_id, complaint_id LIMIT $limit
"""
)


def complaint_timeliness(
    conn: duckdb.DuckDBPyConnection, as_of: datetime, *, open_limit: int = 50
) -> Timeliness:
    """The complaint-handling figures as of ``as_of`` (timezone-aware) and the
    ``open_limit`` most overdue open complaints. All zero without ``complaint_sla``."""
    if not has_complaint_sla(conn):
        groups = tuple(RepurchaseGroup(o, 0, 0, None) for o in OUTCOMES)
        return Timeliness(as_of, 0, 0, 0, 0, 0, 0, 0, 0, None, None, 0, 0, None, groups, ())
    at = {"as_of": as_of}
    row = conn.execute(_FIGURES, at).fetchone()
    assert row is not None  # an aggregate always returns one row
    filed, done, still_open, overdue, due, due_on_time, on_time, late, median, answered, ok = row
    bought = {str(o): (int(n), int(b)) for o, n, b in conn.execute(_REPURCHASE, at).fetchall()}
    opened = conn.execute(_OPEN, {**at, "limit": open_limit}).fetchall()
    return Timeliness(
        as_of=as_of,
        filed=int(filed),
        resolved=int(done),
        open=int(still_open),
        open_overdue=int(overdue),
        due=int(due),
        due_on_time=int(due_on_time),
        resolved_on_time=int(on_time),
        resolved_late=int(late),
        timeliness_rate=_ratio(due_on_time, due),
        median_hours_to_resolve=None if median is None else float(median),
        answered=int(answered),
        accepted=int(ok),
        acceptance_rate=_ratio(ok, answered),
        repurchase=tuple(
            RepurchaseGroup(o, n, b, _ratio(b, n))
            for o in OUTCOMES
            for n, b in [bought.get(o, (0, 0))]
        ),
        open_complaints=tuple(_open(row) for row in opened),
    )


def _open(row: tuple[Any, ...]) -> OpenComplaint:
    customer, complaint, category, severity, filed, deadline, age, past, due = row
    return OpenComplaint(
        str(customer),
        str(complaint),
        str(category),
        str(severity),
        filed,
        deadline,
        float(age),
        float(past),
        bool(due),
    )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
