"""The read side of the command line: ``customer``, ``funnel``, ``tiers``, ``query`` and
``materialize``.

``customer``, ``funnel``, ``tiers`` and ``query`` read the published snapshot (read-only,
never the writer's file), so they work while a materializer runs;
``materialize`` is that one writer (docs/read-model.md). The tables they print
are drawn by streams.cli_tables.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import duckdb
from rich.table import Table

from projections import churn_queries, queries
from projections.loyalty import LoyaltyStageChanged
from projections.ports import StoredStage, StoredTier
from projections.value_records import ClvScore
from streams import cli_tables
from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out
from streams.settings import Settings

STAGE_CHANGES_SHOWN = 5  # latest stage changes `touchpoint customer` shows


@contextmanager
def read_model(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    try:
        conn = queries.open_read_model(settings.db)
    except queries.ReadModelMissing as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield conn
    finally:
        conn.close()


@click.command()
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole view as JSON.")
@with_settings
def customer(settings: Settings, customer_id: str, as_json: bool) -> None:
    """Show the unified view and loyalty stage of CUSTOMER_ID (a merged-away id shows the
    customer it joined)."""
    with read_model(settings) as conn:
        if not as_json:
            print_customer(conn, customer_id)
            return
        found = _lookup(conn, customer_id)
        stage, changes = _loyalty(conn, found.customer_id)
        tier, score = _value(conn, found.customer_id)
    body = {
        "requested_id": found.requested_id,
        "customer_id": found.customer_id,
        "alias_path": [dataclasses.asdict(alias) for alias in found.alias_path],
        "merged_ids": list(found.merged_ids),
        "row": found.row,
        "view": found.view,
        "loyalty_stage": cli_tables.stage_json(stage),
        "stage_changes": [cli_tables.change_json(change) for change in changes],
        "value_tier": cli_tables.tier_json(tier),
        "clv": cli_tables.clv_json(score),
    }
    click.echo(json.dumps(body, indent=2, default=str))


def print_customer(conn: duckdb.DuckDBPyConnection, customer_id: str) -> None:
    """Print one customer's view as tables (stdout); merges followed are noted on stderr."""
    found = _lookup(conn, customer_id)
    for alias in found.alias_path:
        console.print(
            f"{alias.customer_id} is an alias of {alias.canonical_id} "
            f"(merged by event {alias.caused_by})"
        )
    if found.view is None:
        raise click.ClickException(f"{found.customer_id} has no view in the read model yet")
    aliases = sorted({*found.view["aliases"], *found.merged_ids})
    tables = cli_tables.view_tables({**found.view, "aliases": aliases})
    tables[1:1] = [
        *cli_tables.loyalty_tables(*_loyalty(conn, found.customer_id)),
        *cli_tables.value_tables(*_value(conn, found.customer_id)),
        *_warnings(conn, found.customer_id),
    ]
    for table in tables:
        out.print(table)


def _warnings(conn: duckdb.DuckDBPyConnection, customer_id: str) -> list[Table]:
    """The customer's open churn warnings, one row per reason (none: no table)."""
    page = churn_queries.open_warnings(conn, customer_id=customer_id)
    if not page.items:
        return []
    table = Table("reason", "severity", "raised", "evidence", title="open churn warnings")
    for warning in page.items:
        for code in warning.reasons:
            evidence = ", ".join(f"{k}={v}" for k, v in warning.evidence.get(code, {}).items())
            table.add_row(code, warning.severity, str(warning.raised_at.date()), evidence)
    return [table]


def _loyalty(
    conn: duckdb.DuckDBPyConnection, customer_id: str
) -> tuple[StoredStage | None, list[LoyaltyStageChanged]]:
    """The customer's current stage and latest changes (none in an older read model)."""
    if not queries.has_loyalty(conn):
        return None, []
    changes = queries.stage_history(conn, customer_id, limit=STAGE_CHANGES_SHOWN)
    return queries.current_stage(conn, customer_id), changes


def _value(
    conn: duckdb.DuckDBPyConnection, customer_id: str
) -> tuple[StoredTier | None, ClvScore | None]:
    """The customer's value tier and CLV scores (none in an older read model)."""
    if not queries.has_values(conn):
        return None, None
    return queries.value_tier(conn, customer_id), queries.clv_of(conn, customer_id)


