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
