"""``touchpoint worker``: the processing tier, and (by default) the materializer in-process."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import click

from streams.cli_options import with_settings
from streams.cli_output import console, kafka_errors
from streams.settings import Settings


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
@with_settings
def worker(settings: Settings, until_idle: bool, materialize: bool, batch_size: int) -> None:
    """Run a stream worker: fold touchpoints into customer views (docs/architecture.md).

    Workers in one group share the partitions of the event log: start more for more
    throughput. Stop with Ctrl-C; a restart continues where the last one stopped.
    """
    from streams.topics import create_topics

    with kafka_errors():
        create_topics(settings)
        if until_idle:
            _until_idle(settings, materialize, batch_size)
        else:
            _forever(settings, materialize, batch_size)


def _until_idle(settings: Settings, materialize: bool, batch_size: int) -> None:
    from streams.idle import run_until_idle
    from streams.worker import ProcessingWorker

    started = time.monotonic()
    processing = ProcessingWorker(settings, batch_size)
    asyncio.run(run_until_idle(processing))
    stats = processing.stats
    console.print(
        f"processed {stats.applied:,} events ({stats.redelivered:,} redelivered, "
        f"{stats.dead_lettered:,} dead-lettered), published {stats.views_published:,} views "
        f"in {time.monotonic() - started:.1f} s"
    )
    if materialize:
        applied = _materialize_until_caught_up(settings)
        console.print(f"read model {settings.db}: {applied:,} view records applied")


def _materialize_until_caught_up(settings: Settings) -> int:
    from streams.materializer import Materializer

    with Materializer(settings) as materializer:
        return materializer.run_until_caught_up(timeout=600)


def _forever(settings: Settings, materialize: bool, batch_size: int) -> None:
    from streams.worker import ProcessingWorker

    processing = ProcessingWorker(settings, batch_size)
    stop = threading.Event()
    thread = threading.Thread(target=_materialize_forever, args=(settings, stop), daemon=True)
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


def _materialize_forever(settings: Settings, stop: threading.Event) -> None:
    from streams.materializer import Materializer

    with Materializer(settings) as materializer:
        materializer.run_forever(stop)
