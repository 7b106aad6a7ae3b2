"""Records of the churn topics, as the materializer reads them.

- ``churn-warning-events`` (kept for ever), keyed by customer id: one
  ``ChurnWarningEvent.to_json()`` per step of a warning's life (``WarningStep``);
- ``complaint-sla`` (compacted), keyed by customer id: the customer's
  complaints as a JSON list of ``ComplaintRecord.to_dict()`` (``ComplaintRows``);
  a tombstone (the customer was merged into another) removes their rows.

Decoders check a record completely and raise ``ChurnRecordError`` otherwise.

May import: projections, stdlib.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from projections.churn import ChurnWarningEvent
from projections.complaint_sla import ComplaintRecord


class ChurnRecordError(ValueError):
    """A churn record this reader cannot use."""


@dataclass(frozen=True, slots=True)
class WarningStep:
    event: ChurnWarningEvent

    @property
    def customer_id(self) -> str:
        return self.event.customer_id


@dataclass(frozen=True, slots=True)
class ComplaintRows:
    """The customer's complaints now (empty: none, or merged away)."""

    customer_id: str
    rows: tuple[ComplaintRecord, ...]


def decode_warning_record(value: bytes | None, key: bytes | None) -> WarningStep:
    if value is None:
        raise ChurnRecordError("a churn warning event can't be null")
    try:
        event = ChurnWarningEvent.from_json(value)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ChurnRecordError(f"malformed churn warning event: {exc}") from exc
    if key is not None and key.decode(errors="replace") != event.customer_id:
        raise ChurnRecordError(f"key {key!r} is not the event's customer {event.customer_id!r}")
    return WarningStep(event)


def encode_complaints(rows: list[ComplaintRecord]) -> bytes:
    return json.dumps([row.to_dict() for row in rows], separators=(",", ":")).encode()


def decode_complaint_record(value: bytes | None, key: bytes | None) -> ComplaintRows:
    if key is None:
        raise ChurnRecordError("a complaint-sla record needs its customer id as key")
    customer = key.decode(errors="replace")
    if value is None:
        return ComplaintRows(customer, ())
    try:
        return ComplaintRows(customer, tuple(_row(customer, body) for body in json.loads(value)))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ChurnRecordError(f"malformed complaint-sla record: {exc}") from exc


def _row(customer: str, body: dict[str, object]) -> ComplaintRecord:
    def when(name: str) -> datetime | None:
        text = body[name]
        if text is None:
            return None
        parsed = datetime.fromisoformat(str(text))
        if parsed.tzinfo is None:
            raise ValueError(f"{name} has no time zone")
        return parsed

    filed, deadline = when("filed_at"), when("deadline")
    if filed is None or deadline is None:
        raise ValueError("filed_at and deadline are required")
    hours = body["hours_to_resolve"]
    accepted = body["accepted"]
    return ComplaintRecord(
        customer_id=customer,
        complaint_id=str(body["complaint_id"]),
        category=str(body["category"]),
        severity=str(body["severity"]),
        filed_at=filed,
        deadline=deadline,
        resolved_at=when("resolved_at"),
        accepted=None if accepted is None else bool(accepted),
        outcome=str(body["outcome"]),
        hours_to_resolve=None if hours is None else float(str(hours)),
        repurchased_at=when("repurchased_at"),
    )
