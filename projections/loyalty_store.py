"""The loyalty tables of the DuckDB read model: ``loyalty_stage`` and ``loyalty_transitions``.

``write_loyalty`` is called by ``DuckDBProjectionStore`` inside the batch's
transaction (rows and offsets commit together); like the view upserts, each
column travels as one list parameter and ``UNNEST`` zips them into rows.

- ``loyalty_stage``: one row per customer, the current stage from the latest
  ``loyalty-stages`` record; a tombstone (the customer was merged away)
  deletes it;
- ``loyalty_transitions``: every change from ``loyalty-stage-changes``, primary
  key ``(customer_id, occurred_at)``: a redelivered change replaces its row
  with the same values; nothing deletes a row (the history stays after a merge).

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import duckdb

from projections.loyalty import LoyaltyStageChanged, Stage
from projections.ports import Changes, StoredStage

LOYALTY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS loyalty_stage (customer_id VARCHAR PRIMARY KEY, "
    "stage VARCHAR NOT NULL, reason VARCHAR NOT NULL, since TIMESTAMPTZ NOT NULL, "
    "trigger_event_id VARCHAR, updated_at_offset BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS loyalty_transitions (customer_id VARCHAR NOT NULL, "
    "occurred_at TIMESTAMPTZ NOT NULL, from_stage VARCHAR, to_stage VARCHAR NOT NULL, "
    "reason VARCHAR NOT NULL, trigger_event_id VARCHAR, PRIMARY KEY (customer_id, occurred_at))",
)
_UPSERT_STAGES = (
    "INSERT OR REPLACE INTO loyalty_stage SELECT UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), "
    "UNNEST(?::VARCHAR[]), UNNEST(?::TIMESTAMPTZ[]), UNNEST(?::VARCHAR[]), UNNEST(?::BIGINT[])"
)
_UPSERT_TRANSITIONS = (
    "INSERT OR REPLACE INTO loyalty_transitions SELECT UNNEST(?::VARCHAR[]), "
    "UNNEST(?::TIMESTAMPTZ[]), UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), "
    "UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[])"
)
TRANSITION_COLUMNS = "customer_id, occurred_at, from_stage, to_stage, reason, trigger_event_id"


def write_loyalty(conn: duckdb.DuckDBPyConnection, diff: Changes) -> None:
    """Apply the loyalty part of a batch (inside the caller's transaction)."""
    if diff.unstaged:
        conn.execute(
            "DELETE FROM loyalty_stage WHERE list_contains(?, customer_id)", [sorted(diff.unstaged)]
        )
    if diff.stages:
        stages = [
            (c.customer_id, c.to_stage.value, c.reason, c.occurred_at, _text(c.trigger_event_id), n)
            for c, n in diff.stages.values()
        ]
        conn.execute(_UPSERT_STAGES, _columns(stages))
    if diff.transitions:
        rows = [
            (
                c.customer_id,
                c.occurred_at,
                None if c.from_stage is None else c.from_stage.value,
                c.to_stage.value,
                c.reason,
                _text(c.trigger_event_id),
            )
            for c in diff.transitions.values()
        ]
        conn.execute(_UPSERT_TRANSITIONS, _columns(rows))


def stage_of(conn: duckdb.DuckDBPyConnection, customer_id: str) -> StoredStage | None:
    """The stored current stage of ``customer_id`` (None: none)."""
    found = conn.execute(
        "SELECT stage, reason, since, trigger_event_id, updated_at_offset FROM loyalty_stage "
        "WHERE customer_id = ?",
        [customer_id],
    ).fetchone()
    if found is None:
        return None
    stage, reason, since, trigger, offset = found
    return StoredStage(Stage(stage), reason, since, _uuid(trigger), offset)


def transitions_of(
    conn: duckdb.DuckDBPyConnection, customer_id: str, limit: int | None = None
) -> list[LoyaltyStageChanged]:
    """The stored stage changes of ``customer_id``, oldest first (with ``limit``: the
    latest ``limit`` of them, still oldest first)."""
    rows = conn.execute(
        f"SELECT {TRANSITION_COLUMNS} FROM loyalty_transitions WHERE customer_id = ? "
        "ORDER BY occurred_at DESC LIMIT ?",
        [customer_id, limit],
    ).fetchall()
    return [transition_from_row(row) for row in reversed(rows)]


def transition_from_row(row: tuple[object, ...]) -> LoyaltyStageChanged:
    """A ``loyalty_transitions`` row (``TRANSITION_COLUMNS``) as the change it stores."""
    customer_id, occurred_at, from_stage, to_stage, reason, trigger = row
    return LoyaltyStageChanged(
        customer_id=str(customer_id),
        from_stage=None if from_stage is None else Stage(str(from_stage)),
        to_stage=Stage(str(to_stage)),
        reason=str(reason),
        occurred_at=occurred_at,  # type: ignore[arg-type]  # TIMESTAMPTZ: an aware datetime
        trigger_event_id=_uuid(trigger),
    )


def _columns(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Rows (all of one width, at least one) as one list per column."""
    return [list(column) for column in zip(*rows, strict=True)]


def _text(event_id: UUID | None) -> str | None:
    return None if event_id is None else str(event_id)


def _uuid(value: object) -> UUID | None:
    return None if value is None else UUID(str(value))
