"""Read-only access to the published read-model snapshot, reopened when a new one appears.

The materializer publishes ``<db>`` by renaming a complete copy over it
(projections/snapshots.py), every few seconds while events arrive. The API keeps
the snapshot it opened and, on each request, compares the file's identity (inode,
modification time, size) with it: a new file is opened for the requests that
follow, and the old one is closed when its last request is done.

Why ``ATTACH`` into a private in-memory database instead of ``duckdb.connect(path)``:
DuckDB shares one database instance per path within a process, so a second
``connect`` while the first is still open would return the *old* file. An attached
file is opened anew each time, so overlapping requests never pin an old snapshot.

May import: duckdb, projections, stdlib.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from projections.duckdb_store import WATERMARK_KEY
from projections.queries import ReadModelMissing

CATALOG = "read_model"  # the name the snapshot is attached under


class ReadModelUnreadable(RuntimeError):
    """The file at the read model's path is not a DuckDB read model that can be opened."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """What identifies one published file: a new snapshot is a new inode (a rename)."""

    inode: int
    mtime_ns: int
    size: int


@dataclass(eq=False)
class Snapshot:
    """One published snapshot, attached read-only; ``users``: requests reading it now."""

    path: Path
    stamp: Stamp
    conn: duckdb.DuckDBPyConnection
    watermark: datetime | None
    users: int = 0
    retired: bool = False

    @property
    def published_at(self) -> datetime:
        """When the materializer published it (the file's modification time)."""
        return datetime.fromtimestamp(self.stamp.mtime_ns / 1e9, UTC)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection of its own for one request (DuckDB connections are not shared
        between threads), reading the snapshot by default."""
        cursor = self.conn.cursor()
        cursor.execute(f"USE {CATALOG}")
        return cursor


def open_snapshot(path: Path, stamp: Stamp) -> Snapshot:
    """Attach the file at ``path`` read-only in a new in-memory database (times in UTC)."""
    conn = duckdb.connect(":memory:")
    try:
        conn.execute("SET TimeZone = 'UTC'")
        quoted = str(path).replace("'", "''")
        conn.execute(f"ATTACH '{quoted}' AS {CATALOG} (READ_ONLY)")
        conn.execute(f"USE {CATALOG}")
        found = conn.execute(
            "SELECT as_of FROM pipeline_watermark WHERE projection = ?", [WATERMARK_KEY]
        ).fetchone()
    except duckdb.Error as exc:
        conn.close()
        raise ReadModelUnreadable(f"cannot read the read model at {path}: {exc}") from exc
    return Snapshot(path, stamp, conn, None if found is None else found[0])


class SnapshotReader:
    """Hands out read-only connections to the latest snapshot at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._current: Snapshot | None = None

    @contextmanager
    def reading(self) -> Iterator[tuple[duckdb.DuckDBPyConnection, Snapshot]]:
        """A connection to the latest snapshot, and the snapshot, for one request.

        Raises ``ReadModelMissing`` when nothing is published at ``path`` yet, and
        ``ReadModelUnreadable`` when the file there cannot be opened.
        """
        snapshot = self._acquire()
        try:
            cursor = snapshot.cursor()
            try:
                yield cursor, snapshot
            finally:
                cursor.close()
        finally:
            self._release(snapshot)

    def close(self) -> None:
        with self._lock:
            if self._current is not None:
                self._retire(self._current)
                self._current = None

    def _acquire(self) -> Snapshot:
        with self._lock:
            stamp = self._stamp()
            current = self._current
            if current is None or current.stamp != stamp:
                if current is not None:
                    self._retire(current)
                    self._current = None
                current = self._current = open_snapshot(self.path, stamp)
            current.users += 1
            return current

    def _release(self, snapshot: Snapshot) -> None:
        with self._lock:
            snapshot.users -= 1
            if snapshot.retired and snapshot.users == 0:
                snapshot.conn.close()

    def _retire(self, snapshot: Snapshot) -> None:
        """No new request gets ``snapshot``; it closes when its last request is done."""
        snapshot.retired = True
        if snapshot.users == 0:
            snapshot.conn.close()

    def _stamp(self) -> Stamp:
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            if self._current is not None:
                self._retire(self._current)
                self._current = None
            raise ReadModelMissing(
                f"no read model at {self.path} yet: the materializer publishes it "
                "(`touchpoint worker` or `touchpoint materialize`)"
            ) from None
        return Stamp(found.st_ino, found.st_mtime_ns, found.st_size)
