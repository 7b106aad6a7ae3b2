"""``touchpoint import FILE``: bring an existing history into Kafka (docs/operations.md)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from streams.cli_import_run import import_events, import_table, print_outcome
from streams.cli_options import with_settings
from streams.import_fields import TYPE_NAMES, ImportOptions
from streams.import_reading import FORMATS, Format, detect_format
from streams.import_values import AmountUnit
from streams.importer import RejectsFile, rejects_path_for
from streams.settings import Settings

_TYPES = [*TYPE_NAMES, *(tag for tag in TYPE_NAMES.values() if tag not in TYPE_NAMES)]


# The options that fill one field: (option, field, column or value, help).
SHORTCUTS = (
    ("--customer-col", "customer_id", "column", "Customer id column.  [default: customer_id]"),
    ("--time-col", "occurred_at", "column",
     "Event time column: ISO 8601 date or date-time.  [default: occurred_at]"),
    ("--amount-col", "amount_minor", "column", "Amount column (purchases; the compensation of "
     "complaint_resolved).  [default: amount, or amount_minor]"),
    ("--currency", "currency", "value", "ISO 4217 currency of every row, e.g. EUR."),
    ("--currency-col", "currency", "column", "Currency column.  [default: currency]"),
    ("--order-col", "order_id", "column",
     "Order id column (purchases).  [default: order_id; else the event id]"),
    ("--channel", "channel", "value", "Channel of every row: store, web, app, phone, email, "
     "chat, field, event, mail, other.  [default: phone for calls, else other]"),
    ("--channel-col", "channel", "column", "Channel column.  [default: channel]"),
    ("--source", "source", "value",
     "The events' source: the system the history comes from.  [default: import]"),
)  # fmt: skip


def _shortcut_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for flag, name, kind, text in reversed(SHORTCUTS):
        metavar = "COLUMN" if kind == "column" else name.upper()
        fn = click.option(flag, metavar=metavar, help=text)(fn)
    return fn


def _given(shortcuts: dict[str, str | None], kind: str) -> dict[str, str]:
    """field -> column (or value) from the shortcut options that were given."""
    given = {}
    for flag, name, flag_kind, _ in SHORTCUTS:
        value = shortcuts.get(flag.lstrip("-").replace("-", "_"))
        if flag_kind == kind and value is not None:
            given[name] = value
    return given


def _pairs(option: str, given: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in given:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected FIELD=..., got {item!r}", param_hint=option)
        pairs[name.strip()] = value.strip()
    return pairs


def _merged(named: dict[str, str], generic: dict[str, str], what: str) -> dict[str, str]:
    merged = dict(named)
    for name, value in generic.items():
        if merged.get(name, value) != value:
            raise click.UsageError(f"{name}: two different {what}s given")
        merged[name] = value
    return merged


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--type",
    "type_",
    type=click.Choice(_TYPES),
    metavar="TYPE",
    help="Event type of every row: purchase, visit, call, complaint, "
    "complaint_resolved, survey, referral, registration, identity_link (or the "
    "event_type tag). Without it, FILE must be JSON lines of events (as for produce).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="File format.  [default: from the file name]",
)
@_shortcut_options
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    metavar="ZONE",
    help="IANA zone of times without an offset, and of dates (a date is its midnight).",
)
@click.option(
    "--time-format",
    metavar="FORMAT",
    help="strptime format of time columns instead of ISO 8601, e.g. '%d/%m/%Y'.",
)
@click.option(
    "--amount-unit",
    type=click.Choice(["major", "minor"]),
    help="major: 12.50 means 12.50 EUR (refused if it has more decimals than the "
    "currency); minor: integer minor units, 1250.  [default: minor for a column named "
    "amount_minor, else major]",
)
@click.option(
    "--col",
    "cols",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Map any event field to a column (repeatable). FIELD= ignores a column "
    "named like the field (its default applies).",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="One value of any event field for every row (repeatable).",
)
@click.option(
    "--rejects",
    "rejects_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where rejected rows go.  [default: FILE.rejects.jsonl, next to FILE]",
)
@click.option("--show", default=20, show_default=True, help="Rejected rows to list.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Processes that map, validate and publish rows (each with its own producer); "
    "about one per free core.",
)
@with_settings
def import_(
    settings: Settings,
    file: Path,
    type_: str | None,
    fmt: Format | None,
    timezone: str,
    time_format: str | None,
    amount_unit: AmountUnit | None,
    cols: tuple[str, ...],
    sets: tuple[str, ...],
    rejects_file: Path | None,
    show: int,
    jobs: int,
    **shortcuts: str | None,
) -> None:
    """Import a history (CSV, Parquet or JSON lines) into Kafka as touchpoint events.

    With --type, each row of FILE becomes one event of that type; a column named
    like an event field fills it unless an option says otherwise. Event times are
    kept. Event ids are derived from the rows, so importing the same file again
    adds nothing. Rejected rows go to FILE.rejects.jsonl with the reasons; the
    command then exits 1. See docs/operations.md.
    """
    fmt = fmt or detect_format(file)
    if fmt is None:
        raise click.UsageError(f"cannot tell the format of {file} from its name: give --format")
    columns = _merged(_given(shortcuts, "column"), _pairs("--col", cols), "column")
    values = _merged(_given(shortcuts, "value"), _pairs("--set", sets), "value")
    rejects = rejects_file or rejects_path_for(file)
    started = time.monotonic()
    if type_ is None:
        if fmt != "jsonl" or columns or values or time_format or amount_unit or jobs > 1:
            raise click.UsageError("give --type: without it, FILE must be JSON lines of events "
                                   "and column options and --jobs do not apply")  # fmt: skip
        outcome = import_events(settings, file, RejectsFile(rejects, keep=show))
    else:
        options = ImportOptions(
            TYPE_NAMES.get(type_, type_), columns, values, amount_unit, timezone, time_format
        )
        outcome = import_table(settings, file, fmt, options, jobs, rejects, show)
    print_outcome(file, outcome, time.monotonic() - started, show)
    if outcome.rejects.count or outcome.failed:
        sys.exit(1)
