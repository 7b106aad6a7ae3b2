"""Where consumers stand: a group's committed offsets and the log's high-water marks.

For `touchpoint status`. High-water marks come from fetch responses, never from
ListOffsets "latest", which Tansu under-reports (docs/broker.md): a plain consumer
(no group, no commits) is assigned the partitions, seeks to the reported end (at or
below the true end) and polls until every partition has answered a fetch. While it
keeps polling, the marks stay current (a fetch waits at most ``FETCH_WAIT_MS``).
Committed offsets are read per partition with a consumer that never joins the group.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from kafka import KafkaConsumer, TopicPartition

from streams import kafka_clients
from streams.settings import Settings

FETCH_WAIT_MS = 100


class TopicMissing(LookupError):
    """A topic the caller asked about does not exist."""


class HighWaterMarks:
    """The fetch high-water marks (and beginning offsets) of some topics' partitions.
    Use as a context manager."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self._consumer: KafkaConsumer = kafka_clients.consumer(
            settings, group_id=None, fetch_max_wait_ms=FETCH_WAIT_MS
        )
        try:
            self.partitions = self._partitions_of(topics)
            self._consumer.assign(self.partitions)
            self._consumer.seek_to_end(*self.partitions)
            self.low: dict[TopicPartition, int] = self._consumer.beginning_offsets(self.partitions)
        except BaseException:
            self._consumer.close()
            raise

    def _partitions_of(self, topics: Iterable[str]) -> list[TopicPartition]:
        partitions: list[TopicPartition] = []
        for topic in topics:
            numbers = self._consumer.partitions_for_topic(topic)
            if not numbers:
                raise TopicMissing(f"topic {topic} does not exist: run `touchpoint topics create`")
            partitions += [TopicPartition(topic, n) for n in sorted(numbers)]
        return partitions

    def sample(self, timeout_s: float = 10.0) -> dict[TopicPartition, int | None]:
        """The latest mark of every partition (None: no fetch answered within ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(
            self._consumer.highwater(tp) is None for tp in self.partitions
        ):
            self.keep_fresh(0)
        return {tp: self._consumer.highwater(tp) for tp in self.partitions}

    def keep_fresh(self, seconds: float) -> None:
        """Go on fetching (records are read and dropped) for ``seconds`` (at least one poll)."""
        until = time.monotonic() + seconds
        while True:
            self._consumer.poll(timeout_ms=FETCH_WAIT_MS, max_records=10_000)
            if time.monotonic() >= until:
                return

    def close(self) -> None:
        self._consumer.close()

    def __enter__(self) -> HighWaterMarks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def committed_offsets(
    settings: Settings, group_id: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int | None]:
    """The group's committed offset of each partition (None: never committed)."""
    consumer = kafka_clients.consumer(settings, group_id=group_id)
    try:
        return {tp: consumer.committed(tp) for tp in partitions}
    finally:
        consumer.close()
