"""``touchpoint rebuild``: every projection recomputed from offset 0 of the event log into
a fresh DuckDB file, in process, by the code the workers run (streams/processor.py).

The log is read with a plain consumer (no group, no commits) up to the
high-water marks it had when the rebuild started: the rebuilt model is the
model of that prefix of the log, and its ``consumed_offsets`` say which
(``touchpoints`` rows). Every state starts empty. What the handlers send to
their own inputs (identity claims, alias decisions, merged facts, customer
values) is handed back to them in process, on the partition Kafka's default
partitioner would pick; what they send to the materialized topics goes
through the materializer's decoders (streams/materializer.py) into the store,
compacted topics keeping the latest record of each key as compaction would;
changelog, dead letters and compacted copies of histories are not needed.

The outputs of ``touchpoint fit`` (``clv-scores``, ``clv-fits`` and the model's
``low_p_alive`` warning events) do not come from the event log: they are
copied from their topics.

``adopt`` hands a rebuilt model over to the live pipeline (blue/green, with the
workers stopped): the rebuild then reads the log up to the worker group's
committed offsets (where restarted workers will go on), and afterwards writes
its customer states to the changelog and its customer values to
``customer-values`` (what restarted workers restore from; each state's
``next_offset`` makes a redelivered event a no-op), and stores in the new file
the ends of the materialized topics, so a materializer started on it continues
from there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.partitioner.default import murmur2

from projections.churn_records import WarningStep
from projections.duckdb_store import DuckDBProjectionStore
from projections.ports import Logged, ProjectionStore
from streams import kafka_clients
from streams.health import worker_group
from streams.materializer import DECODE_ERRORS, SOURCES
from streams.offsets import HighWaterMarks, committed_offsets
from streams.processing import SourceRecord
from streams.processor import Processor
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import (
    CHURN_EVENTS,
    CLV_FITS,
    CLV_SCORES,
    CUSTOMER_ALIASES,
    CUSTOMER_MERGES,
    CUSTOMER_STATE,
    CUSTOMER_VALUES,
    IDENTITY_CLAIMS,
    TOUCHPOINTS,
)

READ_BATCH = 100_000  # event-log records per batch (larger: fewer rule timelines built)
FLUSH_EVERY = 200_000  # output records buffered before a store transaction
LOOPED = (IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES, CUSTOMER_VALUES)
CO_PARTITIONED = (CUSTOMER_ALIASES, CUSTOMER_MERGES)  # by customer, like the event log
FROM_FIT = (CLV_SCORES, CLV_FITS)


@dataclass
class RebuildStats:
    events: int = 0  # event-log records read
    outputs: int = 0  # records sent to materialized topics
    looped: int = 0  # records handed back to the handlers (internal topics)
    copied: int = 0  # fit outputs copied from their topics
    skipped: int = 0  # undecodable outputs (a bug: logged by the materializer's rules)
    ends: dict[int, int] = field(default_factory=dict)  # partition -> offset read up to


class Rebuild:
    """The processing handlers over the whole log, their outputs into ``store``."""

    def __init__(self, settings: Settings, store: ProjectionStore, partitions: int) -> None:
        self.settings = settings
        self.store = store
        self.partitions = partitions
        self.processor = Processor(settings, self._route, keep_out_of_order=True)
        for partition in range(partitions):
            self.processor.restored(partition, {})
        self.processor.resolver.start_empty()
        self.processor.tiers.start_empty()
        self.sources = {source.name: source for source in SOURCES}
        self.stats = RebuildStats()
        self._looped: dict[str, deque[SourceRecord]] = {name: deque() for name in LOOPED}
        self._looped_next: dict[str, int] = dict.fromkeys(LOOPED, 0)
        # (topic, key) for a compacted topic, (topic, n) for a history: in arrival order
        self._out: dict[tuple[str, object], tuple[str, bytes | None, bytes | None]] = {}
        self._histories = 0
        self._out_next: dict[str, int] = {}  # the next (made-up) offset of each output topic
        self._consumed: dict[tuple[str, int], int] = {}
        self.values: dict[bytes, bytes | None] = {}  # customer-values, latest per customer

    def _route(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> None:
        if topic == CUSTOMER_VALUES and key is not None:
            self.values[key] = value
        if topic in self._looped:
            partition = self.partition_of(key) if topic in CO_PARTITIONED else 0
            offset = self._looped_next[topic]
            self._looped_next[topic] = offset + 1
            self._looped[topic].append(SourceRecord(topic, partition, offset, key, value))
            self.stats.looped += 1
            return
        if topic in self.sources:  # not the changelog, dead letters, copies of histories
            self.stats.outputs += 1
            self._buffer(topic, key, value)

    def _buffer(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        source = self.sources[topic]
        self._histories += 1  # a history record's own slot; a compacted one's is its key
        slot: tuple[str, object] = (topic, key) if source.latest_only else (topic, self._histories)
        self._out.pop(slot, None)  # a newer record of the key goes to the end
        self._out[slot] = (topic, key, value)

    def partition_of(self, key: bytes | None) -> int:
        """The partition Kafka's default partitioner gives ``key`` (the producer's)."""
        hashed: int = murmur2(key or b"")
        return (hashed & 0x7FFFFFFF) % self.partitions

    def fold(self, records: list[SourceRecord]) -> None:
        """One batch of the event log (any partitions, log order within each), and everything
        it sends to the internal topics, until nothing is left to hand back."""
        self.processor.ingest(records)
        for record in records:
            self._consumed[(record.topic, record.partition)] = record.offset + 1
        self.stats.events += len(records)
        while any(self._looped.values()):
            for name in LOOPED:
                queue = self._looped[name]
                if queue:
                    batch = list(queue)
                    queue.clear()
                    self.processor.handlers[name](batch)
        if len(self._out) >= FLUSH_EVERY:
            self.flush()

    def copy(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        """A fit output, as read from its topic (``touchpoint fit`` made it, not the log)."""
        if topic == CHURN_EVENTS:
            decoded = self.sources[CHURN_EVENTS].decode(value, key)
            if not isinstance(decoded, WarningStep) or decoded.event.source != "model":
                return  # the rules' warnings are recomputed
        self.stats.copied += 1
        self._buffer(topic, key, value)

    def flush(self) -> None:
        """Decode the buffered outputs and apply them, and the offsets read, in one transaction."""
        batch: list[Logged] = []
        for topic, key, value in self._out.values():
            offset = self._out_next.get(topic, 0)
            self._out_next[topic] = offset + 1
            try:
                record = self.sources[topic].decode(value, key)
            except DECODE_ERRORS:
                self.stats.skipped += 1
                continue
            batch.append(Logged(self.settings.topic(topic), 0, offset, record))
        self._out.clear()
        self.store.apply(batch, dict(self._consumed))


def log_records(
    settings: Settings, ends: dict[int, int], batch: int = READ_BATCH
) -> Iterator[list[SourceRecord]]:
    """The event log from its beginning up to ``ends`` (partition -> offset), in batches."""
    topic = settings.topic(TOUCHPOINTS)
    consumer: KafkaConsumer = kafka_clients.consumer(
        settings, group_id=None, max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )  # fmt: skip
    try:
        partitions = [TopicPartition(topic, p) for p, end in sorted(ends.items()) if end > 0]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        remaining = set(partitions)
        out: list[SourceRecord] = []
        while remaining:
            polled = consumer.poll(timeout_ms=1000, max_records=batch)
            for tp, records in polled.items():
                end = ends[tp.partition]
                out += [SourceRecord(topic, tp.partition, r.offset, r.key, r.value)
                        for r in records if r.offset < end]  # fmt: skip
                if records[-1].offset + 1 >= end:
                    remaining.discard(tp)
                    consumer.pause(tp)
            if len(out) >= batch or (out and not remaining):
                yield out
                out = []
    finally:
        consumer.close()


def log_ends(settings: Settings) -> tuple[dict[int, int], int]:
    """Each event-log partition's high-water mark now, and how many records lie below them."""
    with HighWaterMarks(settings, [settings.topic(TOUCHPOINTS)]) as marks:
        sampled = marks.sample()
        low = marks.low
    ends: dict[int, int] = {}
    for tp, high in sampled.items():
        if high is None:
            raise RuntimeError(f"{tp.topic}/{tp.partition} did not answer a fetch")
        ends[tp.partition] = high
    return ends, sum(ends[tp.partition] - low[tp] for tp in sampled)


