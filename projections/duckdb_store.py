"""``DuckDBProjectionStore``: the read model in DuckDB, rows and offsets in one transaction.

Tables (docs/read-model.md, created and migrated by projections.read_model_schema):
``customer_view`` (``VIEW_COLUMNS`` + ``view_json`` + ``updated_at_offset``),
``customer_alias``, ``loyalty_stage``, ``loyalty_transitions`` (written by
projections.loyalty_store), ``value_tier``, ``value_tier_changes``, ``clv``,
``clv_fits`` (written by projections.value_store), ``consumed_offsets``, ``pipeline_watermark`` and
``read_model_schema``. A batch is written as a few set-based statements: each
column travels as one list parameter and ``UNNEST`` zips them into rows (no
pandas or Arrow needed), upserted with ``INSERT OR REPLACE``.

``open_writer(db)`` is the materializer's store: it works on ``<db>.writer``
and publishes read-only snapshots at ``<db>`` (projections.snapshots).

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from projections import churn_store, loyalty_store, value_store
from projections.customer_view_table import VIEW_COLUMNS
from projections.loyalty import LoyaltyStageChanged
from projections.ports import (
    Changes,
    Logged,
    StoredStage,
    StoredTier,
    StoredView,
    TopicPartition,
    changes_of,
)
from projections.ports import merged_offsets as _merged
from projections.read_model_schema import (
    SCHEMA,
    SCHEMA_VERSION,
    VIEW_NAMES,
    ReadModelSchemaError,
    prepare_schema,
)
from projections.snapshots import SnapshotSchedule, prepare_writer, publish
from projections.value_records import ClvScore
from projections.value_tiers import ValueTierChanged
from projections.view_records import AliasRecord

if TYPE_CHECKING:
    from projections.clv import FittedModels

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "VIEW_NAMES",
    "WATERMARK_KEY",
    "DuckDBProjectionStore",
    "ReadModelSchemaError",
]

log = logging.getLogger(__name__)

_VIEW_TYPES = (*(sql_type for _, sql_type, _ in VIEW_COLUMNS), "VARCHAR", "BIGINT")
WATERMARK_KEY = "customer_view"

_UPSERT_VIEWS = "INSERT OR REPLACE INTO customer_view SELECT " + ", ".join(
    f"UNNEST(?::{sql_type}[])" for sql_type in _VIEW_TYPES
)
_UPSERT_ALIASES = (
    "INSERT OR REPLACE INTO customer_alias SELECT UNNEST(?::VARCHAR[]), UNNEST(?::VARCHAR[]), "
    "UNNEST(?::VARCHAR[]), UNNEST(?::BIGINT[])"
)
_UPSERT_OFFSETS = (
    "INSERT OR REPLACE INTO consumed_offsets SELECT UNNEST(?::VARCHAR[]), "
    "UNNEST(?::INTEGER[]), UNNEST(?::BIGINT[])"
)
_RAISE_WATERMARK = (
    "INSERT INTO pipeline_watermark VALUES (?, ?) ON CONFLICT (projection) "
    "DO UPDATE SET as_of = greatest(as_of, excluded.as_of)"
)


OUT_OF_ORDER = "out_of_order_customers"


class DuckDBProjectionStore:
    """A ``ProjectionStore`` on one DuckDB file (this process becomes its only writer).

    With ``publish_to``, a snapshot is published there after a batch when the
    ``schedule`` says so, and always on ``close``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        publish_to: Path | None = None,
        schedule: SnapshotSchedule | None = None,
    ) -> None:
        self.path = Path(path)
        self.publish_to = publish_to
        self._schedule = schedule or SnapshotSchedule()
        self._conn = duckdb.connect(str(self.path))
        self._conn.execute("SET TimeZone = 'UTC'")
        # Snapshots checkpoint every few seconds anyway; fewer checkpoints in between.
        self._conn.execute("SET checkpoint_threshold = '256MB'")
        try:
            prepare_schema(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise
        self._offsets = self._read_offsets()

    @classmethod
    def open_writer(cls, db: Path, snapshot_interval: float = 2.0) -> DuckDBProjectionStore:
        """The materializer's store: writes ``<db>.writer``, publishes snapshots at ``db``."""
        return cls(prepare_writer(db), publish_to=db, schedule=SnapshotSchedule(snapshot_interval))

    def apply(self, batch: Sequence[Logged], offsets: Mapping[TopicPartition, int]) -> None:
        diff = changes_of(batch, self._offsets)
        merged = _merged(self._offsets, offsets)
        self._conn.execute("BEGIN TRANSACTION")
        try:
            self._write(diff, {tp: n for tp, n in merged.items() if self._offsets.get(tp) != n})
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._offsets = merged
        if self.publish_to is not None and self._schedule.due():
            self.publish_snapshot()

    def _rollback(self) -> None:
        # When COMMIT itself failed, DuckDB has rolled back already.
        with contextlib.suppress(duckdb.TransactionException):
            self._conn.execute("ROLLBACK")

    def _write(self, diff: Changes, offsets: Mapping[TopicPartition, int]) -> None:
        execute = self._conn.execute
        loyalty_store.write_loyalty(self._conn, diff)
        value_store.write_values(self._conn, diff)
        churn_store.write_churn(self._conn, list(diff.warning_steps.values()), diff.complaints)
        if unviewed := diff.unviewed():
            execute("DELETE FROM customer_view WHERE list_contains(?, customer_id)", [unviewed])
        if unaliased := diff.unaliased():
            execute("DELETE FROM customer_alias WHERE list_contains(?, alias_id)", [unaliased])
        if diff.views:
            records = list(diff.views.values())
            columns = [[record.row[name] for record, _ in records] for name in VIEW_NAMES]
            columns.append([json.dumps(record.view) for record, _ in records])
            columns.append([offset for _, offset in records])
            execute(_UPSERT_VIEWS, columns)
        if diff.aliases:
            aliases = list(diff.aliases.values())
            execute(_UPSERT_ALIASES, [list(col) for col in zip(*_alias_rows(aliases), strict=True)])
        if diff.watermark is not None:
            execute(_RAISE_WATERMARK, [WATERMARK_KEY, diff.watermark])
        if offsets:
            items = sorted(offsets.items())
            execute(_UPSERT_OFFSETS, [[t for (t, _), _ in items], [p for (_, p), _ in items],
                                      [n for _, n in items]])  # fmt: skip

    def publish_snapshot(self) -> None:
        """Publish the committed state at ``publish_to`` now (a no-op without one)."""
        if self.publish_to is None:
            return
        target = self.publish_to
        try:
            self._schedule.run(lambda: publish(self._conn, self.path, target))
        except OSError as exc:  # the batch is committed; the next snapshot will carry it
            log.warning("could not publish the read model at %s: %s", target, exc)

    def offsets(self) -> dict[TopicPartition, int]:
        return dict(self._offsets)

    def _read_offsets(self) -> dict[TopicPartition, int]:
        rows = self._conn.execute("SELECT topic, partition, next_offset FROM consumed_offsets")
        return {
            (topic, partition): next_offset for topic, partition, next_offset in rows.fetchall()
        }

    def view_of(self, customer_id: str) -> StoredView | None:
        found = self._conn.execute(
            f"SELECT {', '.join(VIEW_NAMES)}, view_json, updated_at_offset FROM customer_view "
            "WHERE customer_id = ?",
            [customer_id],
        ).fetchone()
        if found is None:
            return None
        row = dict(zip(VIEW_NAMES, found[: len(VIEW_NAMES)], strict=True))
        return StoredView(row, json.loads(found[-2]), found[-1])

    def alias_of(self, customer_id: str) -> AliasRecord | None:
        found = self._conn.execute(
            "SELECT alias_id, canonical_id, caused_by FROM customer_alias WHERE alias_id = ?",
            [customer_id],
        ).fetchone()
        return None if found is None else AliasRecord(*found)

    def watermark(self) -> datetime | None:
        found = self._conn.execute(
            "SELECT as_of FROM pipeline_watermark WHERE projection = ?", [WATERMARK_KEY]
        ).fetchone()
        return None if found is None else found[0]

    def stage_of(self, customer_id: str) -> StoredStage | None:
        return loyalty_store.stage_of(self._conn, customer_id)

    def transitions_of(self, customer_id: str) -> list[LoyaltyStageChanged]:
        return loyalty_store.transitions_of(self._conn, customer_id)

    def tier_of(self, customer_id: str) -> StoredTier | None:
        return value_store.tier_of(self._conn, customer_id)

    def tier_changes_of(self, customer_id: str) -> list[ValueTierChanged]:
        return value_store.tier_changes_of(self._conn, customer_id)

    def clv_of(self, customer_id: str) -> ClvScore | None:
        return value_store.clv_of(self._conn, customer_id)

    def clv_fits(self) -> list[FittedModels]:
        return value_store.clv_fits(self._conn)

    def note_out_of_order(self, customers: Sequence[str]) -> None:
        """Keep, in table ``out_of_order_customers``, the customers some of whose events came
        after a later one of their partition (a rebuilt model: what ``--verify`` needs to know,
        projections/read_model_diff.py)."""
        self._conn.execute(f"CREATE TABLE IF NOT EXISTS {OUT_OF_ORDER} (customer_id VARCHAR "
                           "PRIMARY KEY)")  # fmt: skip
        if customers:
            self._conn.execute(f"INSERT OR IGNORE INTO {OUT_OF_ORDER} SELECT unnest(?)",
                               [list(customers)])  # fmt: skip

    def close(self) -> None:
        """Publish a last snapshot (with ``publish_to``) and close the file."""
        try:
            self.publish_snapshot()
        finally:
            self._conn.close()

    def __enter__(self) -> DuckDBProjectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alias_rows(aliases: Sequence[tuple[AliasRecord, int]]) -> list[tuple[str, str, str, int]]:
    return [(a.customer_id, a.canonical_id, a.caused_by, offset) for a, offset in aliases]
