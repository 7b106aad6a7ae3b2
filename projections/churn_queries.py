"""Read queries on the churn and complaint tables of a read-model snapshot.

``open_warnings`` (the worklist, most urgent first), ``open_warning_counts``,
``warning_history`` (one customer's warnings with their events) and
``complaint_timeliness`` (the complaint-handling KPIs as of an instant). The
tables are described in projections/churn_store.py and docs/read-model.md. A
snapshot written before they existed has none: these functions then return
empty results (``has_churn`` and ``has_complaint_sla`` say which is the case).

Used by the HTTP API and the ``touchpoint warnings`` / ``complaints`` commands.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from projections.churn_signals import CODES
from projections.complaint_timeliness import Timeliness, complaint_timeliness, has_complaint_sla

__all__ = [
    "REASONS",
    "SEVERITIES",
    "OpenWarning",
    "Timeliness",
    "WarningCounts",
    "WarningEvent",
    "WarningPage",
    "WarningRecord",
    "complaint_timeliness",
    "has_churn",
    "has_complaint_sla",
    "open_warning_counts",
    "open_warnings",
    "warning_history",
]

REASONS = CODES  # the reason codes a warning may carry (the rules', docs/churn.md)
SEVERITIES = ("warning", "critical")
_CHURN_RELATIONS = ("churn_warnings", "churn_warning_events", "open_churn_warnings")


@dataclass(frozen=True, slots=True)
class OpenWarning:
    """An open warning with the customer's current value tier (None: no tier) and its
    ``priority``: score × tier weight (vip 4, key 3, regular 2, else 1)."""

    warning_id: str
    customer_id: str
    reasons: tuple[str, ...]
    severity: str
    score: float
    priority: float
    value_tier: str | None
    value_minor: int
    raised_at: datetime
    updated_at: datetime
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WarningPage:
    """``items``: one page of the open warnings that match; ``total``: all that match."""

    total: int
    items: tuple[OpenWarning, ...]


@dataclass(frozen=True, slots=True)
class WarningCounts:
    """Open warnings: all, per severity and per reason (a warning counts once per reason)."""

    total: int
    by_severity: dict[str, int]
    by_reason: dict[str, int]


@dataclass(frozen=True, slots=True)
class WarningEvent:
    """One event in a warning's life: ``kind`` raised, updated or cleared."""

    kind: str
    occurred_at: datetime
    reasons: tuple[str, ...]
    severity: str | None
    score: float | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class WarningRecord:
    """A warning, open or cleared, as last raised or updated, with its events (oldest first)."""

    warning_id: str
    customer_id: str
    status: str
    reasons: tuple[str, ...]
    severity: str
    score: float
    evidence: dict[str, Any]
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    cleared_because: str | None
    events: tuple[WarningEvent, ...]


