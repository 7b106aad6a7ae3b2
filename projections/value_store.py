"""The value tables of the DuckDB read model: ``value_tier``, ``value_tier_changes``,
``clv`` and ``clv_fits``.

``write_values`` is called by ``DuckDBProjectionStore`` inside the batch's
transaction (rows and offsets commit together); like the other upserts, each
column travels as one list parameter and ``UNNEST`` zips them into rows.

- ``value_tier``: one row per customer, from the latest ``value-tiers``
  record; a tombstone (the customer left the ranking) deletes it;
- ``value_tier_changes``: every ``value-tier-changes`` record, primary key
  ``(partition, topic_offset)``, where it was read: re-reading a record
  rewrites its own row; nothing deletes a row;
- ``clv``: one row per customer, from the latest ``clv-scores`` record; a
  tombstone deletes it;
- ``clv_fits``: every ``clv-fits`` record, primary key ``fitted_at``.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import duckdb

from projections.ports import Changes, StoredTier
from projections.value_records import ClvScore
from projections.value_tiers import Tier, ValueTierChanged

if TYPE_CHECKING:
    from projections.clv import FittedModels

VALUE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS value_tier (customer_id VARCHAR PRIMARY KEY, "
    "tier VARCHAR NOT NULL, value_minor BIGINT NOT NULL, rank BIGINT, "
    "population BIGINT NOT NULL, updated_at_offset BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS value_tier_changes (partition INTEGER NOT NULL, "
    "topic_offset BIGINT NOT NULL, customer_id VARCHAR NOT NULL, from_tier VARCHAR, "
    "to_tier VARCHAR, value_minor BIGINT NOT NULL, rank BIGINT, population BIGINT NOT NULL, "
    "PRIMARY KEY (partition, topic_offset))",
    "CREATE TABLE IF NOT EXISTS clv (customer_id VARCHAR PRIMARY KEY, "
    "fitted_at TIMESTAMPTZ NOT NULL, p_alive DOUBLE NOT NULL, "
    "expected_purchases_90d DOUBLE NOT NULL, expected_spend_minor DOUBLE, clv_minor DOUBLE, "
    "currency VARCHAR NOT NULL, horizon_months INTEGER NOT NULL, "
    "monthly_discount_rate DOUBLE NOT NULL, updated_at_offset BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS clv_fits (fitted_at TIMESTAMPTZ PRIMARY KEY, "
    "time_unit VARCHAR NOT NULL, penalizer_coef DOUBLE NOT NULL, params JSON NOT NULL, "
    "bgnbd_customers BIGINT NOT NULL, bgnbd_log_likelihood DOUBLE NOT NULL, "
    "bgnbd_converged BOOLEAN NOT NULL, gamma_gamma_customers BIGINT NOT NULL, "
    "gamma_gamma_log_likelihood DOUBLE NOT NULL, gamma_gamma_converged BOOLEAN NOT NULL)",
)
VALUE_TABLES = ("value_tier", "value_tier_changes", "clv", "clv_fits")


def _upsert(table: str, types: Sequence[str]) -> str:
    return f"INSERT OR REPLACE INTO {table} SELECT " + ", ".join(
        f"UNNEST(?::{sql_type}[])" for sql_type in types
    )


_UPSERT_TIERS = _upsert(
    "value_tier", ["VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT", "BIGINT"]
)
_UPSERT_CHANGES = _upsert(
    "value_tier_changes",
    ["INTEGER", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT"],
)
_UPSERT_SCORES = _upsert(
    "clv",
    ["VARCHAR", "TIMESTAMPTZ", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "VARCHAR", "INTEGER",
     "DOUBLE", "BIGINT"],
)  # fmt: skip
_UPSERT_FITS = _upsert(
    "clv_fits",
    ["TIMESTAMPTZ", "VARCHAR", "DOUBLE", "JSON", "BIGINT", "DOUBLE", "BOOLEAN", "BIGINT",
     "DOUBLE", "BOOLEAN"],
)  # fmt: skip
CLV_COLUMNS = (
    "customer_id, fitted_at, p_alive, expected_purchases_90d, expected_spend_minor, clv_minor, "
    "currency, horizon_months, monthly_discount_rate"
)
_FIT_COLUMNS = (
    "fitted_at, time_unit, penalizer_coef, params, bgnbd_customers, bgnbd_log_likelihood, "
    "bgnbd_converged, gamma_gamma_customers, gamma_gamma_log_likelihood, gamma_gamma_converged"
)


def write_values(conn: duckdb.DuckDBPyConnection, diff: Changes) -> None:
    """Apply the value part of a batch (inside the caller's transaction)."""
    _delete(conn, "value_tier", diff.untiered)
    _delete(conn, "clv", diff.unscored)
    rows: list[tuple[object, ...]]
    if diff.tiers:
        rows = [
            (c.customer_id, _tier(c.to_tier), c.value_minor, c.rank, c.population, offset)
            for c, offset in diff.tiers.values()
        ]
        conn.execute(_UPSERT_TIERS, _columns(rows))
    if diff.tier_changes:
        rows = [
            (partition, offset, c.customer_id, _tier(c.from_tier), _tier(c.to_tier),
             c.value_minor, c.rank, c.population)
            for (partition, offset), c in diff.tier_changes.items()
        ]  # fmt: skip
        conn.execute(_UPSERT_CHANGES, _columns(rows))
    if diff.scores:
        rows = [
            (s.customer_id, s.fitted_at, s.p_alive, s.expected_purchases_90d,
             s.expected_spend_minor, s.clv_minor, s.currency, s.horizon_months,
             s.monthly_discount_rate, offset)
            for s, offset in diff.scores.values()
        ]  # fmt: skip
        conn.execute(_UPSERT_SCORES, _columns(rows))
    if diff.fits:
        conn.execute(_UPSERT_FITS, _columns([_fit_row(m) for m in diff.fits.values()]))


def _delete(conn: duckdb.DuckDBPyConnection, table: str, ids: set[str]) -> None:
    if ids:
        conn.execute(f"DELETE FROM {table} WHERE list_contains(?, customer_id)", [sorted(ids)])


def _fit_row(m: FittedModels) -> tuple[object, ...]:
    bg, gg = m.bgnbd, m.gamma_gamma
    params = {
        "bgnbd": {"r": bg.params.r, "alpha": bg.params.alpha, "a": bg.params.a, "b": bg.params.b},
        "gamma_gamma": {"p": gg.params.p, "q": gg.params.q, "v": gg.params.v},
    }
    return (m.fitted_at, m.time_unit, m.penalizer_coef, json.dumps(params), bg.customers,
            bg.log_likelihood, bg.converged, gg.customers, gg.log_likelihood,
            gg.converged)  # fmt: skip


def tier_of(conn: duckdb.DuckDBPyConnection, customer_id: str) -> StoredTier | None:
    """The stored current tier of ``customer_id`` (None: none)."""
    found = conn.execute(
        "SELECT tier, value_minor, rank, population, updated_at_offset FROM value_tier "
        "WHERE customer_id = ?",
        [customer_id],
    ).fetchone()
    if found is None:
        return None
    tier, value, rank, population, offset = found
    return StoredTier(Tier(tier), value, rank, population, offset)


def tier_changes_of(conn: duckdb.DuckDBPyConnection, customer_id: str) -> list[ValueTierChanged]:
    """The stored tier changes of ``customer_id``, in log order."""
    rows = conn.execute(
        "SELECT customer_id, from_tier, to_tier, value_minor, rank, population "
        "FROM value_tier_changes WHERE customer_id = ? ORDER BY partition, topic_offset",
        [customer_id],
    ).fetchall()
    return [
        ValueTierChanged(str(who), _enum(was), _enum(now), int(value), rank, int(population))
        for who, was, now, value, rank, population in rows
    ]


def clv_of(conn: duckdb.DuckDBPyConnection, customer_id: str) -> ClvScore | None:
    """The stored scores of ``customer_id`` (None: none)."""
    found = conn.execute(f"SELECT {CLV_COLUMNS} FROM clv WHERE customer_id = ?", [customer_id])
    row = found.fetchone()
    return None if row is None else ClvScore(*row)


def clv_fits(conn: duckdb.DuckDBPyConnection) -> list[FittedModels]:
    """Every stored fit, oldest first."""
    from projections.clv import (
        BgNbdFit,
        BgNbdParams,
        FittedModels,
        GammaGammaFit,
        GammaGammaParams,
    )

    rows = conn.execute(f"SELECT {_FIT_COLUMNS} FROM clv_fits ORDER BY fitted_at").fetchall()
    fits = []
    for at, unit, penalizer, params, bg_n, bg_ll, bg_ok, gg_n, gg_ll, gg_ok in rows:
        found = json.loads(params)
        fits.append(
            FittedModels(
                bgnbd=BgNbdFit(BgNbdParams(**found["bgnbd"]), bg_ll, bg_n, bg_ok),
                gamma_gamma=GammaGammaFit(
                    GammaGammaParams(**found["gamma_gamma"]), gg_ll, gg_n, gg_ok
                ),
                fitted_at=at,
                time_unit=unit,
                penalizer_coef=penalizer,
            )
        )
    return fits


def _columns(rows: Sequence[Sequence[object]]) -> list[list[object]]:
    """Rows (all of one width, at least one) as one list per column."""
    return [list(column) for column in zip(*rows, strict=True)]


def _tier(tier: Tier | None) -> str | None:
    return None if tier is None else tier.value


def _enum(value: object) -> Tier | None:
    return None if value is None else Tier(str(value))
