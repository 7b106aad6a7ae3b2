"""The throughput measurements of ``bench.pipeline``: publishing the simulated history,
the raw client rates on a scratch topic, the pipeline end to end, and the rebuild (with
its memory) in a child process.

Every function takes the run's ``Settings`` (broker, topic prefix, DuckDB file) and
returns what it timed; ``bench.pipeline`` turns that into figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

import simulator
from schemas import encode
from schemas.touchpoints import Touchpoint
from streams import kafka_clients
from streams.idle import run_until_idle
from streams.keyvault import sealer_for
from streams.materializer import Materializer
from streams.producer import EventPublisher
from streams.settings import Settings
from streams.worker import ProcessingWorker

Header = tuple[str, bytes]
# one encoded event as the publisher sends it: key, value, headers, timestamp (ms)
Payload = tuple[bytes, bytes, list[Header], int]
TIMEOUT_S = 1800.0  # any one step; a run that needs longer is broken, not slow


@dataclass(frozen=True)
class Timed:
    """``records`` handled in ``seconds`` (``size``: their bytes, keys and values)."""

    records: int
    seconds: float
    size: int = 0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class History:
    """The simulated history as published to ``touchpoints``."""

    payloads: list[Payload]
    customers: int  # distinct customer ids on the log (aliases are ids of their own)
    published: Timed  # generate, validate, seal and send, acknowledged


@dataclass(frozen=True)
class EndToEnd:
    events: int
    worker_seconds: float  # run_until_idle: start, group join, fold, publish, commit, stop
    materialize_seconds: float  # Materializer.run_until_caught_up + its closing snapshot
    views: int  # customer_view rows in the published snapshot

    @property
    def seconds(self) -> float:
        return self.worker_seconds + self.materialize_seconds


@dataclass(frozen=True)
class RebuildRun:
    """One ``streams.rebuild.rebuild`` in a child process (bench/pipeline_rebuild.py)."""

    events: int
    seconds: float
    baseline_rss: int  # bytes: the child's peak RSS before the rebuild (imports done)
    peak_rss: int  # bytes: its peak RSS after it
    state_bytes: int  # bytes traced as still allocated after folding the log (no store)
    states: int  # customer states held then


def publish_history(settings: Settings, customers: int, days: int, seed: int) -> History:
    """Publish the simulated history to ``touchpoints`` as ``touchpoint simulate`` does; keep
    each event's encoded form (made after the clock stops) for the raw client measurements."""
    events: list[Touchpoint] = []
    started = time.perf_counter()
    with EventPublisher(settings, sealer_for(settings)) as publisher:
        for number, record in enumerate(simulator.generate(customers, days, seed)):
            event = publisher.submit(record, origin=f"bench:{number}")
            if event is not None:
                events.append(event)
    seconds = time.perf_counter() - started
    report = publisher.report
    if not report.ok:
        problems = report.rejected + report.failed
        raise RuntimeError(f"publishing the history failed: {problems[:3]}")
    payloads = [_payload(event) for event in events]
    size = sum(len(key) + len(value) for key, value, _, _ in payloads)
    customer_ids = len({event.customer_id for event in events})
    return History(payloads, customer_ids, Timed(report.published_total, seconds, size))


def _payload(event: Touchpoint) -> Payload:
    """What ``EventPublisher.publish`` sends for ``event``."""
    headers = [
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("content-type", b"application/json"),
    ]
    timestamp = int(event.occurred_at.timestamp() * 1000)
    return event.customer_id.encode(), encode(event), headers, timestamp


def create_scratch_topic(settings: Settings, name: str) -> str:
    """A topic beside the layout with the event log's partition count; its full name."""
    topic = settings.topic(name)
    admin = kafka_clients.admin(settings)
    try:
        admin.create_topics(
            [NewTopic(topic, settings.partitions, settings.replication_factor)],
            timeout_ms=30_000,
        )
    finally:
        admin.close()
    return topic


