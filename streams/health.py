"""What `touchpoint status` reports: how far the worker group and the read model have got.

- worker: for every input partition of the group ``<prefix>touchpoint-worker`` (the
  Faust app of streams/worker.py), the committed offset, the fetch high-water mark
  and the lag between them; events/s from two samples ``interval_s`` apart, arriving
  (growth of the high-water mark) and processed (growth of the committed offset:
  Faust commits about once a second, so short intervals give coarse rates);
- dead letters: records on the dead-letter topic, and how many of them
  `touchpoint dlq replay` has handled;
- read model: the published snapshot's wall-clock age (the modification time of
  ``<db>``: a snapshot is published after applied batches, so the snapshot of an
  idle pipeline ages too: read it with the lag), its event-time watermark
  (``pipeline_watermark``), and the records of the materializer's topics not in it
  yet (``consumed_offsets`` against the high-water marks).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
from kafka import TopicPartition

from projections import queries
from projections.duckdb_store import WATERMARK_KEY
from streams.dlq import read_handled
from streams.materializer import SOURCES
from streams.offsets import HighWaterMarks, committed_offsets
from streams.settings import Settings
from streams.topics import (
    CUSTOMER_ALIASES,
    CUSTOMER_MERGES,
    CUSTOMER_VALUES,
    DEAD_LETTERS,
    IDENTITY_CLAIMS,
    TOUCHPOINTS,
)

# streams.worker.INPUTS (not imported: that loads Faust; a unit test keeps them equal)
WORKER_INPUTS = (TOUCHPOINTS, IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES, CUSTOMER_VALUES)
Marks = Mapping[TopicPartition, int | None]


def worker_group(settings: Settings) -> str:
    """The consumer group of the worker's Faust app (streams.worker.make_faust_app)."""
    return f"{settings.topic_prefix}touchpoint-worker"


@dataclass(frozen=True)
class PartitionStatus:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here
    high_water: int | None  # None: no fetch answered
    lag: int | None
    arriving_per_s: float | None
    processed_per_s: float | None


@dataclass(frozen=True)
class DeadLetterStatus:
    topic: str
    records: int
    handled: int  # re-driven or discarded by `touchpoint dlq replay`
    pending: int


@dataclass(frozen=True)
class ReadModelStatus:
    path: str
    published_at: datetime | None  # wall clock: when the snapshot file was written
    age_s: float | None
    watermark: datetime | None  # event time: the latest `as_of` of any view applied
    lag: dict[str, int | None]  # topic -> records not in the snapshot yet
    error: str | None = None


@dataclass(frozen=True)
class Status:
    checked_at: datetime
    interval_s: float
    group: str
    log_topic: str  # the event log, whose totals are "the" events/s and lag
    partitions: list[PartitionStatus]
    dead_letters: DeadLetterStatus
    read_model: ReadModelStatus

    def totals(self, topic: str) -> dict[str, float | None]:
        rows = [p for p in self.partitions if p.topic == topic]
        names = ("lag", "arriving_per_s", "processed_per_s")
        return {name: _sum(getattr(p, name) for p in rows) for name in names}

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["events"] = self.totals(self.log_topic)
        return body


def _sum(values: Iterable[float | None]) -> float | None:
    """The sum, None when any is unknown."""
    known = list(values)
    if not known or any(v is None for v in known):
        return None
    return round(sum(v for v in known if v is not None), 1)


@dataclass(frozen=True)
class _Samples:
    """High-water marks and committed offsets, sampled twice ``elapsed`` seconds apart."""

    first: Marks
    last: Marks
    done_first: Marks
    done_last: Marks
    low: Mapping[TopicPartition, int]
    elapsed: float

    def row(self, tp: TopicPartition) -> PartitionStatus:
        done, high = self.done_last[tp], self.last[tp]
        return PartitionStatus(
            topic=tp.topic,
            partition=tp.partition,
            committed=done,
            high_water=high,
            lag=_minus(high, self.low.get(tp, 0) if done is None else done),
            arriving_per_s=_rate(self.first[tp], high, self.elapsed),
            processed_per_s=_rate(self.done_first[tp], done, self.elapsed),
        )


