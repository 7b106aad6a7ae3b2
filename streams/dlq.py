"""The dead-letter topic read back, and the marks of dead letters already handled.

``read_letters`` reads ``touchpoints-dlq`` from the beginning with a plain
consumer (no group, no commits): each record becomes a ``Letter`` with the
failure headers of streams/deadletter.py decoded. A dead letter is named by
its place on that topic, ``partition@offset`` (``Letter.ref``).

``touchpoint dlq replay`` marks every dead letter it has handled (re-driven to
the event log, or discarded) with a record on the compacted, single-partition
topic ``touchpoints-dlq-redriven``: key ``partition@offset``, value a JSON
``Handled``. The latest record of a key is that dead letter's state; a
tombstone makes it pending again. ``read_handled`` reads them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from kafka.consumer.fetcher import ConsumerRecord

from streams import kafka_clients
from streams.deadletter import ERRORS, ORIGIN, ORIGIN_OFFSET, ORIGIN_PARTITION, ORIGIN_TOPIC, REASON
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, DEAD_LETTERS_REDRIVEN


def ref_of(partition: int, offset: int) -> str:
    return f"{partition}@{offset}"


@dataclass(frozen=True)
class Letter:
    """One record of the dead-letter topic, its failure headers decoded."""

    partition: int
    offset: int
    timestamp_ms: int
    key: str | None
    value: bytes  # b"" for a null value
    reason: str
    origin: str
    errors: tuple[dict[str, str], ...] = ()
    source: str | None = None  # "topic/partition@offset" when it came from a topic

    @property
    def ref(self) -> str:
        return ref_of(self.partition, self.offset)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def parsed(self) -> dict[str, Any] | None:
        """The value as a JSON object, None when it is not one."""
        try:
            body = json.loads(self.value)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None
        return body if isinstance(body, dict) else None

    def text(self) -> str:
        return self.value.decode("utf-8", errors="replace")

    def to_json(self, handled: Handled | None) -> dict[str, Any]:
        """One line of `touchpoint dlq list --json`; with its ``event`` corrected, a line
        of a `touchpoint dlq replay --fixed` file."""
        body: dict[str, Any] = {
            "partition": self.partition,
            "offset": self.offset,
            "state": handled.action if handled else "pending",
            "dead_lettered_at": self.at.isoformat(),
            "key": self.key,
            "origin": self.origin,
            "source": self.source,
            "reason": self.reason,
            "errors": list(self.errors),
        }
        event = self.parsed()
        if event is not None:
            body["event"] = event
        else:
            body["value"] = self.text()
        if handled is not None:
            body["handled"] = asdict(handled)
        return body


def letter_of(record: ConsumerRecord) -> Letter:
    headers = {name: value.decode("utf-8", errors="replace") for name, value in record.headers}
    try:
        errors = tuple(json.loads(headers.get(ERRORS, "[]")))
    except json.JSONDecodeError:
        errors = ()
    source = None
    if ORIGIN_TOPIC in headers:
        where = f"{headers.get(ORIGIN_PARTITION)}@{headers.get(ORIGIN_OFFSET)}"
        source = f"{headers[ORIGIN_TOPIC]}/{where}"
    return Letter(
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp,
        key=None if record.key is None else record.key.decode("utf-8", errors="replace"),
        value=record.value or b"",
        reason=headers.get(REASON, ""),
        origin=headers.get(ORIGIN, ""),
        errors=errors,
        source=source,
    )


def read_letters(settings: Settings) -> list[Letter]:
    """Every dead letter, oldest first (ties in partition and offset order)."""
    letters = [letter_of(r) for r in read_topic(settings, settings.topic(DEAD_LETTERS))]
    return sorted(letters, key=lambda one: (one.timestamp_ms, one.partition, one.offset))


@dataclass(frozen=True)
class Handled:
    """What `touchpoint dlq replay` did with a dead letter."""

    ref: str
    action: Literal["redriven", "discarded"]
    at: str  # ISO 8601, wall clock
    event_id: str | None = None
    customer_id: str | None = None
    fixed_from: str | None = None  # "FILE:LINE" of the corrected event, if one was used

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, value: bytes) -> Handled:
        return cls(**json.loads(value))


def read_handled(settings: Settings) -> dict[str, Handled]:
    """The latest mark of every handled dead letter, by ``partition@offset``."""
    handled: dict[str, Handled] = {}
    for record in read_topic(settings, settings.topic(DEAD_LETTERS_REDRIVEN)):
        ref = record.key.decode()
        if record.value is None:
            handled.pop(ref, None)
        else:
            handled[ref] = Handled.decode(record.value)
    return handled


def mark_handled(settings: Settings, marks: list[Handled], timeout_s: float = 30) -> None:
    """Record ``marks`` (acks=all); raises a KafkaError when the broker refuses one."""
    if not marks:
        return
    producer = kafka_clients.producer(settings)
    try:
        topic = settings.topic(DEAD_LETTERS_REDRIVEN)
        futures = [producer.send(topic, key=m.ref.encode(), value=m.encode()) for m in marks]
        producer.flush()
        for future in futures:
            future.get(timeout_s)
    finally:
        producer.close()