def raw_produce(settings: Settings, topic: str, payloads: list[Payload]) -> Timed:
    """Send the encoded events with the pipeline's producer (acks=all, idempotent), flushed."""
    producer = kafka_clients.producer(settings)
    failures: list[BaseException] = []
    try:
        started = time.perf_counter()
        for key, value, headers, timestamp in payloads:
            future = producer.send(
                topic, key=key, value=value, headers=headers, timestamp_ms=timestamp
            )
            future.add_errback(failures.append)
        producer.flush()
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    if failures:
        raise RuntimeError(f"{len(failures)} raw sends failed, e.g. {failures[0]!r}")
    size = sum(len(key) + len(value) for key, value, _, _ in payloads)
    return Timed(len(payloads), seconds, size)


def raw_consume(settings: Settings, topic: str, expected: int) -> Timed:
    """Read ``topic`` from its beginning to its ``expected`` records: bytes only, no decoding,
    with the fetch sizes the rebuild reads the event log with (streams/rebuild.py)."""
    consumer: KafkaConsumer = kafka_clients.consumer(
        settings, group_id=None, max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        read = size = 0
        started = time.perf_counter()
        while read < expected:
            if time.perf_counter() - started > TIMEOUT_S:
                raise TimeoutError(f"read {read:,} of {expected:,} records of {topic}")
            for records in consumer.poll(timeout_ms=1000, max_records=20_000).values():
                read += len(records)
                size += sum(len(r.key or b"") + len(r.value or b"") for r in records)
        return Timed(read, time.perf_counter() - started, size)
    finally:
        consumer.close()


def end_to_end(settings: Settings, events: int) -> EndToEnd:
    """``touchpoint worker --until-idle``: the processing tier until it has caught up, then
    the materializer until the read model holds every view, its snapshot published."""
    with contextlib.chdir(settings.db.parent):  # Faust makes its data directory in the cwd
        worker = ProcessingWorker(settings)
        started = time.perf_counter()
        asyncio.run(run_until_idle(worker, timeout_s=TIMEOUT_S))
        worker_seconds = time.perf_counter() - started
    if worker.stats.applied != events:
        raise RuntimeError(f"the worker applied {worker.stats.applied:,} of {events:,} events")
    started = time.perf_counter()
    with Materializer(settings) as materializer:
        materializer.run_until_caught_up(timeout=TIMEOUT_S)
    materialize_seconds = time.perf_counter() - started  # closing published the snapshot
    return EndToEnd(events, worker_seconds, materialize_seconds, count_views(settings.db))


def count_views(db: Path) -> int:
    """Rows of ``customer_view`` in the snapshot published at ``db`` (attached read-only in
    a private in-memory database: DuckDB shares one instance per path within a process)."""
    conn = duckdb.connect(":memory:")
    try:
        quoted = str(db).replace("'", "''")
        conn.execute(f"ATTACH '{quoted}' AS snapshot (READ_ONLY)")
        found = conn.execute("SELECT count(*) FROM snapshot.customer_view").fetchone()
        return int(found[0]) if found else 0
    finally:
        conn.close()


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a ``touchpoint`` process (or the rebuild child) on this run's
    broker, topics, key vault and DuckDB file (variables: docs/configuration.md)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
        TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
        TOUCHPOINT_PARTITIONS=str(settings.partitions),
        TOUCHPOINT_REPLICATION_FACTOR=str(settings.replication_factor),
        TOUCHPOINT_BROKER_PROFILE=settings.broker_profile,
        TOUCHPOINT_KEY_VAULT=str(settings.key_vault.resolve()),
        TOUCHPOINT_DB=str(settings.db.resolve()),
    )
    return env


def rebuild_in_child(settings: Settings, out: Path) -> RebuildRun:
    """Run bench/pipeline_rebuild.py in a fresh process over the event log into ``out``."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.pipeline_rebuild", str(out)],
        env=child_env(settings),
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the rebuild child failed ({done.returncode}): {done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return RebuildRun(**found)
