"""Running ``touchpoint import``: one process or several, a progress bar, the summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import click
import duckdb
from rich.progress import Progress, TaskID
from rich.table import Table

from streams import kafka_clients
from streams.cli_output import console, kafka_errors, progress
from streams.import_fields import ImportOptions, MappingError
from streams.import_mapping import RowMapping, plan
from streams.import_parallel import ImportWorkerError, import_in_parallel
from streams.import_reading import Format, TableSource
from streams.importer import Importer, RejectsFile
from streams.keyvault import sealer_for
from streams.producer import EventPublisher, Rejection
from streams.settings import Settings
from streams.topics import create_topics


class Outcome(NamedTuple):
    """What an import did."""

    read: int
    published: Counter[str]  # acknowledged by the broker
    failed: list[Rejection]  # sends the broker refused
    rejects: RejectsFile


def import_events(settings: Settings, file: Path, rejects: RejectsFile) -> Outcome:
    """JSON lines of events, validated and published as ``touchpoint produce`` does."""
    try:
        with (
            kafka_errors(),
            _layout(settings),
            EventPublisher(settings, sealer_for(settings)) as publisher,
            file.open("rb") as lines,
            progress() as bar,
        ):
            importer = Importer(publisher, rejects)
            task = bar.add_task("importing", total=file.stat().st_size or None)
            importer.events(lines, lambda n: bar.update(task, advance=n))
    finally:
        rejects.close()
    report = publisher.report
    return Outcome(importer.read, report.published, report.failed, rejects)


@contextmanager
def _layout(settings: Settings) -> Iterator[None]:
    """The topic layout exists (co-partitioned; not topics the broker creates on first use)."""
    create_topics(settings)
    yield


def import_table(
    settings: Settings,
    file: Path,
    fmt: Format,
    options: ImportOptions,
    jobs: int,
    rejects_path: Path,
    show: int,
) -> Outcome:
    """Every row of a table as one event: options checked first, then rows published."""
    try:
        source = TableSource(file, fmt)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    with source:
        recorded_at = datetime.now(UTC)
        try:
            mapping = plan(options, source.columns, recorded_at)
        except MappingError as exc:
            raise click.UsageError(str(exc)) from exc
        console.print(f"importing {file} as {options.event_type}:", markup=False)
        for line in mapping.describe():
            console.print(f"  {line}", markup=False)
        rejects = RejectsFile(rejects_path, keep=show)
        try:
            with kafka_errors(), _layout(settings), progress() as bar:
                task = bar.add_task("importing", total=source.count())
                run = _Run(settings, source, options, mapping, recorded_at, rejects)
                return run.parallel(jobs, bar, task) if jobs > 1 else run.single(bar, task)
        except duckdb.Error as exc:
            raise click.ClickException(f"cannot read {file}: {exc}") from exc
        except ImportWorkerError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            rejects.close()


class _Run(NamedTuple):
    settings: Settings
    source: TableSource
    options: ImportOptions
    mapping: RowMapping
    recorded_at: datetime
    rejects: RejectsFile

    def single(self, bar: Progress, task: TaskID) -> Outcome:
        with EventPublisher(self.settings, sealer_for(self.settings)) as publisher:
            importer = Importer(publisher, self.rejects)
            importer.table(self.source, self.mapping, lambda n: bar.update(task, advance=n))
        report = publisher.report
        return Outcome(importer.read, report.published, report.failed, self.rejects)

    def parallel(self, jobs: int, bar: Progress, task: TaskID) -> Outcome:
        kafka_clients.producer(self.settings).close()  # no broker: say so here, as `single` does
        done = import_in_parallel(
            self.settings, self.source, self.options, self.mapping, self.recorded_at, jobs,
            self.rejects, lambda n: bar.update(task, advance=n),
        )  # fmt: skip
        return Outcome(done.read, done.published, done.failed, self.rejects)


def print_outcome(file: Path, outcome: Outcome, seconds: float, show: int) -> None:
    """Events published per type, rows read and the rate, rejects, failed sends."""
    read, published, rejected = outcome.read, outcome.published, outcome.rejects
    rate = read / seconds if seconds > 0 else 0.0
    table = Table("event type", "published", title="published to Kafka (acknowledged)")
    for event_type, count in sorted(published.items()):
        table.add_row(event_type, f"{count:,}")
    table.add_row("[bold]total", f"[bold]{sum(published.values()):,}")
    console.print(table)
    console.print(f"read {read:,} rows of {file} in {seconds:.1f} s ({rate:,.0f} rows/s)")
    if rejected.count:
        console.print(
            f"[red]{rejected.count:,} rejected[/]: listed in {rejected.path}", soft_wrap=True
        )
        for line in rejected.first:
            console.print(f"  {file}:{line}", markup=False, soft_wrap=True)
        if rejected.count > len(rejected.first):
            console.print(f"  ... and {rejected.count - len(rejected.first):,} more")
    for failure in outcome.failed[:show]:
        console.print(f"[red]not sent[/] {failure.origin}: {failure.reason}", soft_wrap=True)
