"""``touchpoint demo``: the whole pipeline on the embedded default, end to end.

Starts the embedded broker unless one answers at the configured address,
creates the topics, publishes simulated touchpoints (plus two broken lines, to
show the dead-letter path), runs the processing tier and the materializer
until they have caught up, and shows the read model: summary counts and a
few unified customer views a person can check against the events.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import Any

import click
import duckdb
from rich.table import Table

from schemas import decode
from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors, out, print_report, progress
from streams.settings import Settings

BROKEN_LINES = (
    b'{"event_id": "00000000-0000-4000-8000-00000000dead", "event_type": "purchase_completed", '
    b'"schema_version": 1, "customer_id": "C-demo", "occurred_at": "2025-06-01T12:00:00+00:00", '
    b'"channel": "store", "source": "pos", "order_id": "X1", "amount_minor": -5, '
    b'"currency": "EUR"}',
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
        settings, fresh = _ensure_broker(settings, stack)
        if fresh:  # a new in-memory broker: a read model from an earlier run would not match
            _remove_read_model(settings)
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
        _run_pipeline(settings)
        _show_read_model(settings)
    _show_dashboard(settings)


def _ensure_broker(settings: Settings, stack: ExitStack) -> tuple[Settings, bool]:
    """Settings pointing at a broker, and whether it is a fresh embedded one."""
    from streams.broker import EmbeddedBroker, free_port, port_in_use

    host, _, port = settings.bootstrap_servers.split(",")[0].rpartition(":")
    if port.isdigit() and port_in_use(host or "127.0.0.1", int(port)):
        console.print(f"using the broker at {settings.bootstrap_servers}")
        return settings, False
    wanted = settings.embedded_port
    server = EmbeddedBroker(wanted if not port_in_use("127.0.0.1", wanted) else free_port())
    stack.enter_context(server)
    console.print(f"[green]started the embedded broker[/] on {server.bootstrap_servers}")
    return settings.model_copy(update={"bootstrap_servers": server.bootstrap_servers}), True


def _remove_read_model(settings: Settings) -> None:
    from projections.snapshots import writer_path

    for path in (settings.db, writer_path(settings.db)):
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".wal").unlink(missing_ok=True)


def _run_pipeline(settings: Settings) -> None:
    import asyncio

    from streams.idle import run_until_idle
    from streams.materializer import Materializer
    from streams.worker import ProcessingWorker

    console.print("running the stream worker until it has caught up ...")
    processing = ProcessingWorker(settings)
    asyncio.run(run_until_idle(processing))
    stats = processing.stats
    console.print(
        f"worker: {stats.applied:,} events folded, {stats.dead_lettered:,} dead-lettered, "
        f"{stats.views_published:,} view updates, {stats.stage_changes:,} loyalty stage "
        f"changes, {stats.aliases_decided:,} identity merges"
    )
    with Materializer(settings) as materializer:
        records = materializer.run_until_caught_up(timeout=300)
    console.print(f"materializer: {records:,} records into {settings.db}")
    _fit_lifetime_value(settings)


def _fit_lifetime_value(settings: Settings) -> None:
    """What `touchpoint fit` does, then the materializer stores the scores."""
    from projections import queries
    from streams.clv_job import ClvJob, fit_from_read_model, publish
    from streams.materializer import Materializer

    conn = queries.open_read_model(settings.db)
    try:
        outcome = fit_from_read_model(conn, settings, ClvJob())
    finally:
        conn.close()
    publish(settings, outcome)
    with Materializer(settings) as materializer:
        materializer.run_until_caught_up(timeout=300)
    bg = outcome.models.bgnbd.params
    console.print(
        f"lifetime value: BG/NBD and Gamma-Gamma fitted on {outcome.customers:,} buyers "
        f"(r={bg.r:.3g}, alpha={bg.alpha:.3g}, a={bg.a:.3g}, b={bg.b:.3g})"
    )


TOP_CLV_SQL = """
SELECT c.customer_id, t.tier, round(c.p_alive, 3) AS p_alive,
       round(c.expected_purchases_90d, 2) AS purchases_90d,
       round(c.clv_minor / 100, 2) AS clv, c.currency
FROM clv c JOIN value_tier t USING (customer_id)
ORDER BY c.clv_minor DESC NULLS LAST LIMIT 5
"""

DEMO_PICKS = (
    ("a person known under two customer ids", "len(aliases) > 0 ORDER BY customer_id"),
    ("the biggest spender", "TRUE ORDER BY total_spend_minor DESC, customer_id"),
    ("a customer with an overdue complaint", "complaints_overdue > 0 ORDER BY customer_id"),
)


def _show_read_model(settings: Settings) -> None:
    from projections import queries
    from streams import cli_tables
    from streams.cli_read import print_customer

    conn = queries.open_read_model(settings.db)
    try:
        figures = queries.summary(conn)
        table = Table("figure", "value", title=f"read model {settings.db}")
        for name, value in figures.items():
            table.add_row(name, str(value))
        out.print(table)
        out.print(cli_tables.funnel_table(queries.funnel(conn)))
        pyramid = queries.tiers(conn)
        out.print(cli_tables.pyramid_table(pyramid))
        out.print(cli_tables.pareto_line(pyramid))
        top = queries.run_query(conn, TOP_CLV_SQL)
        table = Table(*top.columns, title="highest predicted lifetime value")
        for row in top.rows:
            table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
        out.print(table)
        _show_churn(conn)
        for title, condition in DEMO_PICKS:
            sql = f"SELECT customer_id FROM customer_view WHERE {condition} LIMIT 1"
            rows = queries.run_query(conn, sql).rows
            if rows:
                out.rule(f"{title}: {rows[0][0]}")
                print_customer(conn, str(rows[0][0]))
    finally:
        conn.close()
    out.print(
        f"explore: touchpoint customer ID --db {settings.db}, "
        f"touchpoint funnel --db {settings.db}, touchpoint tiers --db {settings.db}, "
        f"touchpoint warnings --open --db {settings.db}, touchpoint complaints --db {settings.db}, "
        f'touchpoint query "SELECT * FROM customer_view LIMIT 5" --db {settings.db}'
    )


def _show_churn(conn: duckdb.DuckDBPyConnection) -> None:
    """The top of the churn worklist and the complaint timeliness (docs/churn.md)."""
    from streams.cli_churn import print_complaints, print_warnings

    print_warnings(conn, only_open=True, top=10)
    print_complaints(conn, open_limit=5)


def _show_dashboard(settings: Settings) -> None:
    """Where to look next: the dashboard over this read model (docs/api.md)."""
    out.rule("dashboard")
    out.print(
        f"the dashboard: run `touchpoint serve --db {settings.db}`, then open the address it "
        "prints, http://127.0.0.1:8080/#key=... (the key is made for the run unless "
        "TOUCHPOINT_API_KEYS is set). It follows the read model live while a worker runs.",
        markup=False,
    )


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
        out.print(f"  {record.partition}@{record.offset}: {reason}", markup=False)
