"""``touchpoint rebuild``: recompute the read model from offset 0 of the event log into a
fresh file, and (``--verify``) compare it with the live one (docs/operations.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.table import Table

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out, progress
from streams.settings import Settings


@click.command()
@click.option(
    "--out",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the rebuilt read model (a published snapshot; its writer file goes "
    "next to it as OUT.writer).  [default: <db>.rebuilt.duckdb next to --db]",
)
@click.option("--force", is_flag=True, help="Replace --out (and its writer file) if they exist.")
@click.option(
    "--verify",
    is_flag=True,
    help="Then compare the rebuilt model with the live one (--db) table by table; exit 1 "
    "if they differ. The live pipeline must have processed the same log (caught up).",
)
@click.option(
    "--adopt",
    is_flag=True,
    help="Blue/green cut-over, with every worker stopped: rebuild up to the worker group's "
    "committed offsets, then make the rebuilt model the live one (customer states to the "
    "changelog, the materialized topics' ends stored in --out). Then start the workers, "
    "and the materializer on --out (docs/operations.md).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="With --verify: fail on any difference, also in the loyalty and churn histories of "
    "customers with late or merged facts (which depend on how the log was batched).",
)
@click.option(
    "--examples",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="With --verify: rows shown for each side of a table that differs.",
)
@with_settings
def rebuild(
    settings: Settings,
    target: Path | None,
    force: bool,
    verify: bool,
    adopt: bool,
    strict: bool,
    examples: int,
) -> None:
    """Recompute every projection from offset 0 of the event log into a new DuckDB file.

    Runs the workers' code in this process over the log as it stands when the command
    starts (later events are left for the live pipeline), then copies what `touchpoint
    fit` published. Readers keep using the live model meanwhile; point them at the new
    file when it suits (blue/green, docs/operations.md). Nothing is written to Kafka.
    """
    from streams.rebuild import GroupBusy, committed_ends, log_ends
    from streams.rebuild import rebuild as run

    target = target or settings.db.with_name(f"{settings.db.stem}.rebuilt.duckdb")
    writer = target.with_name(target.name + ".writer")
    if target.resolve() == settings.db.resolve():
        raise click.BadParameter("must not be the live read model (--db)", param_hint="--out")
    existing = [path for path in (target, writer) if path.exists()]
    if existing and not force:
        raise click.ClickException(f"{existing[0]} exists: choose another --out, or --force")
    for path in existing:
        path.unlink()
    started = time.monotonic()
    with kafka_errors():
        total = sum(committed_ends(settings).values()) if adopt else log_ends(settings)[1]
        with progress() as bar:
            task = bar.add_task("rebuilding", total=total)
            try:
                stats = run(settings, target, lambda n: bar.advance(task, n), adopt=adopt)
            except GroupBusy as exc:
                raise click.ClickException(str(exc)) from exc
    took = time.monotonic() - started
    rate = stats.events / took if took else 0.0
    console.print(
        f"rebuilt {target} from {stats.events:,} events in {took:.1f} s ({rate:,.0f} events/s): "
        f"{stats.outputs:,} projection records, {stats.copied:,} copied from `fit`"
    )
    if adopt:
        console.print(
            f"adopted: start the workers, and the materializer with --db {target}; point the "
            "readers at it"
        )
    if verify:
        _verify(settings.db, target, examples, strict)


def _verify(live: Path, rebuilt: Path, examples: int, strict: bool) -> None:
    from projections.read_model_diff import NOT_COMPARED, compare

    if not live.exists():
        raise click.ClickException(f"no live read model at {live} to compare with")
    diffs = compare(live, rebuilt, examples)
    table = Table("table", "live rows", "rebuilt rows", "only live", "only rebuilt", "",
                  title=f"{live} vs {rebuilt}")  # fmt: skip
    for diff in diffs:
        mark = (
            "[green]equal[/]" if diff.equal
            else f"[yellow]late facts ({diff.arrival_dependent:,})[/]" if diff.settled
            else "[red]differs[/]"
        )  # fmt: skip
        table.add_row(diff.table, f"{diff.left_rows:,}", f"{diff.right_rows:,}",
                      f"{diff.only_left:,}", f"{diff.only_right:,}", mark)  # fmt: skip
    out.print(table)
    for name, why in NOT_COMPARED.items():
        console.print(f"not compared: {name} ({why})")
    differing = [diff for diff in diffs if not diff.equal]
    failing = differing if strict else [diff for diff in diffs if not diff.settled]
    for diff in differing:
        console.print(f"[bold]{diff.table}[/] ({', '.join(diff.columns)})")
        for row in diff.examples_left:
            console.print(f"  only live:    {row}")
        for row in diff.examples_right:
            console.print(f"  only rebuilt: {row}")
    if failing:
        names = ", ".join(diff.table for diff in failing)
        raise click.ClickException(f"the rebuilt read model differs from the live one: {names}")
    if differing:
        console.print(
            "[green]verified[/]: equal but for the loyalty and churn histories of customers "
            "with late or merged facts, which record what was known when "
            "(docs/operations.md)"
        )
    else:
        console.print("[green]verified[/]: the rebuilt read model equals the live one")
