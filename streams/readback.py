"""Reading a topic from the beginning with a plain consumer (no group, no commits).

Used by the demo and tests to show what is on the log. Tansu under-reports
end offsets, so the end is where the fetch high-water mark says it is after
the consumer stops receiving records, not what ListOffsets answers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streams import kafka_clients
from streams.settings import Settings


def read_topic(
    settings: Settings,
    topic: str,
    expected: int | None = None,
    idle_s: float = 1.5,
    timeout_s: float = 60,
    only: int | None = None,
    complete: bool = False,
) -> Iterator[ConsumerRecord]:
    """Every record of ``topic`` (or of its partition ``only``) from offset 0, until
    ``expected`` records were read, or the consumer sat idle for ``idle_s`` at every
    partition's high-water mark.

    ``complete``: for restoring state, where a partial read would silently lose data. Every
    partition must be read up to the high-water mark of a fetch response (a slow broker
    is waited for, never taken as empty), and ``TimeoutError`` is raised after
    ``timeout_s`` instead of returning what was read."""
    consumer = kafka_clients.consumer(settings, group_id=None, consumer_timeout_ms=200)
    try:
        numbers = sorted(consumer.partitions_for_topic(topic) or ()) if only is None else [only]
        partitions = [TopicPartition(topic, p) for p in numbers]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        yield from _drain(consumer, partitions, expected, idle_s, deadline, complete)
        if complete and not _at_high_water(consumer, partitions, idle=False):
            where = {tp.partition: (consumer.position(tp), consumer.highwater(tp))
                     for tp in partitions}  # fmt: skip
            raise TimeoutError(
                f"{topic} not read to its end within {timeout_s} s (position, high-water "
                f"by partition: {where})"
            )
    finally:
        consumer.close()


def _drain(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    expected: int | None,
    idle_s: float,
    deadline: float,
    complete: bool = False,
) -> Iterator[ConsumerRecord]:
    seen, last_record = 0, time.monotonic()
    while time.monotonic() < deadline:
        batch = consumer.poll(timeout_ms=100, max_records=5000)
        for records in batch.values():
            for record in records:
                seen += 1
                yield record
        if batch:
            last_record = time.monotonic()
        if expected is not None:
            if seen >= expected:
                return
        elif _at_high_water(
            consumer, partitions, not complete and time.monotonic() - last_record > idle_s
        ):
            return


def _at_high_water(consumer: KafkaConsumer, partitions: list[TopicPartition], idle: bool) -> bool:
    """Every partition read up to its fetch high-water mark. A partition with no fetch
    response yet counts as read only once the consumer has been idle for a while."""
    for tp in partitions:
        high = consumer.highwater(tp)
        if high is None:
            if not idle:
                return False
        elif consumer.position(tp) < high:
            return False
    return True