def _lookup(conn: duckdb.DuckDBPyConnection, customer_id: str) -> queries.CustomerLookup:
    found = queries.customer(conn, customer_id)
    if found is None:
        raise click.ClickException(f"no customer {customer_id} in the read model")
    return found


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the funnel as JSON.")
@with_settings
def funnel(settings: Settings, as_json: bool) -> None:
    """Show customers per loyalty stage: count, share of all, and ladder conversion.

    Conversion into a ladder stage: customers at that stage or above on the ladder
    (prospect, first_time_buyer, repeat_buyer, loyal, advocate) divided by those at the
    previous stage or above; at_risk, lapsed and win_back are off the ladder
    (docs/read-model.md).
    """
    with read_model(settings) as conn:
        try:
            steps = queries.funnel(conn)
        except queries.ReadModelOutdated as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(cli_tables.funnel_json(steps), indent=2))
        return
    out.print(cli_tables.funnel_table(steps))
    console.print(f"{sum(step.customers for step in steps):,} customers with a loyalty stage")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the pyramid as JSON.")
@with_settings
def tiers(settings: Settings, as_json: bool) -> None:
    """Show the customer pyramid: customers and value per value tier (vip, key, regular,
    small), their shares, and the 80/20 check (share of the value held by the top 20% of
    the customers with a value; docs/read-model.md)."""
    with read_model(settings) as conn:
        try:
            pyramid = queries.tiers(conn)
        except queries.ReadModelOutdated as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(cli_tables.pyramid_json(pyramid), indent=2))
        return
    out.print(cli_tables.pyramid_table(pyramid))
    console.print(cli_tables.pareto_line(pyramid))


@click.command()
@click.argument("sql")
@click.option("--json", "as_json", is_flag=True, help="Print rows as a JSON list of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print rows as CSV with a header line.")
@with_settings
def query(settings: Settings, sql: str, as_json: bool, as_csv: bool) -> None:
    """Run read-only SQL against the read model, e.g. "SELECT count(*) FROM customer_view".

    Tables and columns: docs/read-model.md. Statements that write are refused.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with read_model(settings) as conn:
        try:
            result = queries.run_query(conn, sql)
        except queries.QueryError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        click.echo(json.dumps(rows, indent=2, default=str))
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows(result.rows)
    else:
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*("NULL" if v is None else str(v) for v in row))
        out.print(table)
        console.print(f"{len(result.rows):,} rows")


@click.command()
@click.option("--until-idle", is_flag=True, help="Stop once every partition is read to its end.")
@click.option("--timeout", type=float, default=600, show_default=True,
              help="With --until-idle: give up after this many seconds.")  # fmt: skip
@click.option("--snapshot-interval", type=float, default=2.0, show_default=True,
              help="Seconds between published snapshots (at least).")  # fmt: skip
@with_settings
def materialize(
    settings: Settings, until_idle: bool, timeout: float, snapshot_interval: float
) -> None:
    """Run the materializer alone: customer-views, loyalty-stages, loyalty-stage-changes,
    value-tiers, value-tier-changes, clv-scores and clv-fits into the DuckDB read model
    at --db.

    Writes <db>.writer and publishes read-only snapshots at <db>. One per read model:
    `touchpoint worker` runs one in-process unless started with --no-materialize.
    """
    from projections.duckdb_store import DuckDBProjectionStore, ReadModelSchemaError
    from streams.materializer import Materializer, MaterializerError

    try:
        store = DuckDBProjectionStore.open_writer(settings.db, snapshot_interval)
    except duckdb.IOException as exc:
        raise click.ClickException(f"{exc}: is another materializer writing it?") from exc
    except ReadModelSchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    with kafka_errors():
        try:
            materializer = Materializer(settings, store)
        except MaterializerError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            _run(materializer, until_idle, timeout)
        except TimeoutError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            materializer.close()
    s = materializer.stats
    console.print(
        f"read {s.records:,} records: {s.applied:,} applied, {s.superseded:,} superseded, "
        f"{s.skipped:,} skipped; read model at {settings.db}"
    )


def _run(materializer: Any, until_idle: bool, timeout: float) -> None:
    if until_idle:
        materializer.run_until_caught_up(timeout=timeout)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    console.print("[green]materializer running[/]: Ctrl-C to stop")
    materializer.run_forever(stop)


READ_COMMANDS = (customer, funnel, tiers, query, materialize)
