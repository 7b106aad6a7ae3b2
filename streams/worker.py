"""The processing tier: a Faust app that folds the event log into customer states.

Agents are thin: they take batches of raw records, restore the customer states
a batch needs (from the ``customer-state`` changelog), and hand the batch to
the handlers of streams/processor.py, which send what changed: states to
``customer-state``, views to ``customer-views``, identity claims, alias
decisions and merged facts to their internal topics, refused records to the
dead-letter topic. A batch counts as done only once the broker has
acknowledged all of it, so Faust commits only offsets whose effects are
durable: at-least-once delivery, exactly-once effect. One lock serialises the
agents' access to the states.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import faust

from streams import kafka_clients
from streams.processing import SourceRecord, Tracked
from streams.processor import INPUTS, Processor, WorkerStats
from streams.restore import restore_partition
from streams.settings import Settings
from streams.topics import (
    CUSTOMER_ALIASES,
    CUSTOMER_MERGES,
    CUSTOMER_STATE,
    CUSTOMER_VALUES,
    IDENTITY_CLAIMS,
    TOUCHPOINTS,
)

__all__ = ["INPUTS", "ProcessingWorker", "WorkerStats", "make_faust_app"]

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WINDOW_S = 0.2
RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


class ProcessingWorker:
    """One member of the processing tier (run several: they share the partitions)."""

    def __init__(self, settings: Settings, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        self.topic_name = settings.topic(TOUCHPOINTS)
        self.app = make_faust_app(settings)
        self.producer = kafka_clients.producer(settings)
        self.processor = Processor(settings, self._send)
        self.processed_next: dict[str, dict[int, int]] = {}  # topic -> partition -> next offset
        self.produced_next: dict[tuple[str, int], int] = {}  # what we wrote to our own inputs
        self._held_states: list[tuple[bytes | None, bytes | None]] = []
        self._lock = asyncio.Lock()
        self._busy = 0
        self.failure: BaseException | None = None
        for name in INPUTS:
            self._agent(name, batch_size)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    @property
    def stats(self) -> WorkerStats:
        return self.processor.stats

    @stats.setter
    def stats(self, stats: WorkerStats) -> None:
        self.processor.stats = stats

    @property
    def states(self) -> dict[int, dict[str, Tracked]]:
        return self.processor.states

    @property
    def watermarks(self) -> dict[int, int]:
        return self.processor.watermarks

    def _agent(self, name: str, batch_size: int) -> None:
        topic = self.app.topic(self.settings.topic(name), **RAW)
        handler = self.processor.handlers[name]

        async def agent(stream: Any) -> AsyncIterator[None]:  # a faust Stream of raw bytes
            async for events in stream.take_events(batch_size, within=BATCH_WINDOW_S):
                records = [_source(event) for event in events]
                self._busy += 1
                try:
                    async with self._lock:
                        await self._prepare(name, records)
                        handler(records)
                        loop = asyncio.get_running_loop()
                        await loop.run_in_executor(None, self.producer.flush)
                        await loop.run_in_executor(None, self._write_states)
                    self._done(records)
                except Exception as exc:
                    # In-memory states may be ahead of what reached Kafka: stop processing;
                    # the runner stops the worker, and a restart restores from the changelog.
                    log.exception("batch on %s failed; stopping", name)
                    self.failure = exc
                    raise
                finally:
                    self._busy -= 1
                yield None

        self.app.agent(topic, name=f"{self.settings.topic_prefix}{name}")(agent)

    async def _prepare(self, name: str, records: list[SourceRecord]) -> None:
        """Restore what the handler of ``name`` needs and this worker does not hold yet."""
        loop = asyncio.get_running_loop()
        for partition in sorted(self.processor.missing_partitions(name, records)):
            restored = await loop.run_in_executor(None, restore_partition, self.settings, partition)
            self.processor.restored(partition, restored)
            log.info("partition %s: restored %s customer states", partition, len(restored))
        if name == IDENTITY_CLAIMS:
            await self.processor.resolver.ensure_restored(records[0].offset)
        if name == CUSTOMER_VALUES:
            await self.processor.tiers.ensure_restored(records[0].offset)

    def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> None:
        if topic == CUSTOMER_STATE:  # held back: written once all it caused is durable
            self._held_states.append((key, value))
            return
        full = self.settings.topic(topic)
        future = self.producer.send(full, key=key, value=value, headers=headers)
        if topic in INPUTS:  # our own input: caught up only once we have read it back
            future.add_callback(self._produced)

    def _write_states(self) -> None:
        """The batch's customer states, after everything else it sent was acknowledged.

        A state is the mark that its events were folded: a worker that takes the
        partition over skips events below its ``next_offset``. Were it durable before the
        views, stage changes or internal records it caused, a crash in between would lose
        those for good; written last, a crash before it leaves the older state, the events
        are folded again, and their outputs sent again (each is idempotent downstream)."""
        held, self._held_states = self._held_states, []
        topic = self.settings.topic(CUSTOMER_STATE)
        for key, value in held:
            self.producer.send(topic, key=key, value=value)
        self.producer.flush()

    def _produced(self, metadata: Any) -> None:
        key = (metadata.topic, metadata.partition)
        self.produced_next[key] = max(self.produced_next.get(key, 0), metadata.offset + 1)

    def _done(self, records: Iterable[SourceRecord]) -> None:
        for record in records:
            done = self.processed_next.setdefault(record.topic, {})
            done[record.partition] = max(done.get(record.partition, 0), record.offset + 1)

    async def _on_revoked(self, app: faust.App, revoked: set[Any], **_: Any) -> None:
        # Another worker may own these next: forget our copy, restore afresh if they come back.
        # A failed batch leaves in-memory states ahead of what was flushed: a restart (the
        # agent crashes the app) restores from the changelog.
        async with self._lock:
            for tp in revoked:
                if tp.topic == self.topic_name:
                    self.processor.forget(tp.partition)
                self.processed_next.get(tp.topic, {}).pop(tp.partition, None)
                if tp.topic == self.settings.topic(IDENTITY_CLAIMS):
                    self.processor.resolver.forget()
                if tp.topic == self.settings.topic(CUSTOMER_VALUES):
                    self.processor.tiers.forget()

    async def caught_up(self, committed: Callable[[Any], int | None]) -> bool:
        """True when every assigned partition is processed up to its fetch high-water mark."""
        if self.failure is not None:
            raise RuntimeError("the worker stopped after a failed batch") from self.failure
        if self._busy:
            return False
        ours = {
            self.settings.topic(name)
            for name in (TOUCHPOINTS, IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES)
        }
        partitions = [tp for tp in self.app.consumer.assignment() if tp.topic in ours]
        if not partitions:
            return False
        for tp in partitions:
            high = self.app.consumer.highwater(tp)
            if high is None:
                return False
            done = self.processed_next.get(tp.topic, {}).get(tp.partition)
            if done is None:
                done = committed(tp) or 0
            if done < max(high, self.produced_next.get((tp.topic, tp.partition), 0)):
                return False
        return True

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def _source(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(
        message.topic, message.partition, message.offset, message.key, message.value
    )


def make_faust_app(settings: Settings) -> faust.App:
    """The Faust app with this deployment's broker, group timeouts and group id."""
    servers = [f"kafka://{server}" for server in settings.bootstrap_servers.split(",")]
    timeouts: dict[str, Any] = kafka_clients.group_timeouts(settings).faust()
    # Faust keeps a (here empty) data directory per app: next to the read model, not in
    # whatever directory the worker was started from
    data = settings.db.resolve().parent / ".touchpoint"
    data.mkdir(parents=True, exist_ok=True)
    return faust.App(
        f"{settings.topic_prefix}touchpoint-worker",
        broker=servers,
        broker_credentials=kafka_clients.faust_credentials(settings),
        store="memory://",
        datadir=str(data / "{conf.name}-data"),
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",  # exactly-once effect comes from idempotent state
        broker_commit_interval=1.0,
        **timeouts,
    )
