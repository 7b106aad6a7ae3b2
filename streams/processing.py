"""One batch of the processing tier: raw records in, changed customer states and
dead letters out. Plain functions: no Faust, no Kafka clients, no clock.

Exactly-once effect on at-least-once delivery: every customer's state
carries ``next_offset``, the offset after the last event-log record folded
into it, and is written to the ``customer-state`` changelog together with
it. A record at an offset below that is a redelivery and is skipped; an
event produced twice (same ``event_id``) is absorbed by the fold itself.
All of a customer's events sit in one partition, so one offset suffices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from projections.churn import OpenWarning
from projections.customer_facts import CustomerFacts, initial, micros, to_datetime
from projections.customer_fold import evolve
from projections.customer_view import CustomerView, view
from projections.facts_codec import dump_facts, load_facts
from projections.identity import IdentityClaim, claims_of
from schemas import EventDecodeError, TouchpointEvent, decode
from streams.deadletter import DeadLetter


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record as it came off the event log."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Tracked:
    """A customer's state and the event-log offset it was produced up to (exclusive)."""

    facts: CustomerFacts
    next_offset: int
    alias_of: str | None = None  # set once identity resolution merged this id into another
    # Loyalty changes were published through this event time (microseconds), ending at:
    emitted_through: int | None = None
    stage: str | None = None
    warning: OpenWarning | None = None  # the churn warning open as published (same instant)

    def to_json(self) -> dict[str, Any]:
        return {
            "next_offset": self.next_offset,
            "facts": dump_facts(self.facts),
            "alias_of": self.alias_of,
            "emitted_through": self.emitted_through,
            "stage": self.stage,
            "warning": None if self.warning is None else list(self.warning),
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Tracked:
        return cls(
            load_facts(body["facts"]),
            int(body["next_offset"]),
            body.get("alias_of"),
            body.get("emitted_through"),
            body.get("stage"),
            _warning(body.get("warning")),
        )


def _warning(body: Any) -> OpenWarning | None:
    if body is None:
        return None
    warning_id, reasons, severity = body
    return OpenWarning(str(warning_id), tuple(str(r) for r in reasons), str(severity))


@dataclass
class BatchResult:
    """What a batch changed: states to write, dead letters, redeliveries skipped."""

    changed: dict[str, Tracked] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    claims: list[IdentityClaim] = field(default_factory=list)
    redelivered: int = 0
    applied: int = 0
    latest_event_at: int | None = None  # event time (microseconds) of the batch's latest event
    # customers with an event earlier than one before it in the partition (event time)
    out_of_order: list[str] = field(default_factory=list)


def apply_batch(
    states: Mapping[str, Tracked], records: Sequence[SourceRecord], watermark: int | None = None
) -> BatchResult:
    """Fold ``records`` (one partition, log order) into the states; ``states`` is not changed.
    ``watermark``: the partition's latest event time before the batch (µs), if any."""
    result = BatchResult()
    for record in records:
        event = _decoded(record)
        if isinstance(event, DeadLetter):
            result.dead_letters.append(event)
            continue
        at = micros(event.occurred_at)
        mark = result.latest_event_at if result.latest_event_at is not None else watermark
        if mark is not None and at < mark:
            result.out_of_order.append(event.customer_id)
        result.latest_event_at = (
            at if result.latest_event_at is None else max(result.latest_event_at, at)
        )
        customer = event.customer_id
        tracked = result.changed.get(customer) or states.get(customer)
        if tracked is not None and record.offset < tracked.next_offset:
            result.redelivered += 1
            continue
        tracked = tracked or Tracked(initial(customer), 0)
        facts, _ = evolve(tracked.facts, event)
        result.changed[customer] = replace(tracked, facts=facts, next_offset=record.offset + 1)
        result.claims.extend(claims_of(event))
        result.applied += 1
    return result


def _decoded(record: SourceRecord) -> TouchpointEvent | DeadLetter:
    """The record's event, or a dead letter saying why it cannot be folded."""
    where: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
    }
    origin = f"{record.topic}/{record.partition}@{record.offset}"
    if record.value is None:
        return DeadLetter(b"", record.key, "null value on the event log", origin, **where)
    try:
        event = decode(record.value)
    except EventDecodeError as exc:
        return DeadLetter(record.value, record.key, str(exc), origin, exc.errors, **where)
    if record.key != event.customer_id.encode():
        reason = f"record key {record.key!r} is not the event's customer_id {event.customer_id!r}"
        return DeadLetter(record.value, record.key, reason, origin, **where)
    return event


def current_view(facts: CustomerFacts) -> CustomerView:
    """The view published for a state: as of the customer's latest touchpoint (event time),
    so it depends on the facts alone and a replay publishes the same view."""
    latest = max(touch.at for touch in facts.touches.values())
    return view(facts, to_datetime(latest))
