"""The pipeline end to end, in one run: raw Kafka client rates, the worker and the
materializer from ``touchpoints`` into DuckDB, event-to-view latency, rebuild, memory.

    python -m bench.pipeline [--customers N] [--days N] [--latency-rate R]
                             [--latency-seconds S] [--json PATH] [--markdown PATH]

Every throughput is printed with its ratio to the raw consume rate (what the
project's Kafka client reads the same bytes at, decoding nothing): the ceiling the
pipeline is measured against. docs/benchmarks.md explains each figure.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from bench.pipeline_figures import results_of
from bench.pipeline_latency import measure_latency
from bench.pipeline_measure import (
    create_scratch_topic,
    end_to_end,
    publish_history,
    raw_consume,
    raw_produce,
    rebuild_in_child,
)
from bench.pipeline_report import Results, Sizes, print_table, write_json, write_markdown
from streams.settings import Settings, load_settings
from streams.topics import create_topics

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "pipeline.json"
DEFAULT_MARKDOWN = ROOT / "docs" / "benchmarks.md"
DEFAULTS = Sizes(customers=1000, days=365, seed=7, latency_rate=50.0, latency_seconds=20.0)

__all__ = ["DEFAULTS", "Results", "Sizes", "main", "run"]


def run(
    settings: Settings,
    sizes: Sizes = DEFAULTS,
    broker: str | None = None,
    console: Console | None = None,
) -> Results:
    """Every measurement on the broker, topics (``topic_prefix``) and DuckDB file of
    ``settings``; the files of the run go next to ``settings.db``."""
    say: Callable[[str], None] = (console or Console(stderr=True)).log
    workdir = settings.db.parent
    load = os.getloadavg()  # others' work on the machine skews every figure
    create_topics(settings)
    say(f"publishing {sizes.customers:,} simulated customers × {sizes.days} days")
    history = publish_history(settings, sizes.customers, sizes.days, sizes.seed)
    events = history.published.records
    say(f"{events:,} events published; raw produce and consume of their bytes")
    scratch = create_scratch_topic(settings, f"bench-raw-{uuid.uuid4().hex[:6]}")
    produced = raw_produce(settings, scratch, history.payloads)
    consumed = raw_consume(settings, scratch, events)
    say("end to end: worker until idle, then the materializer until caught up")
    e2e = end_to_end(settings, events)
    say("rebuild from offset 0 (child process), then the customer states' memory")
    rebuilt = rebuild_in_child(settings, workdir / "rebuilt.duckdb")
    say(f"latency: live worker, {sizes.latency_rate:g} probes/s for {sizes.latency_seconds:g} s")
    latency = measure_latency(
        settings, sizes.days, sizes.latency_rate, sizes.latency_seconds, workdir
    )
    if latency.seen < 2:
        raise RuntimeError(f"only {latency.seen} of {latency.sent} probes reached the read model")
    results = results_of(
        settings, sizes, broker, history, produced, consumed, e2e, rebuilt, latency
    )
    results.machine["load_average_at_start"] = load
    return results


HELP = """Measure the pipeline end to end in one run; print, and save, the figures.

\b
  raw produce, raw consume   the project's kafka-python clients, on the events' bytes
  end to end                 touchpoints -> worker -> materializer -> DuckDB snapshot
  worker only                the same run, the processing tier's share of the time
  latency p50, p99           probes at --latency-rate through a live `touchpoint worker`
  rebuild                    streams.rebuild.rebuild from offset 0, in a child process
  memory per 100k customers  the customer states' heap after folding the log

Throughputs are shown with their ratio to the raw consume rate, and checked against the
targets (end to end >= 50% of raw consume, rebuild >= 33,000 events/s). The broker is
KAFKA_BOOTSTRAP_SERVERS when set, else an embedded Tansu started for the run; the run's
topics get a fresh prefix, its DuckDB files a temporary directory. The default size
takes 3-4 minutes on 2 cores. docs/benchmarks.md explains every figure.
"""


@click.command(help=HELP)
@click.option(
    "--customers",
    type=click.IntRange(min=1),
    default=DEFAULTS.customers,
    show_default=True,
    help="Simulated customers.",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=DEFAULTS.days,
    show_default=True,
    help="Simulated days of history.",
)
@click.option(
    "--seed", type=int, default=DEFAULTS.seed, show_default=True, help="The simulator's seed."
)
@click.option(
    "--latency-rate",
    type=click.FloatRange(min=0.1),
    default=DEFAULTS.latency_rate,
    show_default=True,
    help="Latency probes offered per second.",
)
@click.option(
    "--latency-seconds",
    type=click.FloatRange(min=0.1),
    default=DEFAULTS.latency_seconds,
    show_default=True,
    help="How long the probes are offered.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=None,
    help="Partitions of the run's topics.  [default: TOUCHPOINT_PARTITIONS or 6]",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_JSON,
    show_default="bench/results/pipeline.json",
    help="Write every figure here.",
)
@click.option(
    "--markdown",
    "markdown_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_MARKDOWN,
    show_default="docs/benchmarks.md",
    help="Rewrite the results section (between its markers) of this file.",
)
@click.option("--no-markdown", is_flag=True, help="Leave --markdown alone.")
def main(
    customers: int,
    days: int,
    seed: int,
    latency_rate: float,
    latency_seconds: float,
    partitions: int | None,
    json_path: Path,
    markdown_path: Path,
    no_markdown: bool,
) -> None:
    console = Console()
    sizes = Sizes(customers, days, seed, latency_rate, latency_seconds)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as tmp:
        options: dict[str, Any] = {
            "topic_prefix": f"bench{uuid.uuid4().hex[:8]}.",
            "db": Path(tmp) / "touchpoint.duckdb",
            "key_vault": Path(tmp) / "keys.sqlite",
            "partitions": partitions,
        }
        if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            settings = load_settings(**options)
            results = run(settings, sizes, f"external at {settings.bootstrap_servers}", console)
        else:
            from streams.broker import EmbeddedBroker

            with EmbeddedBroker() as server:
                console.log(f"embedded broker on {server.bootstrap_servers}")
                settings = load_settings(bootstrap_servers=server.bootstrap_servers, **options)
                results = run(settings, sizes, "embedded Tansu (streams/broker.py)", console)
    results.details["total_seconds"] = time.monotonic() - started
    print_table(results, console)
    write_json(results, json_path)
    console.print(f"wrote {json_path}")
    if not no_markdown:
        write_markdown(results, markdown_path)
        console.print(f"rewrote the results in {markdown_path}")


if __name__ == "__main__":
    main()
