"""The read side: queries against a published read-model snapshot (read-only).

Readers never open the writer's file: they open ``<db>``, the snapshot the
materializer publishes atomically (projections.snapshots), read-only. Any
number of processes may do so while the materializer writes.

``customer`` (a view, following aliases), ``run_query``, ``summary``; and the
loyalty side: ``funnel`` (customers per stage, shares, ladder conversion),
``current_stage`` and ``stage_history``; the value side: ``tiers`` (the customer
pyramid and the 80/20 check), ``value_tier`` and ``clv_of``. A snapshot
published before the read model had loyalty tables (schema version 1) or value
tables (before version 3) has none: ``has_loyalty`` and ``has_values`` say so,
and their queries raise ``ReadModelOutdated``.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb

from projections import loyalty_store, value_store
from projections.duckdb_store import VIEW_NAMES, WATERMARK_KEY
from projections.loyalty import LADDER, LoyaltyStageChanged, Stage
from projections.ports import StoredStage, StoredTier
from projections.value_records import ClvScore
from projections.value_tiers import DEFAULT_RULES, TIERS, Tier
from projections.view_records import AliasRecord

MAX_ALIAS_HOPS = 32


class ReadModelMissing(FileNotFoundError):
    """No snapshot has been published at the path yet."""


class QueryError(ValueError):
    """A query the read model refused (bad SQL, or an attempt to write)."""


class ReadModelOutdated(RuntimeError):
    """The snapshot predates the tables a query needs (an older schema version)."""


@dataclass(frozen=True, slots=True)
class CustomerLookup:
    """A customer found by id; ``alias_path``: the merges followed to get there."""

    requested_id: str
    customer_id: str
    alias_path: tuple[AliasRecord, ...]  # () when requested_id is the customer itself
    row: dict[str, Any] | None  # None: an alias of a customer not materialized (yet)
    view: dict[str, Any] | None
    merged_ids: tuple[str, ...] = ()  # ids the alias table says were merged into customer_id

    @property
    def via_alias(self) -> bool:
        return bool(self.alias_path)


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def open_read_model(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the snapshot at ``path`` (times in UTC)."""
    if not Path(path).is_file():
        raise ReadModelMissing(
            f"no read model at {path}: run `touchpoint worker --until-idle` first"
        )
    conn = duckdb.connect(str(path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def customer(conn: duckdb.DuckDBPyConnection, customer_id: str) -> CustomerLookup | None:
    """The view of ``customer_id``, following aliases to the canonical customer;
    None when the id is neither a customer nor an alias."""
    path: list[AliasRecord] = []
    current = customer_id
    while True:
        found = conn.execute(
            f"SELECT {', '.join(VIEW_NAMES)}, view_json FROM customer_view WHERE customer_id = ?",
            [current],
        ).fetchone()
        if found is not None:
            row = dict(zip(VIEW_NAMES, found[:-1], strict=True))
            merged = _merged_into(conn, current)
            view = json.loads(found[-1])
            return CustomerLookup(customer_id, current, tuple(path), row, view, merged)
        alias = _alias_of(conn, current)
        seen = {a.customer_id for a in path}
        if alias is None or alias.canonical_id in seen or len(path) >= MAX_ALIAS_HOPS:
            if not path:
                return None
            return CustomerLookup(customer_id, current, tuple(path), None, None)
        path.append(alias)
        current = alias.canonical_id


def _merged_into(conn: duckdb.DuckDBPyConnection, canonical_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        "SELECT alias_id FROM customer_alias WHERE canonical_id = ? ORDER BY alias_id",
        [canonical_id],
    ).fetchall()
    return tuple(str(alias_id) for (alias_id,) in rows)


def _alias_of(conn: duckdb.DuckDBPyConnection, alias_id: str) -> AliasRecord | None:
    found = conn.execute(
        "SELECT alias_id, canonical_id, caused_by FROM customer_alias WHERE alias_id = ?",
        [alias_id],
    ).fetchone()
    return None if found is None else AliasRecord(*found)


def run_query(conn: duckdb.DuckDBPyConnection, sql: str) -> QueryResult:
    """Run ``sql`` on the read-only connection: its columns and rows."""
    try:
        cursor = conn.execute(sql)
    except duckdb.Error as exc:
        if "read-only" in str(exc) or "read only" in str(exc):
            raise QueryError(
                "the read model is read-only (a snapshot the materializer publishes); "
                f"only queries that read are allowed: {exc}"
            ) from exc
        raise QueryError(str(exc)) from exc
    if cursor.description is None:
        return QueryResult([], [])
    return QueryResult([d[0] for d in cursor.description], cursor.fetchall())


_SUMMARY = """
SELECT
    (SELECT count(*) FROM customer_view),
    (SELECT count(*) FROM customer_view WHERE purchase_count > 0),
    (SELECT coalesce(sum(open_complaints), 0) FROM customer_view),
    (SELECT count(*) FROM customer_view WHERE open_complaints > 0),
    (SELECT coalesce(sum(complaints_overdue), 0) FROM customer_view),
    (SELECT count(*) FROM customer_alias),
    (SELECT as_of FROM pipeline_watermark WHERE projection = ?)
"""
_SPEND = """
SELECT currency, sum(total_spend_minor), count(*) FROM customer_view
WHERE currency IS NOT NULL GROUP BY currency ORDER BY currency
"""


def summary(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """A few figures for the demo: customers, buyers, spend per currency, complaints."""
    counts = conn.execute(_SUMMARY, [WATERMARK_KEY]).fetchone()
    assert counts is not None  # an aggregate always returns one row
    spend = conn.execute(_SPEND).fetchall()
    return {
        "customers": counts[0],
        "buyers": counts[1],
        "total_spend_minor": {currency: int(total) for currency, total, _ in spend},
        "buyers_by_currency": {currency: buyers for currency, _, buyers in spend},
        "open_complaints": counts[2],
        "customers_with_open_complaints": counts[3],
        "overdue_complaints": counts[4],
        "aliases": counts[5],
        "as_of": counts[6],
    }


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """Customers whose current stage is ``stage``; ``share`` of all customers with a stage;
    ``conversion`` (ladder stages after ``prospect`` only): customers at this stage or above
    on the ladder / customers at the previous stage or above. None: undefined (0 / 0)."""

    stage: Stage
    customers: int
    share: float | None
    conversion: float | None


def has_loyalty(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the snapshot has the loyalty tables (read model schema version 2 on)."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND table_name IN ('loyalty_stage', 'loyalty_transitions')"
    ).fetchone()
    return found is not None and found[0] == 2


def funnel(conn: duckdb.DuckDBPyConnection) -> list[FunnelStep]:
    """Every stage (the ladder in order, then at_risk, lapsed, win_back) with its number of
    customers, share and conversion, from the current stages in ``loyalty_stage``.

    Conversion into ladder stage k (first_time_buyer .. advocate) is the number of
    customers on ladder stage k or above, divided by those on ladder stage k-1 or
    above: of the customers who got at least to the previous rung, the share who got
    at least to this one. Customers at_risk, lapsed or in win_back are off the
    ladder and count in neither; prospect has no conversion.
    """
    _require_loyalty(conn)
    rows = conn.execute("SELECT stage, count(*) FROM loyalty_stage GROUP BY stage").fetchall()
    counts = {str(stage): int(n) for stage, n in rows}
    total = sum(counts.values())
    at_or_above = [sum(counts.get(s.value, 0) for s in LADDER[k:]) for k in range(len(LADDER))]
    steps = []
    for stage in Stage:
        conversion = None
        if stage in LADDER and (k := LADDER.index(stage)) > 0:
            conversion = _ratio(at_or_above[k], at_or_above[k - 1])
        n = counts.get(stage.value, 0)
        steps.append(FunnelStep(stage, n, _ratio(n, total), conversion))
    return steps


def current_stage(conn: duckdb.DuckDBPyConnection, customer_id: str) -> StoredStage | None:
    """The current loyalty stage of ``customer_id`` (no alias following: pass the
    canonical id ``customer`` found); None when it has none."""
    _require_loyalty(conn)
    return loyalty_store.stage_of(conn, customer_id)


def stage_history(
    conn: duckdb.DuckDBPyConnection, customer_id: str, limit: int | None = None
) -> list[LoyaltyStageChanged]:
    """The stage changes of ``customer_id``, oldest first (with ``limit``: the latest
    ``limit``). Changes emitted under an id later merged away stay under that id."""
    _require_loyalty(conn)
    return loyalty_store.transitions_of(conn, customer_id, limit)


def _require_loyalty(conn: duckdb.DuckDBPyConnection) -> None:
    if not has_loyalty(conn):
        raise ReadModelOutdated(
            "the read model has no loyalty tables yet (published by an older materializer): "
            "run `touchpoint materialize --until-idle` to migrate it"
        )


@dataclass(frozen=True, slots=True)
class TierRow:
    """One tier of the pyramid: the customers whose current tier it is, the value they hold
    (values <= 0 count as 0), and their shares of all customers with a tier and of the
    total value (None: 0 / 0)."""

    tier: Tier
    customers: int
    value_minor: int
    customer_share: float | None
    value_share: float | None


@dataclass(frozen=True, slots=True)
class Pyramid:
    """``tiers`` (vip, key, regular, small) over ``customers`` (rows of ``value_tier``), of
    whom ``ranked`` have a value above 0; ``pareto_share``: share of the total value held
    by the top 20% of the ranked customers (None: no value at all)."""

    customers: int
    ranked: int
    total_value_minor: int
    pareto_share: float | None
    tiers: tuple[TierRow, ...]


_TIERS = (
    "SELECT tier, count(*), coalesce(sum(greatest(value_minor, 0)), 0) FROM value_tier "
    "GROUP BY tier"
)
# Ranks as TierBook gives them (value descending, then the smaller id), recomputed over the
# stored values; the top floor(n * num / den) of the n ranked customers.
_PARETO = """
WITH ranked AS (
    SELECT value_minor, row_number() OVER (ORDER BY value_minor DESC, customer_id) AS r,
           count(*) OVER () AS n
    FROM value_tier WHERE value_minor > 0
)
SELECT coalesce(sum(value_minor) FILTER (WHERE r <= n * ? // ?), 0), coalesce(sum(value_minor), 0)
FROM ranked
"""


def tiers(conn: duckdb.DuckDBPyConnection) -> Pyramid:
    """The customer pyramid from the current tiers in ``value_tier``, and the 80/20 check.

    Per tier: customers whose current tier it is, the value they hold (their stored
    ``value_minor``, values <= 0 as 0), customers / all customers with a tier, value / the
    total value. ``pareto_share``: the customers with a value above 0 are ranked by value
    (highest first, ties to the smaller id, as ``TierBook`` ranks them); the share of the
    total value held by ranks 1 .. floor(0.20 n).
    """
    _require_values(conn)
    found = {str(tier): (int(n), int(value)) for tier, n, value in conn.execute(_TIERS).fetchall()}
    customers = sum(n for n, _ in found.values())
    total = sum(value for _, value in found.values())
    rows = tuple(
        TierRow(tier, n, value, _ratio(n, customers), _ratio(value, total))
        for tier in TIERS
        for n, value in [found.get(tier.value, (0, 0))]
    )
    num, den = Fraction(str(DEFAULT_RULES.regular_share)).as_integer_ratio()
    top, held = conn.execute(_PARETO, [num, den]).fetchone() or (0, 0)
    ranked = conn.execute("SELECT count(*) FROM value_tier WHERE value_minor > 0").fetchone()
    return Pyramid(
        customers,
        0 if ranked is None else int(ranked[0]),
        total,
        _ratio(int(top), int(held)),
        rows,
    )


def value_tier(conn: duckdb.DuckDBPyConnection, customer_id: str) -> StoredTier | None:
    """The current value tier of ``customer_id`` (no alias following); None: none."""
    _require_values(conn)
    return value_store.tier_of(conn, customer_id)


def clv_of(conn: duckdb.DuckDBPyConnection, customer_id: str) -> ClvScore | None:
    """The latest CLV scores of ``customer_id`` (no alias following); None: none."""
    _require_values(conn)
    return value_store.clv_of(conn, customer_id)


def has_values(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether the snapshot has the value tables (read model schema version 3 on)."""
    found = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND list_contains(?, table_name)",
        [list(value_store.VALUE_TABLES)],
    ).fetchone()
    return found is not None and found[0] == len(value_store.VALUE_TABLES)


def _require_values(conn: duckdb.DuckDBPyConnection) -> None:
    if not has_values(conn):
        raise ReadModelOutdated(
            "the read model has no value tier or CLV tables yet (published by an older "
            "materializer): run `touchpoint materialize --until-idle` to migrate it"
        )


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None
