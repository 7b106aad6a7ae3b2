"""``touchpoint import``: a table or a file of events into Kafka, rejected rows into a file.

Valid rows are published the way ``touchpoint produce`` publishes them
(``EventPublisher.validate``: personal data sealed, every field checked; then
acks=all, keyed by customer id). A row that cannot become a valid event goes
to the rejects file next to the input, with its number, every reason (naming
the event field and the column it came from) and the row as read. Rejected
rows are not dead-lettered: the dead-letter topic keeps records that reached
Kafka, and these never did (docs/operations.md).

May import: schemas, streams, pydantic, orjson, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

import orjson
from pydantic import ValidationError

from schemas import EVENT_TYPES, FieldError
from schemas.touchpoints import Touchpoint
from streams.import_mapping import RowMapping
from streams.import_reading import TableSource
from streams.producer import EventPublisher, Refused

REJECTS_SUFFIX = ".rejects.jsonl"

Advance = Callable[[int], object]
Row = Sequence[Any]  # (number, ordinal, *cells)


class RejectSink(Protocol):
    def add(
        self, unit: str, number: int, reason: str, errors: list[dict[str, str]], record: Any
    ) -> None: ...


class CollectedRejects:
    """Rejects kept in memory (a worker process hands them to the one that writes the file)."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, int, str, list[dict[str, str]], Any]] = []

    def add(
        self, unit: str, number: int, reason: str, errors: list[dict[str, str]], record: Any
    ) -> None:
        self.entries.append((unit, number, reason, errors, record))


def rejects_path_for(path: Path) -> Path:
    """Next to the input: ``sales.csv`` -> ``sales.csv.rejects.jsonl``."""
    return path.with_name(path.name + REJECTS_SUFFIX)


class RejectsFile:
    """Rejected rows as JSON lines, written as they come.

    Created at the first reject. When an import rejects nothing, an older file
    of that name is removed, so the file always describes the latest import.
    """

    def __init__(self, path: Path, keep: int = 20) -> None:
        self.path = path
        self.count = 0
        self.first: list[str] = []  # the first ``keep`` rejects, "row 12: reason"
        self._keep = keep
        self._file: IO[bytes] | None = None

    def add(
        self,
        unit: str,
        number: int,
        reason: str,
        errors: list[dict[str, str]],
        record: Any,
    ) -> None:
        """One reject: ``unit`` is "row" (a table record) or "line" (a line of the file)."""
        if self._file is None:
            self._file = self.path.open("wb")
        entry = {unit: number, "reason": reason, "errors": errors, "record": record}
        self._file.write(orjson.dumps(entry) + b"\n")
        self.count += 1
        if len(self.first) < self._keep:
            self.first.append(f"{unit} {number}: {reason}")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        else:
            self.path.unlink(missing_ok=True)


class Importer:
    """Feeds rows to a publisher and rejects to a rejects file; ``read`` counts input rows."""

    def __init__(self, publisher: EventPublisher, rejects: RejectSink) -> None:
        self._publisher = publisher
        self._rejects = rejects
        self.read = 0

    def table(
        self, source: TableSource, mapping: RowMapping, advance: Advance, batch_size: int = 10_000
    ) -> None:
        """Every row of ``source`` as one event of the mapping's type."""
        for batch in source.rows(mapping.identity_columns, batch_size):
            self.rows(mapping, source.columns, batch)
            advance(len(batch))
        self.read += reject_unreadable(source, self._rejects)

    def rows(self, mapping: RowMapping, columns: Sequence[str], batch: Sequence[Row]) -> None:
        """Rows as ``TableSource.rows`` gives them: ``(number, ordinal, *cells)``."""
        model = None if mapping.has_pii else EVENT_TYPES[mapping.event_type]
        for row in batch:
            self._row(mapping, model, columns, row)
        self.read += len(batch)

    def _row(
        self,
        mapping: RowMapping,
        model: type[Touchpoint] | None,
        columns: Sequence[str],
        row: Row,
    ) -> None:
        number, ordinal, cells = row[0], row[1], row[2:]
        record, errors = mapping.map(cells, ordinal)
        try:
            event = self._validate(record, model if not errors else None)
        except Refused as refused:  # report every problem, not only the cells that failed
            failed = {error.field for error in errors}
            errors += tuple(e for e in refused.errors if e.field not in failed)
        else:
            if not errors:
                self._publisher.publish(event)
                return
        described = [_described(e, mapping.columns_of.get(e.field)) for e in errors]
        reason = f"invalid {mapping.event_type} event: " + "; ".join(
            f"{e['field']}{_column_note(e)}: {e['reason']}" for e in described
        )
        self._rejects.add("row", number, reason, described, dict(zip(columns, cells, strict=True)))

    def _validate(self, record: dict[str, Any], model: type[Touchpoint] | None) -> Touchpoint:
        """The publisher's validation. A record of the current version with no personal
        data needs neither upcasting nor sealing, so its model alone validates it, at
        half the cost; a refused one takes the full path, for the same reasons."""
        if model is not None:
            try:
                return model.model_validate(record)
            except ValidationError:
                pass
        return self._publisher.validate(record)

    def events(self, lines: Iterable[bytes], advance: Advance) -> None:
        """JSON lines of events in the input format (what ``touchpoint produce`` takes)."""
        for number, line in enumerate(lines, start=1):
            advance(len(line))
            text = line.rstrip(b"\r\n")
            if not text.strip():
                continue
            self.read += 1
            try:
                event = self._publisher.validate(text)
            except Refused as refused:
                errors = [_described(e, None) for e in refused.errors]
                as_read = text.decode(errors="replace")
                self._rejects.add("line", number, refused.reason, errors, as_read)
            else:
                self._publisher.publish(event)


def reject_unreadable(source: TableSource, rejects: RejectSink) -> int:
    """The lines ``source`` could not read, as rejects (once its rows are read); how many."""
    unreadable = source.unreadable()
    for bad in unreadable:
        reason = f"unreadable CSV line: {bad.reason}"
        rejects.add("line", bad.line, reason, [{"field": "$", "reason": reason}], bad.text)
    return len(unreadable)


def _described(error: FieldError, column: str | None) -> dict[str, str]:
    described = {"field": error.field, "reason": error.reason}
    if column is not None:
        described["column"] = column
    return described


def _column_note(error: dict[str, str]) -> str:
    return f" (column {error['column']!r})" if "column" in error else ""
