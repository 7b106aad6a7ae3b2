"""``touchpoint demo``: the whole pipeline on the embedded default, end to end.

Starts the embedded broker unless one answers at the configured address,
creates the topics, publishes simulated touchpoints (plus two broken lines, to
show the dead-letter path), reads the log back and shows what it holds.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import Any

import click
from rich.table import Table

from schemas import decode
from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out, print_report, progress
from streams.settings import Settings

BROKEN_LINES = (
    b'{"event_type": "purchase_completed", "customer_id": "C-demo", "amount_minor": -5}',
    b"this is not json",
)


@click.command()
@click.option("--customers", "-n", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--days", "-d", type=click.IntRange(min=1), default=365, show_default=True)
@click.option("--seed", "-s", type=int, default=7, show_default=True)
@click.option("--partitions", type=click.IntRange(min=1), default=3, show_default=True)
@with_settings
def demo(settings: Settings, customers: int, days: int, seed: int, partitions: int) -> None:
    """Run the pipeline on simulated touchpoints and show the results.

    Uses the broker at --bootstrap-servers if one answers there, else starts the
    embedded broker for the length of the demo.
    """
    import simulator
    from streams.keyvault import sealer_for
    from streams.producer import EventPublisher
    from streams.topics import DEAD_LETTERS, TOUCHPOINTS, create_topics

    with ExitStack() as stack, kafka_errors():
        settings = _ensure_broker(settings, stack)
        create_topics(settings, partitions)
        with EventPublisher(settings, sealer_for(settings)) as publisher, progress() as bar:
            task = bar.add_task("publishing simulated touchpoints", total=None)
            for number, record in enumerate(simulator.generate(customers, days, seed), start=1):
                publisher.submit(record, origin=f"simulate:{number}")
                bar.update(task, advance=1)
            for number, line in enumerate(BROKEN_LINES, start=1):
                publisher.submit(line, origin=f"demo-broken-line:{number}")
        print_report(publisher.report, 5)
        _show_log(settings, settings.topic(TOUCHPOINTS), publisher.report.published_total)
        _show_dead_letters(settings, settings.topic(DEAD_LETTERS), publisher.report.dead_lettered)


def _ensure_broker(settings: Settings, stack: ExitStack) -> Settings:
    from streams.broker import EmbeddedBroker, free_port, port_in_use

    host, _, port = settings.bootstrap_servers.split(",")[0].rpartition(":")
    if port.isdigit() and port_in_use(host or "127.0.0.1", int(port)):
        console.print(f"using the broker at {settings.bootstrap_servers}")
        return settings
    wanted = settings.embedded_port
    server = EmbeddedBroker(wanted if not port_in_use("127.0.0.1", wanted) else free_port())
    stack.enter_context(server)
    console.print(f"[green]started the embedded broker[/] on {server.bootstrap_servers}")
    return settings.model_copy(update={"bootstrap_servers": server.bootstrap_servers})


def _show_log(settings: Settings, topic: str, expected: int) -> None:
    from streams.readback import read_topic

    by_type: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    customers: set[str] = set()
    first: Any = None
    last: Any = None
    for record in read_topic(settings, topic, expected=expected):
        event = decode(record.value)
        by_type[event.event_type] += 1
        by_channel[event.channel.value] += 1
        customers.add(event.customer_id)
        first = min(first or event.occurred_at, event.occurred_at)
        last = max(last or event.occurred_at, event.occurred_at)
    table = Table("event type", "events", title=f"read back from '{topic}'")
    for name, count in by_type.most_common():
        table.add_row(name, f"{count:,}")
    out.print(table)
    channels = ", ".join(f"{name} {count:,}" for name, count in by_channel.most_common())
    span = f"{first:%Y-%m-%d} to {last:%Y-%m-%d}" if first else "no events"
    out.print(f"{sum(by_type.values()):,} events, {len(customers):,} customers, {span}")
    out.print(f"channels: {channels}")


def _show_dead_letters(settings: Settings, topic: str, expected: int) -> None:
    from streams.deadletter import REASON
    from streams.readback import read_topic

    out.print(f"dead letters on '{topic}':")
    for record in read_topic(settings, topic, expected=expected):
        reason = dict(record.headers).get(REASON, b"").decode()
        out.print(f"  offset {record.offset}: {reason}", markup=False)
