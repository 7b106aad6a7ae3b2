"""Records of the compacted ``customer-views`` topic: one definition for producer and consumer.

Key: the customer id (UTF-8). Value: UTF-8 JSON, one of

- ``{"type": "customer_view", "version": 1, "customer_id", "row", "view"}``:
  ``row`` is ``view_row(view)`` (keys exactly ``VIEW_COLUMNS``' names), ``view``
  the whole ``CustomerView``; datetimes are ISO 8601 with offset, UUIDs strings;
- ``{"type": "customer_alias", "version": 1, "customer_id", "canonical_id",
  "caused_by"}``: identity resolution merged ``customer_id`` into ``canonical_id``;
- null (a tombstone): the customer is gone.

As on any compacted topic, the latest record of a key is that key's state.
``decode_view_record`` checks a record completely (row keys and types), so a
reader can skip a malformed record instead of failing on it later.

May import: projections, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from projections.customer_view import VIEW_COLUMNS, CustomerView, view_row

VIEW_TYPE = "customer_view"
ALIAS_TYPE = "customer_alias"
VERSION = 1


class ViewRecordError(ValueError):
    """A record this reader cannot use: malformed, or of an unknown type or version."""


@dataclass(frozen=True, slots=True)
class ViewRecord:
    """A customer's current view: ``row`` typed as ``view_row`` gives it, ``view`` as JSON."""

    customer_id: str
    row: dict[str, object]
    view: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AliasRecord:
    """``customer_id`` was merged into ``canonical_id`` by the event ``caused_by``."""

    customer_id: str
    canonical_id: str
    caused_by: str


@dataclass(frozen=True, slots=True)
class Tombstone:
    """The customer's record was deleted (a null value)."""

    customer_id: str


Record = ViewRecord | AliasRecord | Tombstone


def encode_view_record(view: CustomerView) -> bytes:
    """The value to publish, keyed by ``view.customer_id``, when a customer's view changed."""
    record = {
        "type": VIEW_TYPE,
        "version": VERSION,
        "customer_id": view.customer_id,
        "row": view_row(view),
        "view": view,
    }
    return orjson.dumps(record, default=_jsonable)


def encode_alias_record(alias: str, canonical: str, caused_by: UUID | str) -> bytes:
    """The value to publish, keyed by ``alias``, when ``alias`` was merged into ``canonical``."""
    record = {
        "type": ALIAS_TYPE,
        "version": VERSION,
        "customer_id": alias,
        "canonical_id": canonical,
        "caused_by": str(caused_by),
    }
    return orjson.dumps(record)


def decode_view_record(value: bytes | None, key: bytes | str | None = None) -> Record:
    """The record in ``value`` (``key`` names a tombstone's customer and is checked otherwise).

    Raises ``ViewRecordError`` for anything but a valid version-1 record.
    """
    customer_key = key.decode() if isinstance(key, bytes) else key
    if value is None:
        if not customer_key:
            raise ViewRecordError("a tombstone without a key names no customer")
        return Tombstone(customer_key)
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ViewRecordError(f"not UTF-8 JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ViewRecordError(f"expected a JSON object, got {type(body).__name__}")
    record = _decode_body(body)
    if customer_key is not None and customer_key != record.customer_id:
        raise ViewRecordError(
            f"key {customer_key!r} differs from customer_id {record.customer_id!r}"
        )
    return record


def _decode_body(body: dict[str, Any]) -> Record:
    kind, version = body.get("type"), body.get("version")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise ViewRecordError(f"unknown record type {kind!r} (known: {', '.join(_DECODERS)})")
    if version != VERSION:
        raise ViewRecordError(f"{kind} record version {version!r} (this reader knows {VERSION})")
    try:
        return decoder(body)
    except (KeyError, TypeError, ValueError) as exc:
        raise ViewRecordError(f"malformed {kind} record: {exc}") from exc


def _decode_view(body: dict[str, Any]) -> ViewRecord:
    customer_id = _text(body, "customer_id")
    view, row = body["view"], body["row"]
    if not isinstance(view, dict) or not isinstance(row, dict):
        raise TypeError("row and view must be JSON objects")
    if row.get("customer_id") != customer_id:
        raise ValueError(f"row is of {row.get('customer_id')!r}, record of {customer_id!r}")
    return ViewRecord(customer_id, check_row(row), view)


def _decode_alias(body: dict[str, Any]) -> AliasRecord:
    record = AliasRecord(
        _text(body, "customer_id"), _text(body, "canonical_id"), _text(body, "caused_by")
    )
    if record.customer_id == record.canonical_id:
        raise ValueError(f"{record.customer_id} is named an alias of itself")
    return record


_DECODERS: dict[str, Callable[[dict[str, Any]], Record]] = {
    VIEW_TYPE: _decode_view,
    ALIAS_TYPE: _decode_alias,
}


def check_row(row: Mapping[str, object]) -> dict[str, object]:
    """``row`` with exactly ``VIEW_COLUMNS``' keys and values of their types (ISO text
    of a TIMESTAMPTZ column becomes a datetime). Raises ``ValueError`` otherwise."""
    if row.keys() != _COLUMN_NAMES:
        missing, extra = sorted(_COLUMN_NAMES - row.keys()), sorted(row.keys() - _COLUMN_NAMES)
        raise ValueError(f"row columns differ from VIEW_COLUMNS: missing {missing}, extra {extra}")
    typed: dict[str, object] = {}
    for name, check in _CHECKS:
        value = row[name]
        if value is not None:
            value = check(value)
            if value is _WRONG:
                raise ValueError(f"column {name}: unexpected value {row[name]!r}")
        typed[name] = value
    return typed


_WRONG = object()


def _timestamp(value: object) -> object:
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if isinstance(when, datetime) and when.utcoffset() is not None else _WRONG


def _integer(value: object) -> object:
    return value if type(value) is int else _WRONG


def _double(value: object) -> object:
    return float(value) if type(value) in (float, int) else _WRONG  # type: ignore[arg-type]


def _text_list(value: object) -> object:
    ok = isinstance(value, list) and all(type(item) is str for item in value)
    return value if ok else _WRONG


def _string(value: object) -> object:
    return value if type(value) is str else _WRONG


_CHECK_BY_TYPE: dict[str, Callable[[object], object]] = {
    "TIMESTAMPTZ": _timestamp,
    "BIGINT": _integer,
    "INTEGER": _integer,
    "DOUBLE": _double,
    "VARCHAR[]": _text_list,
    "VARCHAR": _string,
}
_CHECKS = tuple((name, _CHECK_BY_TYPE[sql_type]) for name, sql_type, _ in VIEW_COLUMNS)
_COLUMN_NAMES = frozenset(name for name, _, _ in VIEW_COLUMNS)


def _text(body: Mapping[str, Any], field: str) -> str:
    value = body[field]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{field} must be a non-empty string, got {value!r}")
    return value


def _jsonable(value: object) -> object:
    """JSON for what ``json`` does not know: dataclasses, datetimes, UUIDs, read-only maps."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot encode {type(value).__name__} in a view record")
