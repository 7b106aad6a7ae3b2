"""``touchpoint dlq list`` and ``touchpoint dlq replay``: inspect dead letters, and re-drive
them after a fix without duplicates (streams/redrive.py, docs/operations.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out
from streams.dlq import Handled, Letter, read_handled, read_letters
from streams.redrive import Decision, FixFileError, ReplayFailed, execute, load_fixes, plan
from streams.settings import Settings

PREVIEW = 60  # characters of a value shown in tables


@click.group()
def dlq() -> None:
    """Dead letters: records refused by `touchpoint produce` or the worker (docs/operations.md).

    `dlq list` shows them with the reason; `dlq replay` re-drives them to the event
    log once fixed, each at most once.
    """


@dlq.command("list")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show at most this many (the oldest first); 0: all.")  # fmt: skip
@click.option("--pending", is_flag=True, help="Only those not yet re-driven or discarded.")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per line: partition, offset, state, origin, reason, errors, "
              "key, and the record as 'event' (or 'value' when not JSON). Correct the 'event' "
              "of a line and pass the file to `dlq replay --fixed`.")  # fmt: skip
@with_settings
def dlq_list(settings: Settings, limit: int, pending: bool, as_json: bool) -> None:
    """List dead letters, read from the beginning of the dead-letter topic (no consumer
    group: listing changes nothing).

    Each is named by its place on that topic, PARTITION@OFFSET, and shows where it came
    from (FILE:LINE of `produce`, or topic/partition@offset for the worker), why it was
    refused, the field errors, its key and a preview of the record.
    """
    with kafka_errors():
        letters, handled = read_letters(settings), read_handled(settings)
    if pending:
        letters = [letter for letter in letters if letter.ref not in handled]
    shown = letters[:limit] if limit else letters
    if as_json:
        for letter in shown:
            click.echo(json.dumps(letter.to_json(handled.get(letter.ref)), default=str))
    else:
        out.print(_letters_table(shown, handled))
    more = f" (showing {len(shown):,}: --limit 0 for all)" if len(shown) < len(letters) else ""
    console.print(f"{len(letters):,} dead letters{' pending' if pending else ''}{more}")


def _letters_table(letters: list[Letter], handled: dict[str, Handled]) -> Table:
    table = Table("dlq", "state", "origin", "key", "reason / field errors", "value")
    for letter in letters:
        mark = handled.get(letter.ref)
        errors = [f"{e.get('field')}: {e.get('reason')}" for e in letter.errors]
        reason = "\n".join(errors) if errors else letter.reason
        table.add_row(
            letter.ref,
            mark.action if mark else "[yellow]pending[/]",
            letter.source or letter.origin,
            letter.key or "-",
            reason,
            _preview(letter.text()),
        )
    return table


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"


@dlq.command("replay")
@click.option("--fixed", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON lines of corrected events: 'partition' and 'offset' of the dead letter "
              "and the corrected 'event' (e.g. lines of `dlq list --json`, edited). Each "
              "replaces its dead letter's record.")  # fmt: skip
@click.option(
    "--offset",
    "only",
    multiple=True,
    metavar="PARTITION@OFFSET",
    help="Replay only this dead letter (repeatable).  [default: every pending one]",
)
@click.option(
    "--discard",
    multiple=True,
    metavar="PARTITION@OFFSET",
    help="Mark this dead letter handled without re-driving it (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; send and mark nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per dead letter.")
@with_settings
def dlq_replay(
    settings: Settings,
    fixed: Path | None,
    only: tuple[str, ...],
    discard: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Re-drive pending dead letters to the event log, each at most once.

    Every pending dead letter (or its corrected event from --fixed) is validated again
    as `touchpoint produce` validates input. Valid ones are published to the touchpoints
    topic keyed by customer id and marked handled on the touchpoints-dlq-redriven topic,
    so a second replay skips them; the fold counts an event id once in any case. Ones
    still invalid are listed and stay pending (never dead-lettered again). Exits 1 when
    any is still invalid.
    """
    from streams.keyvault import sealer_for
    from streams.topics import create_topics

    try:
        fixes = load_fixes(fixed) if fixed else {}
    except FixFileError as exc:
        raise click.BadParameter(str(exc), param_hint="--fixed") from exc
    now = datetime.now(UTC)
    with kafka_errors():
        create_topics(settings)  # the marks' topic, on a deployment older than it
        letters, handled = read_letters(settings), read_handled(settings)
        unknown = sorted({*fixes, *only, *discard} - {letter.ref for letter in letters})
        if unknown:
            raise click.UsageError(f"no dead letter at {', '.join(unknown)} (see `dlq list`)")
        sealer = sealer_for(settings)
        decisions = plan(letters, handled, fixes, sealer, now, set(only) or None, set(discard))
        if not dry_run:
            try:
                execute(settings, decisions, sealer, now)
            except ReplayFailed as exc:
                raise click.ClickException(str(exc)) from exc
    _report(decisions, dry_run, as_json)


def _report(decisions: list[Decision], dry_run: bool, as_json: bool) -> None:
    done = {"redrive": "would re-drive" if dry_run else "re-driven",
            "discard": "would discard" if dry_run else "discarded",
            "invalid": "still invalid", "handled": "already handled"}  # fmt: skip
    rows = [_result(d, done[d.action]) for d in decisions]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
    else:
        table = Table("dlq", "result", "customer", "event id / reason", "fixed from")
        for row in rows:
            if row["result"] != "already handled":
                detail = row["event_id"] or row["reason"]
                table.add_row(row["dlq"], row["result"], row["customer_id"] or "-", detail,
                              row["fixed_from"] or "-")  # fmt: skip
        out.print(table)
    counts = {label: sum(row["result"] == label for row in rows) for label in done.values()}
    summary = ", ".join(f"{n:,} {label}" for label, n in counts.items() if n)
    console.print(summary or "no dead letters to replay")
    if counts["still invalid"]:
        console.print("fix them with --fixed FILE (lines of `dlq list --json`), or --discard them")
        raise SystemExit(1)


def _result(decision: Decision, result: str) -> dict[str, Any]:
    event = decision.event
    return {
        "dlq": decision.letter.ref,
        "result": result,
        "customer_id": event.customer_id if event else decision.letter.key,
        "event_id": str(event.event_id) if event else None,
        "reason": decision.reason,
        "fixed_from": decision.fix.where if decision.fix else None,
    }
