"""Atomic read-only snapshots of the DuckDB read model.

DuckDB lets one process write a file, and no other process may open it, not
even read-only, while it does. So the one writer works on a private file,
``<db>.writer``, and publishes ``<db>`` for readers: CHECKPOINT (the file is
then complete, the WAL empty), copy it to a hidden file in the same
directory (in a child process: see ``copy_atomically``), fsync, and
``os.replace`` it over ``<db>``. A rename is atomic, so
a reader opens either the previous snapshot or the new one, never a torn
file; a reader that has the old file open keeps its inode and reads on.

Copying costs time in proportion to the file, so ``SnapshotSchedule`` waits
at least ``interval`` seconds between copies and keeps copying under
``max_share`` of the time (a 1 s copy runs at most every 5 s at 0.2).

May import: duckdb, stdlib.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

WRITER_SUFFIX = ".writer"


def writer_path(db: Path) -> Path:
    """The writer's private working file for the read model published at ``db``."""
    return db.with_name(db.name + WRITER_SUFFIX)


def staging_path(target: Path) -> Path:
    """Where a copy is assembled before it is renamed to ``target`` (same directory)."""
    return target.with_name(f".{target.name}.copying")


def prepare_writer(db: Path) -> Path:
    """The writer file to open: reused when it exists (its offsets say where to go on),
    else a copy of the published snapshot (consistent, offsets included), else new."""
    writer = writer_path(db)
    if not writer.exists() and db.exists():
        copy_atomically(db, writer)
    return writer


def publish(conn: duckdb.DuckDBPyConnection, writer: Path, db: Path) -> None:
    """Checkpoint the writer's connection and publish its file at ``db``, atomically."""
    conn.execute("CHECKPOINT")
    copy_atomically(writer, db)


def copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` is always old or new, never partial.

    A child process reads ``source``: closing any descriptor of a file drops
    every POSIX (fcntl) lock the closing process holds on it, DuckDB's lock on
    the writer file included, so this process must never open that file itself.
    """
    staging = staging_path(target)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _COPY, str(source), str(staging)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise OSError(f"copying {source} to {staging} failed: {done.stderr.strip()}")
    os.replace(staging, target)
    _fsync_directory(target.parent)


# Run by the child: copy, then make the data durable before the rename publishes it.
_COPY = """
import os, shutil, sys
shutil.copyfile(sys.argv[1], sys.argv[2])
fd = os.open(sys.argv[2], os.O_RDONLY)
os.fsync(fd)
os.close(fd)
"""


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the rename stands anyway
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotSchedule:
    """When to publish: not before ``interval`` s after the last copy, nor so often that
    copying takes more than ``max_share`` of the time."""

    def __init__(
        self,
        interval: float = 2.0,
        max_share: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval < 0 or not 0 < max_share <= 1:
            raise ValueError("interval must be >= 0 and max_share in (0, 1]")
        self.interval = interval
        self.max_share = max_share
        self._clock = clock
        self._last_end: float | None = None
        self._last_duration = 0.0

    def due(self) -> bool:
        if self._last_end is None:
            return True
        wait = max(self.interval, self._last_duration / self.max_share - self._last_duration)
        return self._clock() - self._last_end >= wait

    def run(self, publish_now: Callable[[], None]) -> None:
        """Call ``publish_now`` and remember when, and how long it took."""
        start = self._clock()
        publish_now()
        self._last_end = self._clock()
        self._last_duration = self._last_end - start