def has_churn(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the snapshot has the churn warning tables and the ``open_churn_warnings`` view."""
    found = conn.execute(
        "SELECT count(*) FROM (SELECT table_name AS name FROM duckdb_tables() "
        "WHERE database_name = current_database() UNION ALL SELECT view_name FROM duckdb_views() "
        "WHERE database_name = current_database()) WHERE list_contains(?, name)",
        [list(_CHURN_RELATIONS)],
    ).fetchone()
    return found is not None and found[0] == len(_CHURN_RELATIONS)


_OPEN_COLUMNS = (
    "warning_id, customer_id, reasons, severity, score, priority, value_tier, value_minor, "
    "raised_at, updated_at, evidence"
)
_FILTER = (
    "(?::VARCHAR IS NULL OR list_contains(reasons, ?)) AND (?::VARCHAR IS NULL OR severity = ?) "
    "AND (?::VARCHAR IS NULL OR customer_id = ?)"
)


def open_warnings(
    conn: duckdb.DuckDBPyConnection,
    *,
    reason: str | None = None,
    severity: str | None = None,
    customer_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> WarningPage:
    """The open warnings, highest priority first (then the oldest raised, then by id),
    optionally only those with ``reason``, of ``severity`` or of ``customer_id``; the page
    ``offset`` .. ``offset + limit`` of them and how many match. Empty without churn tables."""
    if not has_churn(conn):
        return WarningPage(0, ())
    params = [reason, reason, severity, severity, customer_id, customer_id]
    counted = conn.execute(f"SELECT count(*) FROM open_churn_warnings WHERE {_FILTER}", params)
    total = (counted.fetchone() or (0,))[0]
    rows = conn.execute(
        f"SELECT {_OPEN_COLUMNS} FROM open_churn_warnings WHERE {_FILTER} "
        "ORDER BY priority DESC, raised_at, warning_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return WarningPage(int(total), tuple(_open_warning(row) for row in rows))


def _open_warning(row: tuple[Any, ...]) -> OpenWarning:
    wid, customer, reasons, severity, score, priority, tier, value, raised, updated, evidence = row
    return OpenWarning(
        str(wid),
        str(customer),
        tuple(reasons),
        str(severity),
        float(score),
        float(priority),
        None if tier is None else str(tier),
        int(value),
        raised,
        updated,
        _json(evidence),
    )


def open_warning_counts(conn: duckdb.DuckDBPyConnection) -> WarningCounts:
    """How many warnings are open, per severity and per reason (every known reason and
    severity is listed, with 0 when none). All zero without churn tables."""
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_reason = dict.fromkeys(REASONS, 0)
    if not has_churn(conn):
        return WarningCounts(0, by_severity, by_reason)
    for severity, n in conn.execute(
        "SELECT severity, count(*) FROM open_churn_warnings GROUP BY ALL"
    ).fetchall():
        by_severity[str(severity)] = int(n)
    for reason, n in conn.execute(
        "SELECT reason, count(*) FROM (SELECT unnest(reasons) AS reason FROM open_churn_warnings) "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        by_reason[str(reason)] = int(n)
    return WarningCounts(sum(by_severity.values()), by_severity, by_reason)


_HISTORY = """
SELECT warning_id, customer_id, status, reasons, severity, score, evidence, raised_at,
       updated_at, cleared_at, cleared_because
FROM churn_warnings WHERE customer_id = ? ORDER BY raised_at DESC, warning_id
"""
_EVENTS = """
SELECT warning_id, kind, occurred_at, reasons, severity, score, detail
FROM churn_warning_events WHERE list_contains(?, warning_id) ORDER BY occurred_at, kind
"""


def warning_history(conn: duckdb.DuckDBPyConnection, customer_id: str) -> list[WarningRecord]:
    """Every warning of ``customer_id`` (no alias following), open or cleared, newest
    raised first, each with its events oldest first. Empty without churn tables."""
    if not has_churn(conn):
        return []
    warnings = conn.execute(_HISTORY, [customer_id]).fetchall()
    events: dict[str, list[WarningEvent]] = {}
    ids = [str(row[0]) for row in warnings]
    for wid, kind, at, reasons, severity, score, detail in conn.execute(_EVENTS, [ids]).fetchall():
        event = WarningEvent(
            str(kind),
            at,
            tuple(reasons),
            None if severity is None else str(severity),
            None if score is None else float(score),
            _json(detail),
        )
        events.setdefault(str(wid), []).append(event)
    return [
        WarningRecord(
            str(wid),
            str(customer),
            str(status),
            tuple(reasons),
            str(severity),
            float(score),
            _json(evidence),
            raised,
            updated,
            cleared,
            None if because is None else str(because),
            tuple(events.get(str(wid), ())),
        )
        for wid, customer, status, reasons, severity, score, evidence, raised, updated, cleared,
        because in warnings
    ]  # fmt: skip


def _json(value: Any) -> dict[str, Any]:
    """A JSON column as a dict (DuckDB returns JSON as text); anything else in ``value``."""
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else {"value": loaded}
