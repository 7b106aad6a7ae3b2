"""The processing tier: a Faust app that folds the event log into customer states.

The agent is thin: it takes batches of raw records, restores a partition's
states the first time it sees the partition (from the ``customer-state``
changelog), hands the batch to ``streams.processing.apply_batch``, and
publishes what changed: states to ``customer-state``, views to
``customer-views``, refused records to the dead-letter topic. It waits for
the broker to acknowledge all of it before the batch counts as done, so
Faust only commits offsets whose effects are durable (at-least-once
delivery, exactly-once effect: see streams/processing.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from kafka import KafkaConsumer, TopicPartition

from projections.view_records import encode_view_record
from streams import kafka_clients
from streams.processing import BatchResult, SourceRecord, Tracked, apply_batch, current_view
from streams.restore import restore_partition
from streams.settings import Settings
from streams.topics import CUSTOMER_STATE, CUSTOMER_VIEWS, DEAD_LETTERS, TOUCHPOINTS

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WINDOW_S = 0.2


@dataclass
class WorkerStats:
    applied: int = 0
    redelivered: int = 0
    dead_lettered: int = 0
    views_published: int = 0
    batches: int = 0
    by_partition: dict[int, int] = field(default_factory=dict)


class ProcessingWorker:
    """One member of the processing tier (run several: they share the partitions)."""

    def __init__(self, settings: Settings, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        self.topic_name = settings.topic(TOUCHPOINTS)
        self.app = make_faust_app(settings)
        self.producer = kafka_clients.producer(settings)
        self.states: dict[int, dict[str, Tracked]] = {}
        self.processed_next: dict[int, int] = {}  # partition -> offset after the last one done
        self.stats = WorkerStats()
        self._busy = False
        topic = self.app.topic(
            self.topic_name,
            key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        )  # fmt: skip

        async def ingest(stream: Any) -> AsyncIterator[None]:  # a faust Stream of raw bytes
            async for events in stream.take_events(batch_size, within=BATCH_WINDOW_S):
                await self._process([_source(event) for event in events])
                yield None

        self.app.agent(topic, name=f"{settings.topic_prefix}ingest")(ingest)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    async def _process(self, records: list[SourceRecord]) -> None:
        self._busy = True
        try:
            by_partition: dict[int, list[SourceRecord]] = {}
            for record in records:
                by_partition.setdefault(record.partition, []).append(record)
            results = {}
            for partition, batch in by_partition.items():
                results[partition] = apply_batch(await self._states_of(partition), batch)
                self._publish(results[partition])
            await asyncio.get_running_loop().run_in_executor(None, self.producer.flush)
            for partition, result in results.items():  # only now are the effects durable
                self.states[partition].update(result.changed)
                self.processed_next[partition] = by_partition[partition][-1].offset + 1
                self._count(result, partition)
        finally:
            self._busy = False

    async def _states_of(self, partition: int) -> dict[str, Tracked]:
        if partition not in self.states:
            loop = asyncio.get_running_loop()
            restored = await loop.run_in_executor(None, restore_partition, self.settings, partition)
            self.states[partition] = restored
            log.info("partition %s: restored %s customer states", partition, len(restored))
        return self.states[partition]

    def _publish(self, result: BatchResult) -> None:
        state_topic = self.settings.topic(CUSTOMER_STATE)
        views_topic = self.settings.topic(CUSTOMER_VIEWS)
        for customer, tracked in result.changed.items():
            key = customer.encode()
            self.producer.send(state_topic, key=key, value=_json(tracked.to_json()))
            self.producer.send(
                views_topic, key=key, value=encode_view_record(current_view(tracked.facts))
            )
        dlq = self.settings.topic(DEAD_LETTERS)
        for letter in result.dead_letters:
            self.producer.send(dlq, key=letter.key, value=letter.value, headers=letter.headers())

    def _count(self, result: BatchResult, partition: int) -> None:
        self.stats.batches += 1
        self.stats.applied += result.applied
        self.stats.redelivered += result.redelivered
        self.stats.dead_lettered += len(result.dead_letters)
        self.stats.views_published += len(result.changed)
        self.stats.by_partition[partition] = (
            self.stats.by_partition.get(partition, 0) + result.applied
        )

    async def _on_revoked(self, app: faust.App, revoked: set[Any], **_: Any) -> None:
        # Another worker may own these next: forget our copy, restore afresh if they come back.
        for tp in revoked:
            if tp.topic == self.topic_name:
                self.states.pop(tp.partition, None)
                self.processed_next.pop(tp.partition, None)

    async def caught_up(self, committed: Callable[[int], int | None]) -> bool:
        """True when every assigned partition is processed up to its fetch high-water mark."""
        if self._busy:
            return False
        partitions = [tp for tp in self.app.consumer.assignment() if tp.topic == self.topic_name]
        if not partitions:
            return False
        for tp in partitions:
            high = self.app.consumer.highwater(tp)
            if high is None:
                return False
            done = self.processed_next.get(tp.partition)
            if done is None:
                done = committed(tp.partition) or 0
            if done < high:
                return False
        return True

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def _source(event: faust.EventT[bytes]) -> SourceRecord:
    message = event.message
    return SourceRecord(
        message.topic, message.partition, message.offset, message.key, message.value
    )


def _json(body: dict[str, Any]) -> bytes:
    import json

    return json.dumps(body, separators=(",", ":")).encode()


def make_faust_app(settings: Settings) -> faust.App:
    """The Faust app with this deployment's broker, group timeouts and group id."""
    servers = [f"kafka://{server}" for server in settings.bootstrap_servers.split(",")]
    timeouts: dict[str, Any] = kafka_clients.group_timeouts(settings).faust()
    return faust.App(
        f"{settings.topic_prefix}touchpoint-worker",
        broker=servers,
        broker_credentials=kafka_clients.faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",  # exactly-once effect comes from idempotent state
        broker_commit_interval=1.0,
        **timeouts,
    )


class CommittedOffsets:
    """The group's committed offsets, read with a consumer that never joins the group."""

    def __init__(self, settings: Settings, group_id: str, topic: str) -> None:
        self._consumer: KafkaConsumer = kafka_clients.consumer(settings, group_id=group_id)
        self._topic = topic

    def __call__(self, partition: int) -> int | None:
        offset: int | None = self._consumer.committed(TopicPartition(self._topic, partition))
        return offset

    def close(self) -> None:
        self._consumer.close()


async def run_until_idle(
    worker: ProcessingWorker, poll_s: float = 0.3, timeout_s: float = 3600
) -> None:
    """Start the worker, process until every partition is caught up, commit, stop."""
    committed = CommittedOffsets(worker.settings, worker.app.conf.id, worker.topic_name)
    loop = asyncio.get_running_loop()
    await worker.app.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(poll_s)
            if await worker.caught_up(lambda p: committed(p)):
                break
        else:
            raise TimeoutError(f"not caught up after {timeout_s} s")
        await worker.app.consumer.commit()
    finally:
        await worker.app.stop()
        await loop.run_in_executor(None, committed.close)
        worker.close()
