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

_INSERT_EVENT = "INSERT OR REPLACE INTO churn_warning_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_RAISE = (
    "INSERT OR REPLACE INTO churn_warnings VALUES (?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, NULL, NULL)"
)
_UPDATE = (
    "UPDATE churn_warnings SET reasons = ?, severity = ?, score = ?, evidence = ?, "
    "value_minor = ?, updated_at = ? WHERE warning_id = ? AND updated_at <= ?"
)
_CLEAR = (
    "UPDATE churn_warnings SET status = 'cleared', cleared_at = ?, cleared_because = ?, "
    "updated_at = ? WHERE warning_id = ? AND updated_at <= ?"
)
_COMPLAINT_COLUMNS = 11


def write_churn(
    conn: duckdb.DuckDBPyConnection,
    steps: Sequence[ChurnWarningEvent],
    complaints: Mapping[str, Sequence[ComplaintRecord]],
) -> None:
    """Apply a batch's warning events (in log order) and complaint rows (per customer: their
    rows now) inside the caller's transaction."""
    for e in steps:
        evidence = json.dumps({code: dict(v) for code, v in e.evidence.items()})
        detail = json.dumps({"why": e.why, "evidence": json.loads(evidence),
                             "value_minor": e.value_minor, "source": e.source})  # fmt: skip
        conn.execute(_INSERT_EVENT, [e.warning_id, e.customer_id, e.kind, e.occurred_at,
                                     list(e.reasons), e.severity, e.score, detail])  # fmt: skip
        if e.kind == "raised":
            conn.execute(_RAISE, [e.warning_id, e.customer_id, list(e.reasons), e.severity,
                                  e.score, evidence, e.value_minor, e.occurred_at,
                                  e.occurred_at])  # fmt: skip
        elif e.kind == "updated":
            conn.execute(_UPDATE, [list(e.reasons), e.severity, e.score, evidence, e.value_minor,
                                   e.occurred_at, e.warning_id, e.occurred_at])  # fmt: skip
        else:
            conn.execute(_CLEAR, [e.occurred_at, e.why, e.occurred_at, e.warning_id,
                                  e.occurred_at])  # fmt: skip
    if complaints:
        conn.execute(
            "DELETE FROM complaint_sla WHERE list_contains(?, customer_id)", [sorted(complaints)]
        )
        rows = [_complaint_row(r) for rows in complaints.values() for r in rows]
        if rows:
            marks = ", ".join("?" * _COMPLAINT_COLUMNS)
            conn.executemany(f"INSERT INTO complaint_sla VALUES ({marks})", rows)


def _complaint_row(r: ComplaintRecord) -> list[object]:
    return [r.customer_id, r.complaint_id, r.category, r.severity, r.filed_at, r.deadline,
            r.resolved_at, r.accepted, r.outcome, r.hours_to_resolve, r.repurchased_at]  # fmt: skip
