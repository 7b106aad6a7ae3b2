"""``touchpoint import --jobs N``: one table imported by N processes, each with its own producer.

kafka-python spends most of an import's CPU time, so one process tops out at
several thousand rows/s (docs/operations.md). Here the parent reads the file
(DuckDB) and deals each batch out by customer (crc32 of the customer cell), so
one customer's rows keep their file order on one producer; each child maps,
validates and publishes its rows exactly as a single-process import does, and
sends back its rejects; the parent writes the rejects file and moves the
progress bar. Event ids come from the rows, so they do not depend on N. A
child that fails stops the import.

May import: streams, stdlib.
"""

from __future__ import annotations

import multiprocessing
import queue
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.queues import Queue
from typing import Any

from streams.import_fields import ImportOptions
from streams.import_mapping import RowMapping
from streams.import_reading import TableSource
from streams.importer import (
    Advance,
    CollectedRejects,
    Importer,
    RejectsFile,
    Row,
    reject_unreadable,
)
from streams.producer import Rejection
from streams.settings import Settings

_POLL_S = 0.5


class ImportWorkerError(RuntimeError):
    """A worker process failed, so the import stopped."""


@dataclass
class ParallelImport:
    """What the children did: rows read, events acknowledged per type, sends that failed."""

    read: int = 0
    published: Counter[str] = field(default_factory=Counter)
    failed: list[Rejection] = field(default_factory=list)


def _child(
    number: int,
    settings: Settings,
    options: ImportOptions,
    columns: Sequence[str],
    recorded_at: datetime,
    inbox: Queue[list[Row] | None],
    outbox: Queue[tuple[Any, ...]],
) -> None:
    from streams.import_mapping import plan
    from streams.keyvault import sealer_for
    from streams.producer import EventPublisher

    try:
        mapping = plan(options, columns, recorded_at)  # the parent's mapping: same event ids
        rejects = CollectedRejects()
        with EventPublisher(settings, sealer_for(settings)) as publisher:
            importer = Importer(publisher, rejects)
            while (batch := _next(inbox)) is not None:
                importer.rows(mapping, columns, batch)
                outbox.put(("rows", number, len(batch), rejects.entries))
                rejects.entries = []
        report = publisher.report
        outbox.put(("done", number, report.published, report.failed))
    except BaseException as exc:  # reported to the parent, which stops the import
        reason = (
            str(exc) if str(exc).startswith(type(exc).__name__) else f"{type(exc).__name__}: {exc}"
        )
        outbox.put(("error", number, reason))


def _next(inbox: Queue[list[Row] | None]) -> list[Row] | None:
    """The next batch; None at the end, or once the parent is gone (never wait for ever)."""
    parent = multiprocessing.parent_process()
    while parent is None or parent.is_alive():
        try:
            return inbox.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return None


def import_in_parallel(
    settings: Settings,
    source: TableSource,
    options: ImportOptions,
    mapping: RowMapping,
    recorded_at: datetime,
    jobs: int,
    rejects: RejectsFile,
    advance: Advance,
) -> ParallelImport:
    """Import every row of ``source`` with ``jobs`` child processes."""
    pool = _Children(jobs, (settings, options, source.columns, recorded_at), rejects, advance)
    try:
        pool.start()
        for batch in source.rows(mapping.identity_columns):
            pool.deal(_dealt(batch, mapping.customer_index, jobs))
        pool.finish()
    finally:
        pool.stop()
    pool.result.read += reject_unreadable(source, rejects)
    return pool.result


class _Children:
    """The child processes, their inboxes (batches in) and the shared outbox (reports out)."""

    def __init__(
        self, jobs: int, setup: tuple[Any, ...], rejects: RejectsFile, advance: Advance
    ) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: DuckDB, Kafka run threads
        self.inboxes: list[Queue[list[Row] | None]] = [
            context.Queue(maxsize=2) for _ in range(jobs)
        ]
        self.outbox: Queue[tuple[Any, ...]] = context.Queue()
        self.children = [
            context.Process(target=_child, args=(n, *setup, inbox, self.outbox), daemon=True)
            for n, inbox in enumerate(self.inboxes)
        ]
        self.result, self.done = ParallelImport(), set[int]()
        self._rejects, self._advance = rejects, advance

    def start(self) -> None:
        for child in self.children:
            child.start()

    def deal(self, parts: list[list[Row]]) -> None:
        for inbox, part in zip(self.inboxes, parts, strict=True):
            if part:
                self._put(inbox, part)
        self._drain(block=False)

    def finish(self) -> None:
        """No more rows: wait until every child has flushed its producer and reported."""
        for inbox in self.inboxes:
            self._put(inbox, None)
        while len(self.done) < len(self.children):
            self._drain(block=True)

    def stop(self) -> None:
        """After "done" the children exit by themselves; after a failure, stop them."""
        finished = len(self.done) == len(self.children)
        for inbox in self.inboxes:
            inbox.cancel_join_thread()  # never wait at exit to hand a batch to a dead child
        for child in self.children:
            child.join(timeout=5 if finished else 0.1)
            if child.is_alive():
                child.terminate()

    def _put(self, inbox: Queue[list[Row] | None], item: list[Row] | None) -> None:
        while True:
            try:
                inbox.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                self._drain(block=False)

    def _drain(self, block: bool) -> None:
        try:
            self._handle(self.outbox.get(timeout=_POLL_S) if block else self.outbox.get_nowait())
            while True:
                self._handle(self.outbox.get_nowait())
        except queue.Empty:
            pass
        for n, child in enumerate(self.children):
            if n not in self.done and not child.is_alive():
                try:  # its last message may still be on the way
                    self._handle(self.outbox.get(timeout=4 * _POLL_S))
                except queue.Empty:
                    raise ImportWorkerError(f"import process {n} died") from None
                return

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, number, *body = message
        if kind == "rows":
            count, entries = body
            self.result.read += count
            for entry in entries:
                self._rejects.add(*entry)
            self._advance(count)
        elif kind == "done":
            self.result.published.update(body[0])
            self.result.failed.extend(body[1])
            self.done.add(number)
        else:
            raise ImportWorkerError(f"import process {number} failed: {body[0]}")


def _dealt(batch: Sequence[Row], customer: int | None, jobs: int) -> list[list[Row]]:
    """The batch split into ``jobs`` parts by customer (all in part 0 without a column)."""
    parts: list[list[Row]] = [[] for _ in range(jobs)]
    if customer is None:
        parts[0].extend(batch)
        return parts
    index = customer + 2  # after (number, ordinal)
    for row in batch:
        cell = row[index]
        parts[zlib.crc32(cell.encode()) % jobs if cell else 0].append(row)
    return parts
