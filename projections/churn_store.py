"""The churn and complaint tables of the DuckDB read model.

- ``churn_warnings``: one row per warning, open or cleared: its reasons and
  severity as last raised or updated, its evidence, and when and why it was
  cleared. Written from ``churn-warning-events`` (raised, updated, cleared);
- ``churn_warning_events``: that history, one row per event, primary key
  ``(warning_id, kind, occurred_at)``: a redelivered event replaces its row
  with the same values; nothing deletes a row;
- ``complaint_sla``: one row per complaint with its deadline, resolution and
  what the customer did next, from the compacted ``complaint-sla`` topic (the
  customer's rows are replaced by their latest record);
- ``open_churn_warnings``: a view of the open warnings with the customer's
  current value tier and a priority (score × tier weight), most urgent first.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import duckdb

from projections.churn import ChurnWarningEvent
from projections.complaint_sla import ComplaintRecord

CHURN_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS churn_warnings (warning_id VARCHAR PRIMARY KEY, "
    "customer_id VARCHAR NOT NULL, status VARCHAR NOT NULL, reasons VARCHAR[] NOT NULL, "
    "severity VARCHAR NOT NULL, score DOUBLE NOT NULL, evidence JSON NOT NULL, "
    "value_minor BIGINT NOT NULL, raised_at TIMESTAMPTZ NOT NULL, "
    "updated_at TIMESTAMPTZ NOT NULL, cleared_at TIMESTAMPTZ, cleared_because VARCHAR)",
    "CREATE TABLE IF NOT EXISTS churn_warning_events (warning_id VARCHAR NOT NULL, "
    "customer_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, occurred_at TIMESTAMPTZ NOT NULL, "
    "reasons VARCHAR[] NOT NULL, severity VARCHAR, score DOUBLE, detail JSON NOT NULL, "
    "PRIMARY KEY (warning_id, kind, occurred_at))",
    "CREATE TABLE IF NOT EXISTS complaint_sla (customer_id VARCHAR NOT NULL, "
    "complaint_id VARCHAR NOT NULL, category VARCHAR NOT NULL, severity VARCHAR NOT NULL, "
    "filed_at TIMESTAMPTZ NOT NULL, deadline TIMESTAMPTZ NOT NULL, resolved_at TIMESTAMPTZ, "
    "accepted BOOLEAN, outcome VARCHAR NOT NULL, hours_to_resolve DOUBLE, "
    "repurchased_at TIMESTAMPTZ, PRIMARY KEY (customer_id, complaint_id))",
    "CREATE OR REPLACE VIEW open_churn_warnings AS SELECT w.*, t.tier AS value_tier, "
    "w.score * CASE t.tier WHEN 'vip' THEN 4 WHEN 'key' THEN 3 WHEN 'regular' THEN 2 ELSE 1 END "
    "AS priority FROM churn_warnings w LEFT JOIN value_tier t USING (customer_id) "
    "WHERE w.status = 'open'",
)

_WARNING_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR[]", "VARCHAR", "DOUBLE", "JSON",
                  "BIGINT", "TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMPTZ", "VARCHAR")  # fmt: skip
_EVENT_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "VARCHAR[]", "VARCHAR", "DOUBLE",
                "JSON")  # fmt: skip
_COMPLAINT_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "TIMESTAMPTZ", "TIMESTAMPTZ",
                    "TIMESTAMPTZ", "BOOLEAN", "VARCHAR", "DOUBLE", "TIMESTAMPTZ")  # fmt: skip
_UPDATED_AT = 9  # churn_warnings columns: ..., raised_at, updated_at, cleared_at, cleared_because


def _upsert(table: str, types: Sequence[str], *, replace: bool = True) -> str:
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    return f"{verb} INTO {table} SELECT " + ", ".join(f"UNNEST(?::{t}[])" for t in types)


def write_churn(
    conn: duckdb.DuckDBPyConnection,
    steps: Sequence[ChurnWarningEvent],
    complaints: Mapping[str, Sequence[ComplaintRecord]],
) -> None:
    """Apply a batch's warning events (in log order) and complaint rows (per customer: their
    rows now) inside the caller's transaction, a few statements per batch.

    ``churn_warnings``: a raise writes the warning's row; an update or a clear changes it
    only if it is not newer than the event (a redelivered old event changes nothing)."""
    if steps:
        events = [_event_row(e) for e in steps]
        conn.execute(_upsert("churn_warning_events", _EVENT_TYPES), _columns(events))
        warnings = _warnings_after(conn, steps)
        conn.execute(_upsert("churn_warnings", _WARNING_TYPES), _columns(warnings))
    if complaints:
        conn.execute(
            "DELETE FROM complaint_sla WHERE list_contains(?, customer_id)", [sorted(complaints)]
        )
        rows = [_complaint_row(r) for rows in complaints.values() for r in rows]
        if rows:
            conn.execute(_upsert("complaint_sla", _COMPLAINT_TYPES, replace=False), _columns(rows))


def _warnings_after(
    conn: duckdb.DuckDBPyConnection, steps: Sequence[ChurnWarningEvent]
) -> list[list[object]]:
    """The rows of the warnings ``steps`` touch, once the steps are applied in order."""
    ids = sorted({e.warning_id for e in steps})
    found = conn.execute(
        "SELECT * FROM churn_warnings WHERE list_contains(?, warning_id)", [ids]
    ).fetchall()
    rows: dict[str, list[object]] = {str(row[0]): list(row) for row in found}
    changed: dict[str, list[object]] = {}
    for e in steps:
        evidence = _evidence(e)
        if e.kind == "raised":
            rows[e.warning_id] = [e.warning_id, e.customer_id, "open", list(e.reasons), e.severity,
                                  e.score, evidence, e.value_minor, e.occurred_at, e.occurred_at,
                                  None, None]  # fmt: skip
        else:
            row = rows.get(e.warning_id)
            if row is None or row[_UPDATED_AT] > e.occurred_at:  # type: ignore[operator]
                continue
            if e.kind == "updated":
                row[3:8] = [list(e.reasons), e.severity, e.score, evidence, e.value_minor]
            else:
                row[2], row[10], row[11] = "cleared", e.occurred_at, e.why
            row[_UPDATED_AT] = e.occurred_at
        changed[e.warning_id] = rows[e.warning_id]
    return list(changed.values())


def _evidence(e: ChurnWarningEvent) -> str:
    return json.dumps({code: dict(v) for code, v in e.evidence.items()})


def _event_row(e: ChurnWarningEvent) -> list[object]:
    detail = json.dumps({"why": e.why, "evidence": {c: dict(v) for c, v in e.evidence.items()},
                         "value_minor": e.value_minor, "source": e.source})  # fmt: skip
    return [e.warning_id, e.customer_id, e.kind, e.occurred_at, list(e.reasons), e.severity,
            e.score, detail]  # fmt: skip


def _columns(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    return [list(column) for column in zip(*rows, strict=True)]


def _complaint_row(r: ComplaintRecord) -> list[object]:
    return [r.customer_id, r.complaint_id, r.category, r.severity, r.filed_at, r.deadline,
            r.resolved_at, r.accepted, r.outcome, r.hours_to_resolve, r.repurchased_at]  # fmt: skip