def rebuild(
    settings: Settings,
    out: Path,
    on_events: Callable[[int], None] = lambda n: None,
    *,
    adopt: bool = False,
) -> RebuildStats:
    """Rebuild the read model into a new snapshot at ``out`` (its writer file next to it);
    ``on_events(n)`` after each batch of ``n`` events. With ``adopt``, up to the worker
    group's committed offsets, then hand the model over (module docstring)."""
    ends = committed_ends(settings) if adopt else log_ends(settings)[0]
    store = DuckDBProjectionStore.open_writer(out, snapshot_interval=3600)
    with store:
        job = Rebuild(settings, store, len(ends))
        for records in log_records(settings, ends):
            job.fold(records)
            on_events(len(records))
        for name in (*FROM_FIT, CHURN_EVENTS):
            for record in read_topic(settings, settings.topic(name), idle_s=0.5):
                job.copy(name, record.key, record.value)
        job.flush()
        store.note_out_of_order(sorted(job.processor.out_of_order or ()))
        job.stats.ends = ends
        if adopt:
            hand_over(settings, job, store, ends)
    return job.stats


def committed_ends(settings: Settings) -> dict[int, int]:
    """The worker group's committed offset of each event-log partition (0: never)."""
    ends, _ = log_ends(settings)
    topic = settings.topic(TOUCHPOINTS)
    partitions = [TopicPartition(topic, p) for p in sorted(ends)]
    committed = committed_offsets(settings, worker_group(settings), partitions)
    return {tp.partition: committed[tp] or 0 for tp in partitions}


def hand_over(
    settings: Settings, job: Rebuild, store: ProjectionStore, ends: dict[int, int]
) -> None:
    """Make the rebuilt states and model the live ones (the workers must be stopped: their
    group's committed offsets are where the rebuild stopped, and must not have moved)."""
    if committed_ends(settings) != ends:
        raise GroupBusy(
            f"the worker group {worker_group(settings)} committed offsets while the rebuild "
            "ran: stop every `touchpoint worker`, then run `rebuild --adopt` again"
        )
    producer = kafka_clients.producer(settings)
    try:
        for states in job.processor.states.values():
            for customer, tracked in states.items():
                value = orjson.dumps(tracked.to_json())
                producer.send(settings.topic(CUSTOMER_STATE), key=customer.encode(), value=value)
        for key, latest in job.values.items():
            producer.send(settings.topic(CUSTOMER_VALUES), key=key, value=latest)
        producer.flush()
    finally:
        producer.close()
    materialized = [settings.topic(source.name) for source in SOURCES]
    with HighWaterMarks(settings, materialized) as marks:
        highs = marks.sample()
    if any(high is None for high in highs.values()):
        raise RuntimeError("a materialized topic did not answer a fetch: start the "
                           "materializer on the new file from the topics' beginning")  # fmt: skip
    store.apply([], {(tp.topic, tp.partition): high or 0 for tp, high in highs.items()})


class GroupBusy(RuntimeError):
    """Workers ran while ``rebuild --adopt`` did."""
