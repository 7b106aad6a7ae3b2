"""A file-backed vault of per-customer PII keys (SQLite, standard library).

Keys never go to Kafka: destroying one here erases the customer's personal
data from every copy of the log at once (crypto-shredding). Several
processes may share the file; SQLite serialises the writes. For production,
put a KMS-backed implementation of ``schemas.pii.KeyVault`` in its place.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from schemas import PiiSealer
from streams.settings import Settings

_SCHEMA = """
CREATE TABLE IF NOT EXISTS customer_keys (
    key_id TEXT PRIMARY KEY,
    key BLOB,              -- NULL once destroyed
    destroyed INTEGER NOT NULL DEFAULT 0
)
"""


class SqliteKeyVault:
    """``schemas.pii.KeyVault`` on a local SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        _setup(self._db, time.monotonic() + 30)
        self._cache: dict[str, bytes] = {}

    def key(self, key_id: str) -> bytes | None:
        if key_id in self._cache:
            return self._cache[key_id]
        row = self._db.execute(
            "SELECT key FROM customer_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        self._cache[key_id] = bytes(row[0])
        return self._cache[key_id]

    def key_or_create(self, key_id: str) -> bytes:
        found = self.key(key_id)
        if found is not None:
            return found
        # First writer wins when several processes race for the same customer.
        self._db.execute(
            "INSERT OR IGNORE INTO customer_keys (key_id, key) VALUES (?, ?)",
            (key_id, os.urandom(32)),
        )
        row = self._db.execute(
            "SELECT key, destroyed FROM customer_keys WHERE key_id = ?", (key_id,)
        ).fetchone()
        if row[1]:
            raise PermissionError(f"key {key_id!r} was destroyed (customer erased)")
        self._cache[key_id] = bytes(row[0])
        return self._cache[key_id]

    def destroy(self, key_id: str) -> None:
        self._cache.pop(key_id, None)
        self._db.execute(
            "INSERT INTO customer_keys (key_id, key, destroyed) VALUES (?, NULL, 1) "
            "ON CONFLICT (key_id) DO UPDATE SET key = NULL, destroyed = 1",
            (key_id,),
        )

    def close(self) -> None:
        self._db.close()


def _setup(db: sqlite3.Connection, deadline: float) -> None:
    """WAL mode and the table. Switching a new file to WAL takes a lock SQLite's busy
    timeout does not wait for: processes opening the vault at once (``import --jobs``)
    retry until ``deadline``."""
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def sealer_for(settings: Settings) -> PiiSealer:
    """The PII sealer of this deployment: its key vault file and pepper."""
    vault = SqliteKeyVault(settings.key_vault)
    return PiiSealer(vault, settings.pii_pepper.get_secret_value().encode())
