"""What the CLI prints: consoles, progress bars, produce reports, broker errors."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any, TypeVar

import click
from kafka.errors import KafkaError, KafkaTimeoutError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from streams.producer import ProduceReport

console = Console(stderr=True)  # progress, summaries, errors: never mixed into data on stdout
out = Console()

T = TypeVar("T")


def size_of(file: IO[bytes]) -> int | None:
    """Byte size of a regular file, None for pipes and stdin."""
    try:
        return os.fstat(file.fileno()).st_size or None
    except (OSError, ValueError):
        return None


@contextmanager
def progress() -> Iterator[Progress]:
    """A progress bar on stderr (silent when stderr is not a terminal)."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=True) as bar:
        yield bar


@contextmanager
def kafka_errors() -> Iterator[None]:
    """Turn broker errors into a one-line CLI error naming the address to check."""
    try:
        yield
    except KafkaTimeoutError as exc:
        raise click.ClickException(
            f"{exc}: is a broker running there? Start one with `touchpoint broker`, "
            "or set --bootstrap-servers / KAFKA_BOOTSTRAP_SERVERS"
        ) from exc
    except KafkaError as exc:
        raise click.ClickException(f"Kafka error: {exc}") from exc


def kafka_call(fn: Callable[..., T], *args: Any) -> T:
    with kafka_errors():
        return fn(*args)


def print_report(report: ProduceReport, show: int) -> None:
    """Summary of a produce run: published per type, then refused lines with reasons."""
    table = Table("event type", "published", title="published to Kafka (acknowledged)")
    for event_type, count in sorted(report.published.items()):
        table.add_row(event_type, f"{count:,}")
    table.add_row("[bold]total", f"[bold]{report.published_total:,}")
    console.print(table)
    if report.rejected:
        console.print(
            f"[red]{len(report.rejected):,} refused[/] (kept on the dead-letter topic: "
            f"{report.dead_lettered:,} written)"
        )
        for rejection in report.rejected[:show]:
            console.print(f"  {rejection.origin}: {rejection.reason}", markup=False, soft_wrap=True)
        if len(report.rejected) > show:
            console.print(f"  ... and {len(report.rejected) - show:,} more")
    for failure in report.failed[:show]:
        console.print(f"[red]not sent[/] {failure.origin}: {failure.reason}", soft_wrap=True)


__all__ = ["console", "kafka_call", "kafka_errors", "out", "print_report", "progress"]
