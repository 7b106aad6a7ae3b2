"""Where each field of an imported event comes from: a column, or one value for every row.

``sources_for(options, columns)`` resolves every field (an option, else a
column named like the field, else a default) and checks the result before
anything is sent: unknown fields, missing columns, a field given twice, a
required field with no source. Each check names what to give instead.

May import: schemas, stdlib, streams.import_fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schemas import EVENT_TYPES
from streams.import_fields import (
    FILLED,
    MONEY_FIELDS,
    ImportOptions,
    Kind,
    MappingError,
    importable_fields,
    money_field,
    zone_of,
)

# Where to map a field: the hint in "needs FIELD: give ..." errors.
HINTS = {
    "customer_id": "--customer-col COLUMN",
    "occurred_at": "--time-col COLUMN",
    "amount_minor": "--amount-col COLUMN",
    "currency": "--currency CODE or --currency-col COLUMN",
    "channel": "--channel NAME or --channel-col COLUMN",
    "location": "--col location=COLUMN, or --col page=COLUMN: a visit needs one",
}


@dataclass(frozen=True)
class Column:
    """The field's value is this column's cell."""

    name: str


@dataclass(frozen=True)
class Value:
    """The field has this value (as text) in every row."""

    text: str


Source = Column | Value


def default_values(event_type: str) -> dict[str, str]:
    """Constants used when neither an option nor a same-named column gives the field."""
    return {"channel": "phone" if event_type == "call_handled" else "other", "source": "import"}


def sources_for(options: ImportOptions, columns: Sequence[str]) -> dict[str, Source]:
    """Every field's source, checked against the event type and the file's columns."""
    event_type = options.event_type
    zone_of(options.timezone)  # a bad zone first: it would fail every row
    fields = importable_fields(event_type)
    given = [*options.columns, *options.values]
    unknown = sorted(set(given) - fields.keys())
    if unknown:
        raise MappingError(f"{event_type} has no field {', '.join(map(repr, unknown))} to import; "
                           f"its fields: {', '.join(fields)}")  # fmt: skip
    twice = sorted(options.columns.keys() & options.values.keys())
    if twice:
        raise MappingError(f"{', '.join(twice)}: given both a column and a value")
    absent = [c for c in options.columns.values() if c and c not in columns]
    if absent:
        raise MappingError(f"no column {', '.join(map(repr, absent))} in the file; "
                           f"its columns: {', '.join(columns)}")  # fmt: skip
    sources = _resolved(options, fields, columns)
    _check_required(event_type, sources)
    return sources


def _resolved(
    options: ImportOptions, fields: Mapping[str, Kind], columns: Sequence[str]
) -> dict[str, Source]:
    """Per field: the option, else a column of the field's name, else the default."""
    defaults = default_values(options.event_type)
    sources: dict[str, Source] = {}
    for name in fields:
        column = options.columns.get(name)  # "" (--col FIELD=): not from a same-named column
        if column:
            sources[name] = Column(column)
        elif name in options.values:
            sources[name] = Value(options.values[name])
        elif column is None and name in columns:
            sources[name] = Column(name)
        elif column is None and name == "amount_minor" and "amount" in columns:
            sources[name] = Column("amount")
        elif name in defaults:
            sources[name] = Value(defaults[name])
    return sources


def _check_required(event_type: str, sources: Mapping[str, Source]) -> None:
    cls = EVENT_TYPES[event_type]
    required = [
        name
        for name, info in cls.model_fields.items()
        if info.is_required() and name not in FILLED | {"recorded_at", "order_id"}
    ]
    if money_field(event_type) and len(set(MONEY_FIELDS) & sources.keys()) == 1:
        required += MONEY_FIELDS  # an amount needs its currency and the other way round
    if event_type == "visit_recorded" and not {"location", "page"} & sources.keys():
        required.append("location")  # a visit needs a location or a page
    missing = [name for name in dict.fromkeys(required) if name not in sources]
    if missing:
        needs = ", ".join(f"{name} ({HINTS[name]})" if name in HINTS else name for name in missing)
        raise MappingError(
            f"{event_type} needs {needs}; the file has no column of that name: map one with "
            "--col FIELD=COLUMN or give a constant with --set FIELD=VALUE"
        )
