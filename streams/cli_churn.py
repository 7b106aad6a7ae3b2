"""``touchpoint warnings`` and ``touchpoint complaints``: churn warnings and complaint
timeliness from the read model (docs/churn.md). Both read the published snapshot."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import click
import duckdb
from rich.table import Table

from projections import churn_queries, complaint_timeliness
from projections.churn_signals import CODES
from streams.cli_options import with_settings
from streams.cli_output import out
from streams.cli_read import read_model
from streams.settings import Settings

_RECENT = """
SELECT warning_id, customer_id, status, reasons, severity, score, raised_at, updated_at,
       cleared_at, cleared_because
FROM churn_warnings
WHERE ?::VARCHAR IS NULL OR list_contains(reasons, ?)
ORDER BY updated_at DESC, warning_id LIMIT ?
"""


@click.command()
@click.option(
    "--open",
    "only_open",
    is_flag=True,
    help="Only open warnings, highest priority first (the worklist).",
)
@click.option(
    "--top", type=click.IntRange(1), default=20, show_default=True, help="How many to show."
)
@click.option(
    "--reason", type=click.Choice(CODES), default=None, help="Only warnings with this reason code."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object) for scripts.")
@with_settings
def warnings(
    settings: Settings, only_open: bool, top: int, reason: str | None, as_json: bool
) -> None:
    """List churn warnings with their reasons: --open for the open ones by priority
    (score x value-tier weight), otherwise the latest raised, updated or cleared."""  # fmt: skip
    with read_model(settings) as conn:
        if not as_json:
            print_warnings(conn, only_open, top, reason)
            return
        counts = churn_queries.open_warning_counts(conn)
        rows = _rows(conn, only_open, top, reason)
    body = {"open": dataclasses.asdict(counts), "warnings": rows}
    out.print_json(json.dumps(body, default=_iso))


def print_warnings(
    conn: duckdb.DuckDBPyConnection, only_open: bool, top: int, reason: str | None = None
) -> None:
    counts = churn_queries.open_warning_counts(conn)
    out.print(f"open warnings: {counts.total:,} "
              f"({', '.join(f'{k} {v:,}' for k, v in counts.by_severity.items())})")  # fmt: skip
    out.print(_table(_rows(conn, only_open, top, reason), only_open))


def _rows(
    conn: duckdb.DuckDBPyConnection, only_open: bool, top: int, reason: str | None
) -> list[dict[str, Any]]:
    if only_open:
        page = churn_queries.open_warnings(conn, reason=reason, limit=top)
        return [dataclasses.asdict(w) for w in page.items]
    return _recent(conn, reason, top)


def _recent(conn: duckdb.DuckDBPyConnection, reason: str | None, top: int) -> list[dict[str, Any]]:
    if not churn_queries.has_churn(conn):
        return []
    columns = ("warning_id", "customer_id", "status", "reasons", "severity", "score",
               "raised_at", "updated_at", "cleared_at", "cleared_because")  # fmt: skip
    found = conn.execute(_RECENT, [reason, reason, top]).fetchall()
    return [dict(zip(columns, row, strict=True)) for row in found]


def _table(rows: list[dict[str, Any]], only_open: bool) -> Table:
    table = Table(title="open churn warnings by priority" if only_open else "latest warnings")
    for name in ("customer", "reasons", "severity", "raised", "tier" if only_open else "status",
                 "priority" if only_open else "cleared because"):  # fmt: skip
        table.add_column(name)
    for row in rows:
        last = (
            (row["value_tier"] or "-", f"{row['priority']:.1f}")
            if only_open
            else (row["status"], row["cleared_because"] or "")
        )
        table.add_row(row["customer_id"], ", ".join(row["reasons"]), row["severity"],
                      str(row["raised_at"].date()), *last)  # fmt: skip
    return table


@click.command()
@click.option(
    "--open-limit",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="How many open complaints to list, most overdue first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@with_settings
def complaints(settings: Settings, open_limit: int, as_json: bool) -> None:
    """Complaint handling as of the read model's event-time watermark: timeliness rate
    (resolved by the deadline / due), median time to resolve, acceptance, repurchase after
    complaints resolved on time, late or never, and the open complaints."""
    with read_model(settings) as conn:
        if as_json:
            figures = timeliness(conn, open_limit)
            out.print_json(json.dumps(dataclasses.asdict(figures), default=_iso))
        else:
            print_complaints(conn, open_limit)


def timeliness(conn: duckdb.DuckDBPyConnection, open_limit: int) -> Any:
    """The complaint figures as of the read model's event-time watermark."""
    found = conn.execute("SELECT max(as_of) FROM pipeline_watermark").fetchone()
    if found is None or found[0] is None:
        raise click.ClickException("the read model has no data yet: run the worker first")
    return complaint_timeliness.complaint_timeliness(conn, found[0], open_limit=open_limit)


def print_complaints(conn: duckdb.DuckDBPyConnection, open_limit: int) -> None:
    figures = timeliness(conn, open_limit)
    out.print(f"as of {figures.as_of:%Y-%m-%d %H:%M} (event time): {figures.filed:,} complaints "
              f"filed, {figures.resolved:,} resolved, {figures.open:,} open "
              f"({figures.open_overdue:,} overdue)")  # fmt: skip
    out.print(
        f"timeliness rate: {_share(figures.timeliness_rate)} "
        f"({figures.due_on_time:,} of {figures.due:,} due were resolved by the deadline)"
    )
    hours = figures.median_hours_to_resolve
    out.print(
        f"median time to resolve: {'-' if hours is None else f'{hours:.1f} h'}; "
        f"acceptance: {_share(figures.acceptance_rate)} of {figures.answered:,} answered"
    )
    table = Table(title="bought again after the complaint")
    for name in ("resolved", "complaints", "bought again", "share"):
        table.add_column(name, justify="right" if name != "resolved" else "left")
    for group in figures.repurchase:
        table.add_row(group.outcome.replace("_", " "), f"{group.complaints:,}",
                      f"{group.repurchased:,}", _share(group.rate))  # fmt: skip
    out.print(table)
    if figures.open_complaints:
        opened = Table(title="open complaints, most overdue first")
        for name in ("customer", "complaint", "category", "severity", "age", "overdue by"):
            opened.add_column(name)
        for c in figures.open_complaints:
            opened.add_row(c.customer_id, c.complaint_id, c.category, c.severity,
                           f"{c.age_hours / 24:.1f} d",
                           f"{c.hours_overdue / 24:.1f} d" if c.overdue else "-")  # fmt: skip
        out.print(opened)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


CHURN_COMMANDS = (warnings, complaints)
