"""``touchpoint worker``: the processing tier, and (by default) the materializer in-process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from typing import TYPE_CHECKING

import click

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors
from streams.settings import Settings
from streams.topics import CUSTOMER_ALIASES, CUSTOMER_MERGES, CUSTOMER_STATE, TOUCHPOINTS

if TYPE_CHECKING:
    from streams.metrics import MaterializerProbe
    from streams.topics import TopicResult
    from streams.worker import ProcessingWorker


@click.command()
@click.option(
    "--until-idle",
    is_flag=True,
    help="Process until every partition is caught up, write the read model, exit 0.",
)
@click.option(
    "--materialize/--no-materialize",
    default=True,
    show_default=True,
    help="Also run the materializer (the one DuckDB writer) in this process. Turn it off on "
    "all but one worker, or run `touchpoint materialize` on its own.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--metrics-port",
    type=click.IntRange(min=0, max=65535),
    default=0,
    help="Serve Prometheus metrics at http://HOST:PORT/metrics (docs/operations.md).  "
    "[default: 0, off]",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics endpoint listens on (0.0.0.0: every interface).",
)
@with_settings
def worker(
    settings: Settings,
    until_idle: bool,
    materialize: bool,
    batch_size: int,
    metrics_port: int,
    metrics_host: str,
) -> None:
    """Run a stream worker: fold touchpoints into customer views (docs/architecture.md).

    Workers in one group share the partitions of the event log: start more for more
    throughput. Stop with Ctrl-C; a restart continues where the last one stopped.
    """
    from streams.metrics import MaterializerProbe
    from streams.topics import create_topics
    from streams.worker import ProcessingWorker

    with kafka_errors():
        _check_co_partitioned(settings, create_topics(settings))
        processing = ProcessingWorker(settings, batch_size)
        probe = MaterializerProbe()
        with _metrics(processing, probe, metrics_port, metrics_host):
            if until_idle:
                _until_idle(settings, processing, materialize, probe)
            else:
                _forever(settings, processing, materialize, probe)


def _check_co_partitioned(settings: Settings, topics: list[TopicResult]) -> None:
    """The event log and the topics keyed like it must have as many partitions: a
    customer's state is restored from the changelog partition of its event-log partition."""
    counts = {t.name: t.partitions for t in topics}
    names = [settings.topic(n) for n in (TOUCHPOINTS, CUSTOMER_STATE, CUSTOMER_ALIASES,
                                         CUSTOMER_MERGES)]  # fmt: skip
    if len({counts.get(name) for name in names}) > 1:
        found = ", ".join(f"{name}: {counts.get(name)}" for name in names)
        raise click.ClickException(
            f"these topics must have the same number of partitions ({found}); were some "
            "created by the broker on first use? Recreate them with `touchpoint topics create`"
        )


def _metrics(
    processing: ProcessingWorker, probe: MaterializerProbe, port: int, host: str
) -> contextlib.AbstractContextManager[object]:
    """The Prometheus endpoint while the worker runs (nothing when ``port`` is 0)."""
    if not port:
        return contextlib.nullcontext()
    from streams.metrics import MaterializerCollector, MetricsServer, WorkerCollector

    try:
        server = MetricsServer(
            port, host, WorkerCollector(processing), MaterializerCollector(probe)
        )
    except OSError as exc:
        raise click.ClickException(f"cannot serve metrics on {host}:{port}: {exc}") from exc
    console.print(f"metrics at http://{host}:{server.port}/metrics")
    return server


def _until_idle(
    settings: Settings, processing: ProcessingWorker, materialize: bool, probe: MaterializerProbe
) -> None:
    from streams.idle import run_until_idle

    started = time.monotonic()
    asyncio.run(run_until_idle(processing))
    stats = processing.stats
    console.print(
        f"processed {stats.applied:,} events ({stats.redelivered:,} redelivered, "
        f"{stats.dead_lettered:,} dead-lettered), published {stats.views_published:,} views "
        f"in {time.monotonic() - started:.1f} s"
    )
    if materialize:
        applied = _materialize_until_caught_up(settings, probe)
        console.print(f"read model {settings.db}: {applied:,} view records applied")


def _materialize_until_caught_up(settings: Settings, probe: MaterializerProbe) -> int:
    from streams.materializer import Materializer

    with Materializer(settings) as materializer:
        probe.stats = materializer.stats
        return materializer.run_until_caught_up(timeout=600)


def _forever(
    settings: Settings, processing: ProcessingWorker, materialize: bool, probe: MaterializerProbe
) -> None:
    stop = threading.Event()
    thread = threading.Thread(
        target=_materialize_forever, args=(settings, stop, probe), daemon=True
    )
    if materialize:
        thread.start()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await processing.app.start()
        console.print("[green]worker running[/]: Ctrl-C to stop")
        while not done.is_set() and processing.failure is None:
            await asyncio.sleep(0.5)
        await processing.app.stop()
        processing.close()

    asyncio.run(main())
    stop.set()
    if materialize:
        thread.join()
    if processing.failure is not None:
        raise click.ClickException(f"worker stopped: {processing.failure}")


def _materialize_forever(
    settings: Settings, stop: threading.Event, probe: MaterializerProbe
) -> None:
    from streams.materializer import Materializer

    with Materializer(settings) as materializer:
        probe.stats = materializer.stats

        def report_lag() -> None:
            probe.lag = materializer.lag()

        materializer.run_forever(stop, after_poll=report_lag)