def collect_status(settings: Settings, interval_s: float) -> Status:
    """Sample the broker (twice, ``interval_s`` apart, for rates) and read the read model."""
    inputs = [settings.topic(name) for name in WORKER_INPUTS]
    dlq = settings.topic(DEAD_LETTERS)
    materialized = [settings.topic(source.name) for source in SOURCES]
    group = worker_group(settings)
    with HighWaterMarks(settings, [*inputs, dlq, *materialized]) as marks:
        worker = [tp for tp in marks.partitions if tp.topic in inputs]
        samples = _sample(settings, marks, group, worker, interval_s)
    last = samples.last
    letters = sum(_minus(last[tp], samples.low.get(tp, 0)) or 0 for tp in last if tp.topic == dlq)
    handled = len(read_handled(settings))
    now = datetime.now(UTC)
    views = {tp: mark for tp, mark in last.items() if tp.topic in materialized}
    return Status(
        checked_at=now,
        interval_s=round(samples.elapsed, 3),
        group=group,
        log_topic=inputs[0],
        partitions=[samples.row(tp) for tp in worker],
        dead_letters=DeadLetterStatus(dlq, letters, handled, max(letters - handled, 0)),
        read_model=read_model_status(settings, views, samples.low, now),
    )


def _sample(
    settings: Settings,
    marks: HighWaterMarks,
    group: str,
    worker: list[TopicPartition],
    interval_s: float,
) -> _Samples:
    first, started = marks.sample(), time.monotonic()
    done_first = committed_offsets(settings, group, worker)
    if interval_s <= 0:
        return _Samples(first, first, done_first, done_first, marks.low, 0.0)
    marks.keep_fresh(interval_s)
    last, elapsed = marks.sample(), time.monotonic() - started
    done_last = committed_offsets(settings, group, worker)
    return _Samples(first, last, done_first, done_last, marks.low, elapsed)


_WATERMARK = f"SELECT as_of FROM pipeline_watermark WHERE projection = '{WATERMARK_KEY}'"


def read_model_status(
    settings: Settings, high: Marks, low: Mapping[TopicPartition, int], now: datetime
) -> ReadModelStatus:
    """Freshness of the snapshot at ``settings.db`` against the high-water marks ``high``."""
    path = settings.db
    try:
        published = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        conn = queries.open_read_model(path)
    except (OSError, duckdb.Error) as exc:
        missing = isinstance(exc, FileNotFoundError)
        error = "no read model published yet" if missing else f"cannot open it: {exc}"
        return ReadModelStatus(str(path), None, None, None, {}, error)
    try:
        offsets = queries.run_query(
            conn, "SELECT topic, partition, next_offset FROM consumed_offsets"
        )
        marks = queries.run_query(conn, _WATERMARK)
    except queries.QueryError as exc:
        return ReadModelStatus(str(path), published, None, None, {}, f"cannot read it: {exc}")
    finally:
        conn.close()
    stored = {TopicPartition(t, p): n for t, p, n in offsets.rows}
    lag: dict[str, int | None] = {}
    for tp, mark in sorted(high.items()):
        behind, total = _minus(mark, stored.get(tp, low.get(tp, 0))), lag.get(tp.topic, 0)
        lag[tp.topic] = None if behind is None or total is None else total + behind
    age = round((now - published).total_seconds(), 3)
    watermark = marks.rows[0][0] if marks.rows else None
    return ReadModelStatus(str(path), published, age, watermark, lag)


def _minus(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else max(a - b, 0)


def _rate(first: int | None, last: int | None, elapsed: float) -> float | None:
    if first is None or last is None or elapsed <= 0:
        return None
    return round((last - first) / elapsed, 1)
