"""Tables for ``touchpoint import``, read with DuckDB: CSV, Parquet or JSON lines, in batches.

Every cell comes as text (each column cast to VARCHAR), so every format goes
through the same parsers. Each row comes with its number in the file (1 = the
first record after the header) and its ordinal: how many rows with the same
cells in the identity columns came before it (see ``RowMapping.event_id``).
DuckDB sorts and windows out of core, so a file larger than memory streams.

CSV lines DuckDB cannot read (too many or too few fields, bad quoting) are
not skipped silently: ``unreadable()`` lists them after the rows.

May import: duckdb, stdlib.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb

Format = Literal["csv", "parquet", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "parquet", "jsonl")
_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_COMPRESSED = (".gz", ".zst")


def detect_format(path: Path) -> Format | None:
    """The format a file name says (events.csv.gz: csv), or None."""
    suffixes = [s.lower() for s in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSED:
        suffixes.pop()
    return _SUFFIXES.get(suffixes[-1]) if suffixes else None


@dataclass(frozen=True)
class UnreadableLine:
    """A CSV line the reader could not split into the header's columns."""

    line: int  # physical line in the file, 1 = the header
    text: str
    reason: str


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class TableSource:
    """One file, read by a private in-memory DuckDB connection. Close it (or use ``with``)."""

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path, self.format = path, fmt
        self._con = duckdb.connect()
        self._con.execute("SET enable_progress_bar = false; SET TimeZone = 'UTC'")
        try:
            described = self._con.execute(f"DESCRIBE SELECT * FROM {self._scan()}").fetchall()
        except duckdb.Error as exc:
            self.close()
            raise ValueError(f"cannot read {path} as {fmt}: {exc}") from None
        self.columns: tuple[str, ...] = tuple(row[0] for row in described)

    def _scan(self, rejects: bool = False) -> str:
        path = _literal(str(self.path))
        if self.format == "parquet":
            return f"read_parquet({path})"
        if self.format == "jsonl":
            return f"read_json({path}, format = 'newline_delimited')"
        errors = "store_rejects = true" if rejects else "ignore_errors = true"
        return f"read_csv({path}, header = true, all_varchar = true, {errors})"

    def count(self) -> int:
        """Rows that ``rows()`` will give."""
        row = self._con.execute(f"SELECT count(*) FROM {self._scan()}").fetchone()
        return int(row[0]) if row else 0

    def rows(self, identity: Sequence[str], batch_size: int = 10_000) -> Iterator[list[Any]]:
        """Batches of ``(number, ordinal, *cells)`` tuples, in file order."""
        partition = ", ".join(_identifier(c) for c in identity)
        window = f"PARTITION BY {partition} ORDER BY __row" if identity else "ORDER BY __row"
        query = f"""
            SELECT __row, row_number() OVER ({window}) - 1, COLUMNS(* EXCLUDE (__row))
            FROM (SELECT row_number() OVER () AS __row, COLUMNS(*)::VARCHAR
                  FROM {self._scan(rejects=True)})
            ORDER BY __row"""
        cursor = self._con.execute(query)
        while batch := cursor.fetchmany(batch_size):
            yield batch

    def unreadable(self) -> list[UnreadableLine]:
        """CSV lines that ``rows()`` could not read (call after it has finished)."""
        if self.format != "csv":
            return []
        found = self._con.execute(
            "SELECT line, csv_line, error_message FROM reject_errors ORDER BY line"
        ).fetchall()
        return [UnreadableLine(int(line), text, reason) for line, text, reason in found]

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> TableSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
