"""The SQLite key vault opened by several processes at once (`touchpoint import --jobs`)."""

from __future__ import annotations

import multiprocessing
import tempfile
from pathlib import Path
from typing import Any

from streams.keyvault import SqliteKeyVault

PROCESSES = 6


def _open_and_key(path: str, start: Any, queue: Any) -> None:
    start.wait()  # all open the new file at the same moment
    try:
        vault = SqliteKeyVault(Path(path))
        queue.put(vault.key_or_create("C1").hex())
        vault.close()
    except Exception as exc:  # reported to the parent, which fails the test
        queue.put(f"error: {exc}")


def test_processes_opening_a_new_vault_at_once_share_one_key() -> None:
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(5):  # the race is narrow: a few fresh files
        path = Path(tempfile.mkdtemp()) / f"keys-{attempt}.sqlite"
        start, queue = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [
            ctx.Process(target=_open_and_key, args=(str(path), start, queue))
            for _ in range(PROCESSES)
        ]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(30)
        assert not [r for r in results if r.startswith("error")], results
        assert len(set(results)) == 1  # first writer wins: one key per customer
