"""Restoring one partition's customer states from the ``customer-state`` changelog."""

from __future__ import annotations

import orjson

from streams.processing import Tracked
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import CUSTOMER_STATE


def restore_partition(settings: Settings, partition: int) -> dict[str, Tracked]:
    """The latest state of every customer of ``partition`` (the changelog is keyed by
    customer, co-partitioned with the event log, and read to its high-water mark)."""
    states: dict[str, Tracked] = {}
    topic = settings.topic(CUSTOMER_STATE)
    for record in read_topic(settings, topic, only=partition, idle_s=0.5, complete=True):
        customer = record.key.decode()
        if record.value is None:
            states.pop(customer, None)
        else:
            states[customer] = Tracked.from_json(orjson.loads(record.value))
    return states
