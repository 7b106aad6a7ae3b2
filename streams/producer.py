"""Publishing touchpoints: validate first, then send keyed by customer id with acks=all.

Valid events go to ``touchpoints``; refused input goes to the dead-letter
topic with the reason, so nothing is silently dropped. ``ProduceReport``
counts what the broker acknowledged, what was refused and why.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

from schemas import EventDecodeError, FieldError, PiiSealer, decode_obj, encode
from schemas.codec import seal_input
from schemas.touchpoints import Touchpoint
from streams import kafka_clients
from streams.deadletter import DeadLetter
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, TOUCHPOINTS


@dataclass(frozen=True)
class Rejection:
    """One input record that was not published as an event."""

    origin: str
    reason: str


class Refused(ValueError):
    """An input record that is not a valid event: the record as kept (personal data
    sealed), its Kafka key when it has a usable customer id, and why."""

    def __init__(
        self,
        value: bytes,
        key: bytes | None,
        reason: str,
        error: EventDecodeError | None = None,
    ) -> None:
        super().__init__(reason)
        self.value, self.key, self.reason, self.error = value, key, reason, error

    @property
    def errors(self) -> tuple[FieldError, ...]:
        """Each problem by field; a record that is not even JSON is one problem of '$'."""
        if self.error is not None:
            return self.error.errors
        where, _, reason = self.reason.partition(": ")
        return (FieldError(where, reason),)


@dataclass
class ProduceReport:
    """What happened to the input: published per type, refused, failed to send."""

    published: Counter[str] = field(default_factory=Counter)
    rejected: list[Rejection] = field(default_factory=list)
    failed: list[Rejection] = field(default_factory=list)
    dead_lettered: int = 0

    @property
    def published_total(self) -> int:
        return sum(self.published.values())

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventPublisher:
    """Validates input records and publishes them. Use as a context manager;
    the report is complete once the publisher is closed (all sends acknowledged)."""

    def __init__(
        self,
        settings: Settings,
        sealer: PiiSealer,
        producer: KafkaProducer | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._producer = producer or kafka_clients.producer(settings)
        self._sealer = sealer
        self._clock = clock
        self._events_topic = settings.topic(TOUCHPOINTS)
        self._dlq_topic = settings.topic(DEAD_LETTERS)
        self._lock = threading.Lock()
        self.report = ProduceReport()

    def submit(self, record: bytes | str | dict[str, Any], origin: str) -> Touchpoint | None:
        """Validate one input record (a JSON line or a dict) and publish it.

        Returns the event, or None when the record was refused (and dead-lettered).
        """
        try:
            event = self.validate(record)
        except Refused as refused:
            self._refuse(refused, origin)
            return None
        self.publish(event)
        return event

    def validate(self, record: bytes | str | dict[str, Any]) -> Touchpoint:
        """The event an input record describes, personal data sealed; raises ``Refused``.

        A record without ``recorded_at`` is stamped with the clock. Nothing is sent.
        """
        raw = record.encode() if isinstance(record, str) else record
        if isinstance(raw, bytes):
            try:
                parsed: Any = json.loads(raw)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise Refused(raw, None, f"$: not valid JSON ({exc})") from None
        else:
            parsed = raw
        if isinstance(parsed, dict) and "recorded_at" not in parsed:
            parsed = {**parsed, "recorded_at": self._clock().isoformat()}
        prepared = seal_input(parsed, self._sealer)
        try:
            return decode_obj(prepared)
        except EventDecodeError as exc:
            raise Refused(_reencode(prepared, raw), _key_of(prepared), str(exc), exc) from None

    def publish(self, event: Touchpoint) -> None:
        """Send a validated event to the event log, keyed by customer id."""
        headers = [
            ("event_type", event.event_type.encode()),
            ("schema_version", str(event.schema_version).encode()),
            ("content-type", b"application/json"),
        ]
        future = self._producer.send(
            self._events_topic,
            key=event.customer_id.encode(),
            value=encode(event),
            headers=headers,
            timestamp_ms=int(event.occurred_at.timestamp() * 1000),
        )
        future.add_callback(self._acked, event.event_type)
        future.add_errback(self._failed, f"event {event.event_id}")

    def _refuse(self, refused: Refused, origin: str) -> None:
        errors = refused.error.errors if refused.error else ()
        letter = DeadLetter(refused.value, refused.key, refused.reason, origin, errors)
        with self._lock:
            self.report.rejected.append(Rejection(origin, refused.reason))
        future = self._producer.send(
            self._dlq_topic, key=refused.key, value=refused.value, headers=letter.headers()
        )
        future.add_callback(self._dead_lettered)
        future.add_errback(self._failed, f"dead letter for {origin}")

    def _acked(self, event_type: str, _metadata: object) -> None:
        with self._lock:
            self.report.published[event_type] += 1

    def _dead_lettered(self, _metadata: object) -> None:
        with self._lock:
            self.report.dead_lettered += 1

    def _failed(self, what: str, exc: BaseException) -> None:
        with self._lock:
            self.report.failed.append(Rejection(what, f"broker refused: {exc}"))

    def close(self) -> ProduceReport:
        self._producer.flush()
        self._producer.close()
        return self.report

    def __enter__(self) -> EventPublisher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _key_of(prepared: Any) -> bytes | None:
    if isinstance(prepared, dict) and isinstance(prepared.get("customer_id"), str):
        return str(prepared["customer_id"]).encode()[:200]
    return None


def _reencode(prepared: Any, original: bytes | dict[str, Any]) -> bytes:
    """The refused record as kept: its sealed form (clear-text personal data never kept)."""
    try:
        return json.dumps(prepared, default=str).encode()
    except (TypeError, ValueError):
        return original if isinstance(original, bytes) else repr(original).encode()
