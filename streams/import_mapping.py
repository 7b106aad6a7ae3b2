"""Rows of a table -> touchpoint input records, for ``touchpoint import`` (docs/operations.md).

``plan(options, columns, recorded_at)`` checks the options against the file's
columns once, before anything is sent (``streams.import_sources``): an unknown
field, a missing column, a required field with no source or a constant its
field refuses stops the import with a ``MappingError``. The ``RowMapping`` it
returns turns one row (its cells as text) into an input
record with a deterministic event id, plus the reasons a cell could not be
converted, each naming the event field. Validation against the event schema
happens afterwards, on the same path as ``touchpoint produce``.

May import: schemas, stdlib, orjson, streams.import_*.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from hashlib import sha1
from typing import Any, NamedTuple
from uuid import UUID, uuid5

import orjson

from schemas import FieldError
from schemas.touchpoints import current_version
from streams.import_fields import (
    MONEY_FIELDS,
    ImportOptions,
    Kind,
    MappingError,
    check_value,
    importable_fields,
    money_field,
    zone_of,
)
from streams.import_sources import Column, Source, Value, sources_for
from streams.import_values import AmountUnit, parse_bool, parse_int, parse_time, to_minor_units

# Never change: every imported event id derives from it (docs/operations.md).
IMPORT_NAMESPACE = UUID("5b0e3c1a-6f0d-5d7e-9c38-2f1a4d6b8e90")


class Mapped(NamedTuple):
    """One row as an input record, and the cells that could not be converted."""

    record: dict[str, Any]
    errors: tuple[FieldError, ...]


class RowMapping:
    """How each row becomes an input record of one event type (made by ``plan``)."""

    def __init__(
        self,
        event_type: str,
        sources: dict[str, Source],
        columns: Sequence[str],
        options: ImportOptions,
        recorded_at: datetime,
    ) -> None:
        self.event_type = event_type
        self.sources = sources
        self._money = money_field(event_type)
        self._zone = zone_of(options.timezone)
        amount = sources.get("amount_minor")
        minor_by_name = isinstance(amount, Column) and amount.name == "amount_minor"
        self.amount_unit: AmountUnit = options.amount_unit or (
            "minor" if minor_by_name else "major"
        )
        kinds = importable_fields(event_type)
        self._converters: dict[Kind, Callable[[str], Any] | None] = {
            "text": None,
            "pii": None,
            "int": parse_int,
            "bool": parse_bool,
            "time": partial(parse_time, zone=self._zone, time_format=options.time_format),
            "amount": None,  # converted last: it needs the currency
        }
        self._cells = [
            (name, columns.index(src.name), kinds[name], self._converters[kinds[name]])
            for name, src in sources.items()
            if isinstance(src, Column)
        ]
        customer = sources.get("customer_id")
        self.customer_index = (  # where the customer id is among the cells, if in a column
            columns.index(customer.name) if isinstance(customer, Column) else None
        )
        self.columns_of = {self.path(name): columns[i] for name, i, _, _ in self._cells}
        self._base: dict[str, Any] = {
            "event_type": event_type,
            "schema_version": current_version(event_type),
            "recorded_at": recorded_at,
        }
        for name, src in sources.items():
            if isinstance(src, Value):
                self._base[name] = self._constant(name, kinds[name], src.text)
        self._order_from_id = "order_id" in kinds and "order_id" not in sources
        # Identity: the raw cells of every field except personal data (docs/operations.md).
        identity = [(name, i) for name, i, kind, _ in self._cells if kind != "pii"]
        self.identity_columns = tuple(dict.fromkeys(columns[i] for _, i in identity))
        self._identity = tuple(i for _, i in identity)
        self.has_pii = any(kinds[name] == "pii" for name in sources)
        self._namespace = _namespace(
            event_type, [name for name, _ in identity], sources, kinds, options, self.amount_unit
        )

    def path(self, name: str) -> str:
        """The field's path in the event, as errors name it (compensation.amount_minor)."""
        return f"{self._money}.{name}" if self._money and name in MONEY_FIELDS else name

    def _constant(self, name: str, kind: Kind, text: str) -> Any:
        try:
            if kind == "amount":
                currency = self.sources.get("currency")
                if not isinstance(currency, Value):
                    raise ValueError("a constant amount needs a constant currency (--currency)")
                value: Any = to_minor_units(text, currency.text, self.amount_unit)
            else:
                convert = self._converters[kind]
                value = text if convert is None else convert(text)
            check_value(self.event_type, name, value)
        except ValueError as exc:
            raise MappingError(f"{name}={text!r}: {exc}") from None
        return value

    def event_id(self, cells: Sequence[str | None], ordinal: int) -> UUID:
        """Deterministic: the mapping, the row's identity cells as written, and ``ordinal``
        (how many rows with the same identity cells came before it in the file)."""
        name = orjson.dumps([*(cells[i] for i in self._identity), ordinal])
        # uuid5(namespace, name), without its str round trip (this runs once per row)
        return UUID(bytes=sha1(self._namespace.bytes + name).digest()[:16], version=5)

    def map(self, cells: Sequence[str | None], ordinal: int) -> Mapped:
        """The input record of one row (cells in file column order), and conversion errors."""
        record = dict(self._base)
        errors: list[FieldError] = []
        amount: str | None = None
        for name, index, kind, convert in self._cells:
            text = cells[index]
            if text is None or not (text := text.strip()):
                continue  # an empty cell is a missing value
            if kind == "amount":
                amount = text
                continue
            try:
                record[name] = text if convert is None else convert(text)
            except ValueError as exc:
                errors.append(FieldError(self.path(name), str(exc)))
        if amount is not None:
            try:
                record["amount_minor"] = to_minor_units(
                    amount, record.get("currency"), self.amount_unit
                )
            except ValueError as exc:
                errors.append(FieldError(self.path("amount_minor"), str(exc)))
        record["event_id"] = event_id = self.event_id(cells, ordinal)
        if self._order_from_id:
            record["order_id"] = str(event_id)
        if self._money:
            money = {k: record.pop(k) for k in MONEY_FIELDS if k in record}
            if "amount_minor" in money:  # no amount in the row: no compensation, whatever currency
                record[self._money] = money
        return Mapped(record, tuple(errors))

    def describe(self) -> list[str]:
        """One line per field: where its value comes from."""
        lines = []
        for name, src in self.sources.items():
            if isinstance(src, Column):
                unit = f" ({self.amount_unit} units)" if name == "amount_minor" else ""
                lines.append(f"{self.path(name)} <- column {src.name!r}{unit}")
            else:
                lines.append(f"{self.path(name)} = {src.text!r}")
        if self._order_from_id:
            lines.append("order_id = the event id (no --order-col)")
        return lines


def _namespace(
    event_type: str,
    identity: list[str],
    sources: Mapping[str, Source],
    kinds: Mapping[str, Kind],
    options: ImportOptions,
    amount_unit: AmountUnit,
) -> UUID:
    """The mapping's own namespace: a row's cells mean the same event only under it."""
    fingerprint = {
        "event_type": event_type,
        "identity": identity,
        "values": {n: s.text for n, s in sources.items()
                   if isinstance(s, Value) and kinds[n] != "pii"},
        "amount_unit": amount_unit,
        "timezone": options.timezone,
        "time_format": options.time_format,
    }  # fmt: skip
    return uuid5(IMPORT_NAMESPACE, orjson.dumps(fingerprint).decode())


def plan(options: ImportOptions, columns: Sequence[str], recorded_at: datetime) -> RowMapping:
    """Check ``options`` against the file's ``columns`` and the event type; the row mapping."""
    sources = sources_for(options, columns)
    return RowMapping(options.event_type, sources, columns, options, recorded_at)
