"""The ``touchpoint`` command line: one group, small commands, --help on each."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import click
from rich.table import Table

from streams.cli_churn import CHURN_COMMANDS
from streams.cli_dlq import dlq
from streams.cli_fit import fit
from streams.cli_import import import_
from streams.cli_options import with_settings
from streams.cli_output import (
    console,
    kafka_call,
    kafka_errors,
    out,
    print_report,
    progress,
    size_of,
)
from streams.cli_read import READ_COMMANDS
from streams.cli_rebuild import rebuild
from streams.cli_serve import serve
from streams.cli_status import status
from streams.cli_worker import worker
from streams.demo import demo
from streams.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="touchpoint")
@click.option("--verbose", "-v", count=True, help="More log output (-v: info, -vv: debug).")
def main(verbose: int) -> None:
    """touchpoint: customer touchpoint events on Kafka, folded into customer projections.

    Every command reads its broker from --bootstrap-servers or KAFKA_BOOTSTRAP_SERVERS
    and its read model from --db or TOUCHPOINT_DB (docs/configuration.md).
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Client libraries log expected events at shutdown (cancelled metadata refreshes) as errors.
    for noisy in ("kafka", "aiokafka"):
        logging.getLogger(noisy).setLevel(level if verbose else logging.CRITICAL)


@main.command()
@click.option("--port", "-p", type=int, default=None, help="Port to listen on.  [default: 9092]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@with_settings
def broker(settings: Settings, port: int | None, host: str) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, in memory) in the foreground.

    Ready when it prints its address; Ctrl-C stops it. It keeps nothing on disk.
    """
    from streams.broker import BrokerError, EmbeddedBroker

    server = EmbeddedBroker(port if port is not None else settings.embedded_port, host)
    # Stop from the main flow, not inside the handler: the handler may interrupt
    # Popen.wait, whose lock a second wait from the handler would never get.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started with SIGINT ignored (nohup, &)
    try:
        server.start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from exc
    console.print(f"[green]broker ready[/] on {server.bootstrap_servers} (Tansu, memory only)")
    click.echo(server.bootstrap_servers)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    console.print("broker stopped")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@main.group()
def topics() -> None:
    """Create and describe the topic layout (docs/topics.md)."""


@topics.command("create")
@click.option(
    "--partitions", type=click.IntRange(min=1), help="Partitions per new topic.  [default: 6]"
)
@with_settings
def topics_create(settings: Settings, partitions: int | None) -> None:
    """Create every topic of the layout that does not exist yet (safe to run again)."""
    from streams.topics import LAYOUT, create_topics

    results = kafka_call(create_topics, settings, partitions)
    table = Table("topic", "status", "partitions", "purpose")
    for result, spec in zip(results, LAYOUT, strict=True):
        status = "[green]created[/]" if result.created else "exists"
        table.add_row(result.name, status, str(result.partitions), spec.purpose)
    out.print(table)


@main.command()
@click.argument("file", type=click.File("rb"))
@click.option("--show", default=20, show_default=True, help="Refused lines to list.")
@with_settings
def produce(settings: Settings, file: IO[bytes], show: int) -> None:
    """Validate JSON-lines events from FILE ('-' for stdin) and publish them.

    Each line is one event in the input format of docs/events.md (personal data may
    be clear text: it is sealed before publishing). Valid events go to the
    touchpoints topic keyed by customer id (acks=all); refused lines go to the
    dead-letter topic with the reason. Exits 1 if any line was refused.
    """
    from streams.keyvault import sealer_for
    from streams.producer import EventPublisher
    from streams.topics import create_topics

    name = getattr(file, "name", "-")
    kafka_call(create_topics, settings)  # the layout, co-partitioned: not auto-created topics
    with (
        kafka_errors(),
        EventPublisher(settings, sealer_for(settings)) as publisher,
        progress() as bar,
    ):
        task = bar.add_task("producing", total=size_of(file))
        for number, line in enumerate(file, start=1):
            if line.strip():
                publisher.submit(line.rstrip(b"\r\n"), origin=f"{name}:{number}")
            bar.update(task, advance=len(line))
    print_report(publisher.report, show)
    if not publisher.report.ok:
        sys.exit(1)


@main.command()
@click.option("--customers", "-n", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--days", "-d", type=click.IntRange(min=1), default=365, show_default=True)
@click.option("--seed", "-s", type=int, default=7, show_default=True)
@click.option(
    "--start", type=click.DateTime(["%Y-%m-%d"]), help="First day (UTC).  [default: 2025-01-01]"
)
@click.option(
    "--out",
    "-o",
    type=click.File("w"),
    help="Write JSON lines here ('-': stdout) instead of Kafka.",
)
@with_settings
def simulate(
    settings: Settings,
    customers: int,
    days: int,
    seed: int,
    start: datetime | None,
    out: IO[str] | None,
) -> None:
    """Generate realistic, reproducible touchpoints and publish them (or write them).

    The same --customers/--days/--seed/--start always give the same events.
    """
    records = _simulated(customers, days, seed, start)
    if out is not None:
        count = 0
        for record in records:
            out.write(json.dumps(record, separators=(",", ":")) + "\n")
            count += 1
        console.print(f"wrote {count:,} events for {customers:,} customers over {days} days")
        return
    from streams.keyvault import sealer_for
    from streams.producer import EventPublisher
    from streams.topics import create_topics

    kafka_call(create_topics, settings)  # the layout, co-partitioned: not auto-created topics
    with (
        kafka_errors(),
        EventPublisher(settings, sealer_for(settings)) as publisher,
        progress() as bar,
    ):
        task = bar.add_task("publishing", total=None)
        for number, record in enumerate(records, start=1):
            publisher.submit(record, origin=f"simulate:{number}")
            bar.update(task, advance=1)
    print_report(publisher.report, 20)
    if not publisher.report.ok:
        sys.exit(1)


def _simulated(
    customers: int, days: int, seed: int, start: datetime | None
) -> Iterator[dict[str, Any]]:
    import simulator

    if start is None:
        return simulator.generate(customers, days, seed)
    return simulator.generate(customers, days, seed, start.replace(tzinfo=UTC))


@main.group()
def schemas() -> None:
    """The published event contract (JSON Schema)."""


@schemas.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def schemas_export(directory: Path) -> None:
    """Write one JSON Schema file per event type into DIRECTORY."""
    from schemas.jsonschema import event_json_schemas

    directory.mkdir(parents=True, exist_ok=True)
    for name, body in event_json_schemas().items():
        (directory / name).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        out.print(str(directory / name))


main.add_command(demo)
main.add_command(worker)
main.add_command(fit)
main.add_command(import_)
main.add_command(serve)
main.add_command(status)
main.add_command(dlq)
main.add_command(rebuild)
for command in READ_COMMANDS:  # customer, query, materialize (docs/read-model.md)
    main.add_command(command)
for command in CHURN_COMMANDS:  # warnings, complaints (docs/churn.md)
    main.add_command(command)
