"""The tables of the DuckDB read model, their version, and the migration of older files.

``SCHEMA`` creates every table (docs/read-model.md documents each column);
``read_model_schema`` holds ``SCHEMA_VERSION``. ``prepare_schema`` runs when the
writer opens a file:

- a new (or foreign) file gets every table and the current version;
- version 1 (no ``read_model_schema`` table, written before loyalty stages),
  version 2 (before value tiers and CLV) and version 3 (before churn warnings)
  are migrated in one transaction: the missing tables are added, the rest is kept. The new tables'
  topics have no stored offsets then, so the materializer reads them from
  their beginning while the other topics resume where they were;
- a file of a newer version, or whose tables have other columns or types than
  this version creates, is refused (``ReadModelSchemaError``) with the advice
  to remove it and rebuild from the topics.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from pathlib import Path

import duckdb

from projections.churn_store import CHURN_SCHEMA
from projections.customer_view_table import VIEW_COLUMNS
from projections.loyalty_store import LOYALTY_SCHEMA
from projections.value_store import VALUE_SCHEMA

log = logging.getLogger(__name__)

SCHEMA_VERSION = 4  # 1: customer views only; 2: + loyalty_stage, loyalty_transitions;
# 3: + value_tier, value_tier_changes, clv, clv_fits; 4: + churn_warnings(+_events), complaint_sla
VERSION_TABLE = "read_model_schema"
VIEW_NAMES = tuple(name for name, _, _ in VIEW_COLUMNS)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS customer_view ("
    + ", ".join(f"{name} {sql_type}" for name, sql_type, _ in VIEW_COLUMNS)
    + ", view_json JSON NOT NULL, updated_at_offset BIGINT NOT NULL, PRIMARY KEY (customer_id))",
    "CREATE TABLE IF NOT EXISTS customer_alias (alias_id VARCHAR PRIMARY KEY, "
    "canonical_id VARCHAR NOT NULL, caused_by VARCHAR NOT NULL, updated_at_offset BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS consumed_offsets (topic VARCHAR, partition INTEGER, "
    "next_offset BIGINT NOT NULL, PRIMARY KEY (topic, partition))",
    "CREATE TABLE IF NOT EXISTS pipeline_watermark (projection VARCHAR PRIMARY KEY, "
    "as_of TIMESTAMPTZ NOT NULL)",
    *LOYALTY_SCHEMA,
    *VALUE_SCHEMA,
    *CHURN_SCHEMA,
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)",
)

_COLUMNS = (
    "SELECT table_name, column_name, data_type FROM duckdb_columns() "
    "WHERE database_name = current_database() AND schema_name = 'main' "
    "ORDER BY table_name, column_index"
)
_REBUILD = "remove the file to rebuild the read model from the topics"

Tables = dict[str, list[tuple[str, str]]]  # table -> [(column, type)] in order


class ReadModelSchemaError(RuntimeError):
    """The file holds tables of another version of the read model."""


def prepare_schema(conn: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Give the file at ``path`` (open on ``conn``) the current tables, migrating a
    version-1 or -2 file; refuse a file this version cannot use."""
    found = _tables(conn)
    version = _version(conn, found)
    if version > SCHEMA_VERSION:
        raise ReadModelSchemaError(
            f"{path} was written by a newer touchpoint (read model schema version {version}, "
            f"this one knows {SCHEMA_VERSION}): upgrade, or {_REBUILD}"
        )
    for table, columns in expected_tables().items():
        if table in found and found[table] != columns:
            raise ReadModelSchemaError(
                f"{path} holds a {table} table of another version (columns "
                f"{[name for name, _ in found[table]]}); {_REBUILD}"
            )
    if version == SCHEMA_VERSION and found.keys() >= expected_tables().keys():
        return
    conn.execute("BEGIN TRANSACTION")
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute(f"DELETE FROM {VERSION_TABLE}")
        conn.execute(f"INSERT INTO {VERSION_TABLE} VALUES (?)", [SCHEMA_VERSION])
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.TransactionException):
            conn.execute("ROLLBACK")
        raise
    if version:
        log.info(
            "migrated %s from read model schema version %d to %d", path, version, SCHEMA_VERSION
        )


@functools.cache
def expected_tables() -> Tables:
    """The tables and columns ``SCHEMA`` creates (in a scratch in-memory database)."""
    with duckdb.connect() as scratch:
        for statement in SCHEMA:
            scratch.execute(statement)
        return _tables(scratch)


def _tables(conn: duckdb.DuckDBPyConnection) -> Tables:
    tables: Tables = {}
    for table, column, sql_type in conn.execute(_COLUMNS).fetchall():
        tables.setdefault(str(table), []).append((str(column), str(sql_type)))
    return tables


def _version(conn: duckdb.DuckDBPyConnection, found: Tables) -> int:
    """The file's schema version: 0 for a file without the read model's tables."""
    if VERSION_TABLE in found:
        row = conn.execute(f"SELECT max(version) FROM {VERSION_TABLE}").fetchone()
        if row is not None and row[0] is not None:
            return int(row[0])
    return 1 if "customer_view" in found else 0
