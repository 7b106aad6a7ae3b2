"""Prometheus metrics of a running worker (`touchpoint worker --metrics-port`).

Custom collectors read a live ``ProcessingWorker``'s ``WorkerStats``, watermarks
and processed offsets (and the in-process materializer's, through a
``MaterializerProbe``) at every scrape, so the worker itself keeps plain counters
and knows nothing of Prometheus. Counts are since the process started (a restart
resets them, as Prometheus counters expect). Served by prometheus_client's HTTP
server from its own registry, with the process and GC collectors.

The stats are read from the HTTP server's thread while the worker's event loop
updates them: ints are read whole, dicts are copied (atomically, under the GIL)
before they are iterated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, GCCollector, ProcessCollector, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from streams.materializer import MaterializerStats
    from streams.processor import WorkerStats

PREFIX = "touchpoint"
WORKER_COUNTERS = (  # WorkerStats field, metric name (without _total), help
    ("applied", "worker_events_applied", "Events folded into customer states."),
    ("redelivered", "worker_events_redelivered", "Redelivered events skipped (already folded)."),
    ("dead_lettered", "worker_events_dead_lettered", "Records sent to the dead-letter topic."),
    ("batches", "worker_batches", "Event-log batches processed."),
    ("views_published", "worker_views_published", "Customer views published."),
    ("aliases_decided", "worker_aliases_decided", "Alias decisions of the identity resolver."),
    ("stage_changes", "worker_stage_changes", "Loyalty stage changes published."),
    ("tier_changes", "worker_tier_changes", "Value tier changes published."),
)
MATERIALIZER_COUNTERS = (
    ("batches", "materializer_batches", "Micro-batches applied to the read model."),
    ("records", "materializer_records", "Records consumed, of any kind."),
    ("applied", "materializer_records_applied", "Records applied to the read model."),
    ("skipped", "materializer_records_skipped", "Undecodable records stepped over."),
)


class WorkerLike(Protocol):
    """What the collector reads of a streams.worker.ProcessingWorker."""

    stats: WorkerStats

    @property
    def watermarks(self) -> dict[int, int]: ...  # partition -> latest event time folded (µs)

    processed_next: dict[str, dict[int, int]]  # topic -> partition -> next offset
    failure: BaseException | None


class WorkerCollector(Collector):
    """The worker's counts, per-partition event-time watermarks and processed offsets."""

    def __init__(self, worker: WorkerLike) -> None:
        self._worker = worker

    def collect(self) -> Iterator[Metric]:
        worker = self._worker
        yield from _counters(worker.stats, WORKER_COUNTERS)
        yield from _other_counters(worker.stats, WORKER_COUNTERS)
        applied = CounterMetricFamily(
            f"{PREFIX}_worker_partition_events_applied",
            "Events folded, per event-log partition.",
            labels=["partition"],
        )
        for partition, count in sorted(worker.stats.by_partition.copy().items()):
            applied.add_metric([str(partition)], count)
        yield applied
        watermark = GaugeMetricFamily(
            f"{PREFIX}_worker_watermark_seconds",
            "Event time (Unix seconds) of the latest event folded, per event-log partition.",
            labels=["partition"],
        )
        for partition, micros in sorted(worker.watermarks.copy().items()):
            watermark.add_metric([str(partition)], micros / 1_000_000)
        yield watermark
        offsets = GaugeMetricFamily(
            f"{PREFIX}_worker_next_offset",
            "Next offset to process per input partition (every record below it is done).",
            labels=["topic", "partition"],
        )
        for topic, partitions in sorted(worker.processed_next.copy().items()):
            for partition, offset in sorted(partitions.copy().items()):
                offsets.add_metric([topic, str(partition)], offset)
        yield offsets
        yield GaugeMetricFamily(
            f"{PREFIX}_worker_failed",
            "1 once a batch failed and the worker stopped processing, else 0.",
            value=0 if worker.failure is None else 1,
        )


@dataclass
class MaterializerProbe:
    """What the in-process materializer reports, set by the thread that runs it."""

    stats: MaterializerStats | None = None
    lag: dict[str, int | None] = field(default_factory=dict)  # "topic/partition" -> records


class MaterializerCollector(Collector):
    """The materializer's counts and its lag per partition (records behind the last
    fetch high-water mark, as of its latest poll)."""

    def __init__(self, probe: MaterializerProbe) -> None:
        self._probe = probe

    def collect(self) -> Iterator[Metric]:
        if self._probe.stats is None:
            return
        yield from _counters(self._probe.stats, MATERIALIZER_COUNTERS)
        lag = GaugeMetricFamily(
            f"{PREFIX}_materializer_lag_records",
            "Records not yet applied to the read model, per partition it reads.",
            labels=["topic", "partition"],
        )
        for where, behind in sorted(self._probe.lag.copy().items()):
            topic, _, partition = where.rpartition("/")
            if behind is not None:
                lag.add_metric([topic, partition], behind)
        yield lag


def _counters(stats: Any, specs: tuple[tuple[str, str, str], ...]) -> Iterator[Metric]:
    for attribute, name, text in specs:
        yield CounterMetricFamily(f"{PREFIX}_{name}", text, value=getattr(stats, attribute))


def _other_counters(stats: Any, known: tuple[tuple[str, str, str], ...]) -> Iterator[Metric]:
    """Counts WorkerStats gained after this module was written, under their field names."""
    named = {attribute for attribute, _, _ in known}
    for spec in fields(stats):
        value = getattr(stats, spec.name)
        if spec.name not in named and isinstance(value, int):
            yield CounterMetricFamily(f"{PREFIX}_worker_{spec.name}", f"WorkerStats.{spec.name}.",
                                      value=value)  # fmt: skip


class MetricsServer:
    """prometheus_client's HTTP server on ``host:port`` serving ``/metrics``."""

    def __init__(self, port: int, host: str, *collectors: Collector) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        for collector in collectors:
            self.registry.register(collector)
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._server: WSGIServer = server
        self._thread: threading.Thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
