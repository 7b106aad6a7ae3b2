"""What ``touchpoint import`` can fill from a table: event types, fields and their kinds.

Introspected from the event models, so a field added to a schema is importable
without a change here. ``ImportOptions`` is what the user asked for on the
command line; ``streams.import_mapping.plan`` checks it against a file.

May import: schemas, pydantic, stdlib, streams.import_values.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import Enum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, TypeAdapter, ValidationError

from schemas import EVENT_TYPES
from schemas.touchpoints import Money
from streams.import_values import AmountUnit

# --type names: the short name, or the event type tag itself.
TYPE_NAMES: dict[str, str] = {
    "purchase": "purchase_completed",
    "visit": "visit_recorded",
    "call": "call_handled",
    "complaint": "complaint_filed",
    "complaint_resolved": "complaint_resolved",
    "survey": "survey_answered",
    "referral": "referral_made",
    "registration": "customer_registered",
    "identity_link": "identity_linked",
}
FILLED = frozenset({"event_id", "event_type", "schema_version"})  # never from the file
# In a type with a nested Money field (compensation), these two fill it.
MONEY_FIELDS = ("amount_minor", "currency")

Kind = Literal["text", "int", "bool", "time", "pii", "amount"]


class MappingError(ValueError):
    """The options do not fit the file or the event type; nothing was imported."""


@dataclass(frozen=True)
class ImportOptions:
    """What the user asked for: ``columns`` maps fields to columns, ``values`` to constants."""

    event_type: str
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    amount_unit: AmountUnit | None = None  # None: minor for a column named amount_minor
    timezone: str = "UTC"
    time_format: str | None = None


def importable_fields(event_type: str) -> dict[str, Kind]:
    """The fields of ``event_type`` a column or a constant can fill, and how cells convert."""
    cls = EVENT_TYPES[event_type]
    fields: dict[str, Kind] = {}
    for name, info in cls.model_fields.items():
        kind = "pii" if name in cls.pii_fields else _kind(info.annotation)
        if name in FILLED or kind is None:
            continue
        fields[name] = "amount" if name == "amount_minor" else kind
    if money_field(event_type) is not None:
        fields.update(amount_minor="amount", currency="text")
    return fields


def money_field(event_type: str) -> str | None:
    """The nested Money field that --amount-col/--currency fill (complaint_resolved's)."""
    for name, info in EVENT_TYPES[event_type].model_fields.items():
        if _unwrap(info.annotation) is Money:
            return name
    return None


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` -> X; anything else unchanged."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if len(args) == 1 else annotation
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _kind(annotation: Any) -> Kind | None:
    inner = _unwrap(annotation)
    if inner is AwareDatetime or inner is datetime:
        return "time"
    if inner is bool:
        return "bool"
    if inner is int:
        return "int"
    if inner is str or typing.get_origin(inner) is Literal:
        return "text"
    if isinstance(inner, type) and issubclass(inner, Enum):
        return "text"
    return None  # nested values (order lines): not importable from a flat row


def check_value(event_type: str, name: str, value: Any) -> None:
    """Validate one constant against its field's schema, so a typo in --set or --channel
    stops the import at once instead of rejecting every row; raises ValueError."""
    cls = EVENT_TYPES[event_type]
    if name in cls.pii_fields:
        return  # clear text, sealed per row
    model = Money if money_field(event_type) and name in MONEY_FIELDS else cls
    info = model.model_fields[name]
    try:
        field_type: Any = Annotated[info.annotation, info]  # the field, constraints included
        TypeAdapter(field_type).validate_python(value)
    except ValidationError as exc:
        raise ValueError(exc.errors(include_url=False)[0]["msg"]) from None


def zone_of(name: str) -> tzinfo:
    """The zone naive times are in: 'UTC' or an IANA name such as 'Europe/Berlin'."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory
        raise MappingError(f"unknown time zone {name!r} (use an IANA name such as "
                           "'Europe/Berlin', or 'UTC')") from None  # fmt: skip
