"""Comparing two read models table by table (``touchpoint rebuild --verify``).

Two files built from the same prefix of the event log must hold the same
rows. Left out of the comparison, because they record *how* a model was
built rather than what the log says:

- the ``updated_at_offset`` columns, and the ``consumed_offsets`` and
  ``read_model_schema`` tables (positions on the topics each model read);
- ``value_tier_changes``, and ``rank``/``population`` of ``value_tier``: a tier
  change is recorded when some customer's value moves another across a
  boundary, and the global ranking sees customers of all partitions in the
  order the workers happened to interleave them; a customer's rank is the one
  of its latest change. The tier and value of each customer are compared.

Histories of customers whose facts arrived late: a stage change or warning is
published once the partition's event-time watermark passes it, computed from
the facts known then. An event that arrives after the watermark passed its time
(out of order: after a later event of its partition), or an alias's facts
merged in by identity resolution (they travel through two internal topics),
cannot rewrite what was published; a "revised by late events" correction
follows instead. How much was known when depends on where the log was cut into
batches, and for merges on timing: live workers see the log in small batches
as it arrives, a rebuild in large ones. So the loyalty and churn rows of such
customers may legitimately differ between two models of the same log; their
views, tiers and complaints may not. A rebuild records the customers with
out-of-order events (``out_of_order_customers``); ``TableDiff.arrival_dependent``
counts the differing rows of those and of customers a merge involved (alias or
target). Every other row must be equal, and ``settled`` says whether that holds.

May import: projections, stdlib, duckdb.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from projections.duckdb_store import OUT_OF_ORDER

NOT_COMPARED = {
    OUT_OF_ORDER: "kept by a rebuild for this comparison",
    "consumed_offsets": "positions on the topics each model read",
    "read_model_schema": "the file format's version",
    "value_tier_changes": "depends on how partitions interleave in the global ranking",
}
SKIPPED_COLUMNS = {"updated_at_offset"}
SKIPPED_BY_TABLE = {"value_tier": {"rank", "population"}}
# tables whose rows depend on when a customer's facts arrived (see above)
ARRIVAL_TIMED = {"loyalty_stage", "loyalty_transitions", "churn_warnings", "churn_warning_events"}


def _late_or_merged(conn: duckdb.DuckDBPyConnection) -> str:
    """A query of the customers a merge involved, or with out-of-order events (as far as
    either model recorded them: a rebuilt model does, ``out_of_order_customers``)."""
    parts = [f"SELECT {column} FROM {side}.customer_alias"
             for column in ("canonical_id", "alias_id") for side in ("l", "r")]  # fmt: skip
    parts += [f"SELECT customer_id FROM {side}.{OUT_OF_ORDER}"
              for side in ("l", "r") if OUT_OF_ORDER in _tables(conn, side)]  # fmt: skip
    return " UNION ".join(parts)


@dataclass(frozen=True)
class TableDiff:
    """How one table differs: row counts and the rows found on one side only."""

    table: str
    columns: tuple[str, ...]
    left_rows: int
    right_rows: int
    only_left: int
    only_right: int
    examples_left: tuple[tuple[object, ...], ...]
    examples_right: tuple[tuple[object, ...], ...]
    # differing rows (either side) of late or merged customers, in ARRIVAL_TIMED tables
    arrival_dependent: int = 0

    @property
    def equal(self) -> bool:
        return self.only_left == 0 and self.only_right == 0

    @property
    def settled(self) -> bool:
        """Equal, or differing only in rows of late or merged customers (module docstring)."""
        return self.only_left + self.only_right == self.arrival_dependent


def compare(left: Path, right: Path, examples: int = 3) -> list[TableDiff]:
    """Every table both files share (but ``NOT_COMPARED``), compared as multisets of rows
    over their compared columns; a table missing on one side counts as empty there."""
    conn = duckdb.connect()
    try:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute(f"ATTACH '{_quoted(left)}' AS l (READ_ONLY)")
        conn.execute(f"ATTACH '{_quoted(right)}' AS r (READ_ONLY)")
        tables = _tables(conn, "l") | _tables(conn, "r")
        return [_diff(conn, table, examples) for table in sorted(tables)
                if table not in NOT_COMPARED]  # fmt: skip
    finally:
        conn.close()


def _tables(conn: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = ? AND table_type = 'BASE TABLE'",
        [catalog],
    ).fetchall()
    return {name for (name,) in rows}


def _columns(conn: duckdb.DuckDBPyConnection, catalog: str, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_name = ? ORDER BY ordinal_position",
        [catalog, table],
    ).fetchall()
    skipped = SKIPPED_COLUMNS | SKIPPED_BY_TABLE.get(table, set())
    return [name for (name,) in rows if name not in skipped]


def _diff(conn: duckdb.DuckDBPyConnection, table: str, examples: int) -> TableDiff:
    left_cols, right_cols = _columns(conn, "l", table), _columns(conn, "r", table)
    columns = left_cols or right_cols
    if left_cols and right_cols and left_cols != right_cols:
        columns = [c for c in left_cols if c in right_cols]
    select = ", ".join(f'"{c}"' for c in columns)
    left_q = f"SELECT {select} FROM l.{table}" if left_cols else None
    right_q = f"SELECT {select} FROM r.{table}" if right_cols else None

    def count(query: str | None) -> int:
        return 0 if query is None else int(conn.execute(f"SELECT count(*) FROM ({query})")
                                           .fetchall()[0][0])  # fmt: skip

    def only(a: str | None, b: str | None) -> tuple[int, tuple[tuple[object, ...], ...]]:
        if a is None:
            return 0, ()
        query = a if b is None else f"{a} EXCEPT ALL {b}"
        n = count(query)
        rows = conn.execute(f"SELECT * FROM ({query}) ORDER BY ALL LIMIT {examples}").fetchall()
        return n, tuple(tuple(row) for row in rows)

    only_left, ex_left = only(left_q, right_q)
    only_right, ex_right = only(right_q, left_q)
    arrival_dependent = 0
    if table in ARRIVAL_TIMED and (only_left or only_right) and "customer_id" in columns:
        late = f"WHERE customer_id IN ({_late_or_merged(conn)})"
        arrival_dependent = sum(
            count(f"SELECT * FROM ({a} EXCEPT ALL {b}) {late}")
            for a, b in ((left_q, right_q), (right_q, left_q))
            if a is not None and b is not None
        )
    return TableDiff(table, tuple(columns), count(left_q), count(right_q), only_left,
                     only_right, ex_left, ex_right, arrival_dependent)  # fmt: skip


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
