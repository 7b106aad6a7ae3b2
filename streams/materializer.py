"""The materializer: ``customer-views``, ``loyalty-stages``, ``loyalty-stage-changes``,
``value-tiers``, ``value-tier-changes``, ``clv-scores``, ``clv-fits``,
``churn-warning-events`` and ``complaint-sla`` into the DuckDB read model, exactly once.

One writer, no consumer group: every partition of these topics is
assigned by hand and the offsets live only in the store. Each poll is one
micro-batch: its records, whatever their topics, and every consumed offset are
applied in one store transaction (docs/read-model.md). On start each partition
resumes at its stored next offset; a crash between two batches loses nothing
and applies nothing twice.

Each topic has its decoder (``SOURCES``), which returns typed records for the
store. On a compacted topic only the newest record of each customer in a poll
batch is decoded (what compaction would keep); on a history topic every
record counts. A record that cannot be decoded is logged, counted in
``stats.skipped`` and stepped over (the customer's previous record stands):
one bad record must not stop the read model.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from projections.churn_records import (
    ChurnRecordError,
    decode_complaint_record,
    decode_warning_record,
)
from projections.duckdb_store import DuckDBProjectionStore
from projections.loyalty_records import (
    LoyaltyRecordError,
    decode_stage_record,
    decode_transition_record,
)
from projections.ports import Logged, ProjectionStore, StoreRecord
from projections.value_records import (
    ValueRecordError,
    decode_clv_fit_record,
    decode_clv_record,
    decode_tier_change_record,
    decode_tier_record,
)
from projections.view_records import ViewRecordError, decode_view_record
from streams import kafka_clients
from streams.settings import Settings
from streams.topics import (
    CHURN_EVENTS,
    COMPLAINT_SLA,
    CUSTOMER_VIEWS,
    LOYALTY_CHANGES,
    LOYALTY_STAGES,
)

log = logging.getLogger(__name__)

Decoder = Callable[[bytes | None, bytes | None], StoreRecord]  # (value, key) -> record
# what a decoder raises for a bad record
DECODE_ERRORS = (ViewRecordError, LoyaltyRecordError, ValueRecordError, ChurnRecordError)


@dataclass(frozen=True)
class Source:
    """A consumed topic (name without prefix), its decoder, and whether only the latest
    record of a key in a batch matters (a compacted topic) or every record does."""

    name: str
    decode: Decoder
    latest_only: bool


SOURCES = (
    Source(CUSTOMER_VIEWS, decode_view_record, latest_only=True),
    Source(LOYALTY_STAGES, decode_stage_record, latest_only=True),
    Source(LOYALTY_CHANGES, decode_transition_record, latest_only=False),
    Source("value-tiers", decode_tier_record, latest_only=True),
    Source("value-tier-changes", decode_tier_change_record, latest_only=False),
    Source("clv-scores", decode_clv_record, latest_only=True),
    Source("clv-fits", decode_clv_fit_record, latest_only=False),
    Source(CHURN_EVENTS, decode_warning_record, latest_only=False),
    Source(COMPLAINT_SLA, decode_complaint_record, latest_only=True),
)


class MaterializerError(RuntimeError):
    """The materializer cannot run (e.g. a topic it reads does not exist)."""


@dataclass
class MaterializerStats:
    """Counts since the materializer started."""

    batches: int = 0
    records: int = 0  # consumed, of any kind
    applied: int = 0  # decoded and handed to the store
    superseded: int = 0  # compacted topic: a newer record of the customer followed in the batch
    skipped: int = 0  # undecodable: logged and stepped over


class Materializer:
    """Reads ``SOURCES`` from the store's offsets and applies micro-batches to it.

    ``store`` defaults to the DuckDB read model at ``settings.db`` (its writer
    file, publishing snapshots). The materializer owns the store from here on:
    ``close`` closes it, which publishes a final snapshot.
    """

    def __init__(self, settings: Settings, store: ProjectionStore | None = None) -> None:
        self.sources = {settings.topic(source.name): source for source in SOURCES}
        self.store = store if store is not None else DuckDBProjectionStore.open_writer(settings.db)
        self.stats = MaterializerStats()
        try:
            self._consumer: KafkaConsumer = kafka_clients.consumer(settings, group_id=None)
            try:
                self.partitions = self._assign()
            except BaseException:
                self._consumer.close()
                raise
        except BaseException:
            self.store.close()
            raise

    def _assign(self) -> list[TopicPartition]:
        partitions, missing = [], []
        for topic in self.sources:
            numbers = self._consumer.partitions_for_topic(topic)
            if not numbers:
                missing.append(topic)
            partitions += [TopicPartition(topic, n) for n in sorted(numbers or ())]
        if missing:
            raise MaterializerError(
                f"missing topic {', '.join(missing)}: run `touchpoint topics create` first"
            )
        self._consumer.assign(partitions)
        self._seek_to_stored(partitions)
        return partitions

    def _seek_to_stored(self, partitions: list[TopicPartition]) -> None:
        stored = self.store.offsets()
        for tp in partitions:
            next_offset = stored.get((tp.topic, tp.partition))
            if next_offset is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, next_offset)

    def run_once(self, max_records: int = 5000, timeout_ms: int = 500) -> int:
        """Poll one micro-batch (any of the topics) and apply it with all its offsets in one
        store transaction; the number of records read."""
        polled = self._consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
        if not polled:
            return 0
        batch: list[Logged] = []
        offsets: dict[tuple[str, int], int] = {}
        skipped = 0
        for tp, records in polled.items():
            offsets[(tp.topic, tp.partition)] = records[-1].offset + 1
            decoded, failed = _decoded(self.sources[tp.topic], tp, records)
            batch.extend(decoded)
            skipped += failed
        try:
            self.store.apply(batch, offsets)
        except BaseException:
            self._seek_to_stored(self.partitions)  # read the batch again on the next call
            raise
        count = sum(len(records) for records in polled.values())
        self.stats.batches += 1
        self.stats.records += count
        self.stats.applied += len(batch)
        self.stats.skipped += skipped
        self.stats.superseded += count - len(batch) - skipped
        return count

    def caught_up(self) -> bool:
        """Whether every partition of every topic has been read up to its fetch
        high-water mark.

        The high-water mark comes with each fetch response; ListOffsets is not
        asked, because Tansu under-reports it (docs/broker.md).
        """
        for tp in self.partitions:
            high = self._consumer.highwater(tp)
            if high is None or self._consumer.position(tp) < high:
                return False
        return True

    def lag(self) -> dict[str, int | None]:
        """Records behind the last known high-water mark, per ``topic/partition``
        (None: unknown)."""
        lags: dict[str, int | None] = {}
        for tp in self.partitions:
            high = self._consumer.highwater(tp)
            lag = None if high is None else high - self._consumer.position(tp)
            lags[f"{tp.topic}/{tp.partition}"] = lag
        return lags

    def run_until_caught_up(self, timeout: float = 60.0, max_records: int = 5000) -> int:
        """Apply batches until ``caught_up()``: the number of records read.

        Raises ``TimeoutError`` when not caught up after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        read = 0
        while True:
            read += self.run_once(max_records=max_records, timeout_ms=200)
            if self.caught_up():
                return read
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{', '.join(self.sources)} not read to their end within {timeout} s "
                    f"(lag {self.lag()})"
                )

    def run_forever(
        self,
        stop: threading.Event,
        max_records: int = 5000,
        after_poll: Callable[[], None] | None = None,
    ) -> None:
        """Apply batches until ``stop`` is set (from a signal handler or another thread);
        ``after_poll`` runs after each poll, on this thread (e.g. to report ``lag()``)."""
        while not stop.is_set():
            self.run_once(max_records=max_records, timeout_ms=500)
            if after_poll is not None:
                after_poll()

    def close(self) -> None:
        """Stop reading, then close the store (publishing a final snapshot)."""
        try:
            self._consumer.close()
        finally:
            self.store.close()

    def __enter__(self) -> Materializer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _decoded(
    source: Source, tp: TopicPartition, records: list[ConsumerRecord]
) -> tuple[list[Logged], int]:
    """The records of ``records`` the store needs (in log order): every decodable one, or
    with ``source.latest_only`` the newest decodable one of each customer; and how many
    records could not be decoded (logged)."""
    groups: dict[object, list[ConsumerRecord]] = {}
    for record in records:
        unkeyed = record.key is None or not source.latest_only
        groups.setdefault(("own", record.offset) if unkeyed else record.key, []).append(record)
    decoded, failed = [], 0
    for versions in groups.values():
        for record in reversed(versions):
            try:
                found = source.decode(record.value, record.key)
            except DECODE_ERRORS as exc:
                failed += 1
                log.warning("skipped %s/%d@%d: %s", tp.topic, tp.partition, record.offset, exc)
                continue
            decoded.append(Logged(tp.topic, tp.partition, record.offset, found))
            break
    return sorted(decoded, key=lambda logged: logged.offset), failed
