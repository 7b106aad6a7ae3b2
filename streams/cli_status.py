"""``touchpoint status``: lag, events/s, dead letters and read-model freshness
(streams/health.py says how each figure is measured; docs/operations.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.table import Table

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out
from streams.health import Status, collect_status
from streams.offsets import TopicMissing
from streams.settings import Settings


@click.command()
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Seconds between the two samples events/s are measured over (0: no rates).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as one JSON object.")
@with_settings
def status(settings: Settings, interval: float, as_json: bool) -> None:
    """Show how far the pipeline has got: worker lag and events/s per input partition,
    dead letters, and the read model's freshness in event time and wall time.

    Lag is the fetch high-water mark minus the worker group's committed offset. Events/s
    compare two samples --interval seconds apart: arriving (the high-water mark's growth)
    and processed (the committed offset's; the worker commits about once a second).
    Exits 0 whatever the lag; 1 when the broker cannot be reached (docs/operations.md).
    """
    with kafka_errors():
        try:
            found = collect_status(settings, interval)
        except TopicMissing as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2, default=_json_default))
        return
    out.print(_partitions_table(found))
    out.print(_read_model_table(found))
    for line in _summary(found):
        console.print(line)


def _json_default(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _partitions_table(found: Status) -> Table:
    table = Table("topic", "partition", "committed", "high-water", "lag", "in/s", "done/s",
                  title=f"worker group {found.group}")  # fmt: skip
    for row in found.partitions:
        table.add_row(row.topic, str(row.partition), _n(row.committed), _n(row.high_water),
                      _n(row.lag), _n(row.arriving_per_s), _n(row.processed_per_s))  # fmt: skip
    return table


def _read_model_table(found: Status) -> Table:
    model = found.read_model
    table = Table("read model", model.path, title="read model (published snapshot)")
    if model.error:
        table.add_row("state", f"[yellow]{model.error}[/]")
        return table
    published = model.published_at.isoformat(timespec="seconds") if model.published_at else "-"
    table.add_row("published (wall time)", f"{published} ({_n(model.age_s)} s ago)")
    watermark = model.watermark.isoformat() if model.watermark else "- (no view yet)"
    table.add_row("watermark (event time)", watermark)
    for topic, behind in model.lag.items():
        table.add_row(f"lag {topic}", _n(behind))
    return table


def _summary(found: Status) -> list[str]:
    events = found.totals(found.log_topic)
    rate = (f"{_n(events['processed_per_s'])} events/s processed, "
            f"{_n(events['arriving_per_s'])}/s arriving (over {found.interval_s} s)"
            if found.interval_s else "no rates (--interval 0)")  # fmt: skip
    letters = found.dead_letters
    return [
        f"event log lag: {_n(events['lag'])} events; {rate}",
        f"dead letters on {letters.topic}: {letters.records:,} ({letters.handled:,} handled, "
        f"{letters.pending:,} pending: `touchpoint dlq list --pending`)",
    ]


def _n(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
