"""Bytes <-> events. Decoding upcasts old versions first and names every bad field.

The wire format is UTF-8 JSON of the event model (nulls left out). Input from
outside the pipeline (files, imports) may carry personal data in clear text:
``seal_input`` seals it before validation, so the log never holds it.

May import: pydantic, stdlib, schemas.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from schemas.envelope import WIRE, CustomerId
from schemas.pii import PiiSealer
from schemas.touchpoints import (
    EVENT_ADAPTER,
    EVENT_TYPES,
    Touchpoint,
    TouchpointEvent,
    current_version,
)
from schemas.upcasters import upcast

_CUSTOMER_ID: TypeAdapter[str] = TypeAdapter(CustomerId)


@dataclass(frozen=True)
class FieldError:
    """One reason an event was refused: the field path and why."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class EventDecodeError(ValueError):
    """The input is not a valid touchpoint event. ``errors`` names each bad field."""

    def __init__(self, errors: Sequence[FieldError], event_type: str | None = None) -> None:
        self.errors = tuple(errors)
        self.event_type = event_type
        prefix = f"invalid {event_type} event" if event_type else "invalid event"
        super().__init__(f"{prefix}: " + "; ".join(str(e) for e in self.errors))


def encode(event: Touchpoint) -> bytes:
    """The wire bytes of an event."""
    return event.model_dump_json(exclude_none=True).encode()


def decode(data: bytes | str) -> TouchpointEvent:
    """Parse wire bytes into the newest version of the event, or raise EventDecodeError."""
    try:
        return EVENT_ADAPTER.validate_json(data, context=WIRE)  # fast path: current, valid
    except ValidationError:
        pass
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError([FieldError("$", f"not valid JSON ({exc})")]) from None
    return decode_obj(obj)


def decode_obj(obj: Any) -> TouchpointEvent:
    """Validate a parsed JSON object (upcasting it first), or raise EventDecodeError."""
    event_type = _check_header(obj)
    try:
        obj = upcast(dict(obj), current_version(event_type))
    except Exception as exc:  # an upcaster hit input it cannot lift
        raise EventDecodeError([FieldError("schema_version", str(exc))], event_type) from None
    try:
        event: TouchpointEvent = EVENT_TYPES[event_type].model_validate(obj)  # type: ignore[assignment]
    except ValidationError as exc:
        raise EventDecodeError(_field_errors(exc), event_type) from None
    return event


def _check_header(obj: Any) -> str:
    """The event type, once type and version are known to be usable."""
    if not isinstance(obj, dict):
        raise EventDecodeError(
            [FieldError("$", f"expected a JSON object, got {type(obj).__name__}")]
        )
    event_type = obj.get("event_type")
    if not isinstance(event_type, str):
        raise EventDecodeError([FieldError("event_type", "missing or not a string")])
    if event_type not in EVENT_TYPES:
        known = ", ".join(sorted(EVENT_TYPES))
        raise EventDecodeError(
            [FieldError("event_type", f"unknown type {event_type!r}; known: {known}")]
        )
    version = obj.get("schema_version")
    newest = current_version(event_type)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise EventDecodeError(
            [FieldError("schema_version", "missing or not a positive integer")], event_type
        )
    if version > newest:
        reason = (
            f"version {version} is newer than this reader knows (up to {newest}); "
            "upgrade touchpoint"
        )
        raise EventDecodeError([FieldError("schema_version", reason)], event_type)
    return event_type


def _field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if err["type"] == "cross_field":  # a model rule names the field to blame
            loc = (err.get("ctx") or {}).get("field", "").split(".")
        field = ".".join(str(part) for part in loc if part != "") or "(event)"
        reason = err["msg"]
        if err["type"] not in ("missing", "extra_forbidden", "cross_field") and "input" in err:
            reason += f" (got {_short(err['input'])})"
        errors.append(FieldError(field, reason))
    return errors


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def seal_input(obj: Any, sealer: PiiSealer) -> Any:
    """Seal clear-text personal data in an input record; anything else is left alone.

    Values already sealed pass through, so sealed and clear input mix freely.
    Records that cannot be sealed (no valid customer id, or a customer whose
    key was destroyed by erasure) have their clear-text personal data replaced
    by a marker: the record is then refused, and a refused record is kept.
    """
    event_type = obj.get("event_type") if isinstance(obj, dict) else None
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return obj
    cls = EVENT_TYPES[obj["event_type"]]
    clear = [name for name in cls.pii_fields if isinstance(obj.get(name), str)]
    if not clear:
        return obj
    customer_id = obj.get("customer_id")
    valid_id = isinstance(customer_id, str) and _valid_customer_id(customer_id)
    sealed = dict(obj)
    for name in clear:
        if not valid_id:
            sealed[name] = "[redacted: no valid customer_id to seal it under]"
            continue
        kind = cls.pii_fields[name]
        if kind is None and obj["event_type"] == "identity_linked":
            link_kind = obj.get("identifier_kind")
            kind = link_kind if link_kind in ("email", "phone", "card") else None
        try:
            sealed[name] = sealer.seal(customer_id, obj[name], kind).model_dump(exclude_none=True)
        except PermissionError:
            sealed[name] = "[redacted: customer erased, no key to seal it under]"
    return sealed


def _valid_customer_id(value: str) -> bool:
    try:
        _CUSTOMER_ID.validate_python(value)
    except ValidationError:
        return False
    return True
