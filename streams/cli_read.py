"""The read side of the command line: ``customer``, ``query`` and ``materialize``.

``customer`` and ``query`` read the published snapshot (read-only, never the
writer's file), so they work while a materializer runs; ``materialize`` is
that one writer (docs/read-model.md).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import duckdb
from rich.table import Table

from projections import queries
from projections.customer_fold import money
from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out
from streams.settings import Settings


@contextmanager
def _read_model(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
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
    """Show the unified view of CUSTOMER_ID (a merged-away id shows the customer it joined)."""
    with _read_model(settings) as conn:
        if not as_json:
            print_customer(conn, customer_id)
            return
        found = _lookup(conn, customer_id)
    body = {
        "requested_id": found.requested_id,
        "customer_id": found.customer_id,
        "alias_path": [dataclasses.asdict(alias) for alias in found.alias_path],
        "merged_ids": list(found.merged_ids),
        "row": found.row,
        "view": found.view,
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
    for table in _view_tables({**found.view, "aliases": aliases}):
        out.print(table)


def _lookup(conn: duckdb.DuckDBPyConnection, customer_id: str) -> queries.CustomerLookup:
    found = queries.customer(conn, customer_id)
    if found is None:
        raise click.ClickException(f"no customer {customer_id} in the read model")
    return found


def _facts(title: str, pairs: Iterable[tuple[str, object]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in pairs:
        table.add_row(name, "-" if value is None or value == [] else str(value))
    return table


def _view_tables(view: dict[str, Any]) -> list[Table]:
    complaints = view["complaints"]
    tables = [_identity(view), _purchases(view["purchases"]), _complaints(complaints)]
    if complaints["open"]:
        tables.append(_rows("open complaints", complaints["open"]))
    tables.append(_satisfaction(view["satisfaction"]))
    columns = ("occurred_at", "event_type", "channel", "summary")
    tables.append(_rows("timeline (newest first)", view["timeline"], columns))
    return tables


def _identity(v: dict[str, Any]) -> Table:
    identifiers = ", ".join(f"{kind}: {len(fps)}" for kind, fps in v["identifiers"].items())
    return _facts("identity", [
        ("customer", v["customer_id"]), ("aliases", ", ".join(v["aliases"])),
        ("linked ids", ", ".join(v["linked_customer_ids"])), ("identifiers", identifiers),
        ("channels", ", ".join(v["channels"])), ("events", v["event_count"]),
        ("first seen", v["first_seen_at"]), ("last seen", v["last_seen_at"]),
        ("as of", v["as_of"]), ("referred", ", ".join(v["referred_customer_ids"])),
    ])  # fmt: skip


def _purchases(p: dict[str, Any]) -> Table:
    def cash(name: str) -> str:
        return money(p[name], p["currency"]) if p["currency"] else "-"

    return _facts("purchases and BTYD", [
        ("purchases", f"{p['purchase_count']} on {p['purchase_days']} days"),
        ("first / last", f"{p['first_purchase_at']} / {p['last_purchase_at']}"),
        ("total spend", cash("total_spend_minor")), ("avg order", cash("avg_order_value_minor")),
        ("spend 90 d / 365 d", f"{cash('spend_90d_minor')} / {cash('spend_365d_minor')}"),
        ("other currencies", p["other_currency_purchases"]),
        ("frequency, recency, T", f"{p['frequency']}, {p['recency_days']}, {p['t_days']}"),
        ("monetary", cash("monetary_minor")),
    ])  # fmt: skip


def _complaints(c: dict[str, Any]) -> Table:
    return _facts("complaints", [
        ("filed", c["complaints_filed"]), ("resolved", c["complaints_resolved"]),
        ("overdue", c["complaints_overdue"]), ("rejected", c["resolutions_rejected"]),
    ])  # fmt: skip


def _satisfaction(s: dict[str, Any]) -> Table:
    scale = s["last_score_scale"]
    last = None if scale is None else f"{s['last_score_raw']} on {scale[0]}..{scale[1]}"
    return _facts("satisfaction", [
        ("surveys", s["surveys_answered"]), ("last score", last),
        ("rescaled", s["last_score"]), ("trend", s["trend"]), ("answered", s["last_answered_at"]),
    ])  # fmt: skip


def _rows(title: str, items: list[dict[str, Any]], columns: Iterable[str] = ()) -> Table:
    columns = list(columns) or (list(items[0]) if items else [])
    table = Table(*columns, title=title, title_justify="left")
    for item in items:
        table.add_row(*("-" if item[k] is None else str(item[k]) for k in columns))
    return table


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
    with _read_model(settings) as conn:
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
    """Run the materializer alone: customer-views into the DuckDB read model at --db.

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


READ_COMMANDS = (customer, query, materialize)
