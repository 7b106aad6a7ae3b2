"""Event-to-view latency of ``bench.pipeline``: probes at a fixed rate through a live
``touchpoint worker`` (with its in-process materializer), seen in the published snapshot.

Each probe is a ``visit_recorded`` of a customer id never used before, so it appears in
``customer_view`` exactly when the snapshot holding its view is published. A watcher
thread stats the snapshot file every ``POLL_S`` and, when a new one appears, attaches it
read-only in a private in-memory database (as api/snapshot.py does) and notes when each
probe was first seen there. Latency = first seen - handed to the producer.

All probes carry the same event time, the end of the simulated history: the
partitions' event-time watermarks do not move while they are measured, so no
time-driven loyalty or churn change runs in the middle. Warm-up probes, two per
partition, go first and are waited for: they make the worker restore every
partition's states and fire what the new watermark makes due, which is start-up work,
not latency. After the measured probes, unmeasured ones go on at the same rate until
every measured one is seen: the materializer publishes a batch applied too soon after
the previous snapshot only with a later batch, so a load that simply stopped would
leave its last probes waiting for that (docs/operations.md, "Known limit").
"""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
from kafka.partitioner.default import murmur2

from bench.pipeline_measure import child_env
from projections.duckdb_store import DuckDBProjectionStore
from schemas.touchpoints import Touchpoint
from simulator import DEFAULT_START
from streams import kafka_clients
from streams.keyvault import sealer_for
from streams.producer import EventPublisher
from streams.settings import Settings

POLL_S = 0.01  # how often the watcher stats the snapshot file
WARM_UP_TIMEOUT_S = 600.0
DRAIN_TIMEOUT_S = 120.0  # after the last probe, how long to wait for the stragglers
# the materializer's default: at least this long between two published snapshots
SNAPSHOT_INTERVAL_S: float = (
    inspect.signature(DuckDBProjectionStore.open_writer).parameters["snapshot_interval"].default
)


@dataclass(frozen=True)
class Latency:
    offered_rate: float  # probes per second, as offered
    sent: int  # measured probes
    fillers: int  # unmeasured probes sent after them, until all measured ones were seen
    latencies: list[float]  # seconds, of the probes seen (send order)
    published: list[float]  # when each snapshot published while probes went out was seen
    warm_up_seconds: float
    worker_peak_rss: int | None  # bytes (Linux: VmHWM of the worker process)

    @property
    def seen(self) -> int:
        return len(self.latencies)


class SnapshotWatcher(threading.Thread):
    """Notes when each customer id starting with ``prefix`` first appears in ``db``."""

    def __init__(self, db: Path, prefix: str) -> None:
        super().__init__(name="snapshot-watcher", daemon=True)
        self.db, self.prefix = db, prefix
        self.first_seen: dict[str, float] = {}
        self.published: list[float] = []  # when each new snapshot was seen
        self._halt = threading.Event()

    def run(self) -> None:
        last: tuple[int, int, int] | None = None
        while not self._halt.is_set():
            at = time.monotonic()
            try:
                found = os.stat(self.db)
            except FileNotFoundError:
                found = None
            stamp = None if found is None else (found.st_ino, found.st_mtime_ns, found.st_size)
            if stamp is not None and stamp != last:
                ids = self._ids()
                if ids is not None:  # else: read again on the next turn
                    last = stamp
                    self.published.append(at)
                    for customer in ids:
                        self.first_seen.setdefault(customer, at)
            self._halt.wait(POLL_S)

    def _ids(self) -> list[str] | None:
        conn = duckdb.connect(":memory:")
        try:
            quoted = str(self.db).replace("'", "''")
            conn.execute(f"ATTACH '{quoted}' AS snapshot (READ_ONLY)")
            rows = conn.execute(
                "SELECT customer_id FROM snapshot.customer_view WHERE starts_with(customer_id, ?)",
                [self.prefix],
            ).fetchall()
            return [row[0] for row in rows]
        except duckdb.Error:
            return None
        finally:
            conn.close()

    def seen_all(self, events: list[Touchpoint]) -> bool:
        return all(event.customer_id in self.first_seen for event in events)

    def wait_for(self, ids: list[str], timeout: float, worker: subprocess.Popen[bytes]) -> bool:
        """Whether every one of ``ids`` was seen within ``timeout`` s (while ``worker`` runs)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(customer in self.first_seen for customer in ids):
                return True
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        self._halt.set()
        self.join()


def probe_record(customer: str, at: datetime) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "visit_recorded",
        "schema_version": 1,
        "customer_id": customer,
        "occurred_at": at.isoformat(),
        "channel": "web",
        "source": "web-shop",
        "page": "/bench/probe",
    }


def warm_up_ids(prefix: str, partitions: int) -> list[str]:
    """Two fresh ids per partition (Kafka's default partitioner, as the producer's)."""
    counts = dict.fromkeys(range(partitions), 0)
    ids, n = [], 0
    while min(counts.values()) < 2:
        customer = f"{prefix}W{n:04d}"
        partition = (murmur2(customer.encode()) & 0x7FFFFFFF) % partitions
        if counts[partition] < 2:
            counts[partition] += 1
            ids.append(customer)
        n += 1
    return ids


def measure_latency(
    settings: Settings, days: int, rate: float, seconds: float, workdir: Path
) -> Latency:
    """Start ``touchpoint worker``, warm it up, offer ``rate`` probes/s for ``seconds``
    (measured), and on at the same rate (unmeasured) until every measured one is seen."""
    prefix = f"P{uuid.uuid4().hex[:6]}"
    at = DEFAULT_START + timedelta(days=days)  # the end of the simulated history
    log = (workdir / "latency-worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "streams", "worker"],
        env=child_env(settings),
        cwd=workdir,  # where Faust makes its data directory
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    watcher = SnapshotWatcher(settings.db, prefix)
    watcher.start()
    try:
        producer = kafka_clients.producer(settings)
        with EventPublisher(settings, sealer_for(settings), producer) as publisher:
            started = time.monotonic()
            warm = warm_up_ids(prefix, settings.partitions)
            for customer in warm:
                publisher.publish(publisher.validate(probe_record(customer, at)))
            producer.flush()
            if not watcher.wait_for(warm, WARM_UP_TIMEOUT_S, worker):
                raise TimeoutError(f"warm-up probes not seen within {WARM_UP_TIMEOUT_S} s")
            warm_up = time.monotonic() - started
            probes = [
                publisher.validate(probe_record(f"{prefix}L{n:06d}", at))
                for n in range(max(1, round(rate * seconds)))
            ]
            first = time.monotonic()
            sent, extra = _offer(
                publisher,
                probes,
                lambda n: publisher.validate(probe_record(f"{prefix}F{n:06d}", at)),
                rate,
                lambda: watcher.seen_all(probes) or worker.poll() is not None,
            )
            last = time.monotonic()
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with {worker.returncode} while probed")
        peak = _peak_rss(worker.pid)
    except (RuntimeError, TimeoutError) as exc:
        log.flush()
        tail = Path(log.name).read_text(errors="replace")[-3000:]
        raise RuntimeError(f"latency: {exc}; the worker's output ends with:\n{tail}") from exc
    finally:
        _stop(worker)
        log.close()
        watcher.stop()
    latencies = [watcher.first_seen[c] - t for c, t in sent.items() if c in watcher.first_seen]
    published = [t for t in watcher.published if first <= t <= last]
    return Latency(rate, len(sent), extra, latencies, published, warm_up, peak)


def _offer(
    publisher: EventPublisher,
    probes: list[Touchpoint],
    filler: Callable[[int], Touchpoint],
    rate: float,
    done: Callable[[], bool],
) -> tuple[dict[str, float], int]:
    """Send ``probes`` at ``rate`` per second on a fixed schedule, then ``filler`` events on
    the same schedule until ``done()`` (or ``DRAIN_TIMEOUT_S``): when each probe was sent,
    and how many fillers followed.

    The load must go on: the materializer publishes a batch applied too soon after the
    previous snapshot only with a later batch (docs/operations.md), so the last probes of
    a load that stops would wait for the worker to stop."""
    sent: dict[str, float] = {}
    start = time.monotonic()
    n, until = 0, start + len(probes) / rate + DRAIN_TIMEOUT_S
    while n < len(probes) or not done():
        if n >= len(probes) and time.monotonic() > until:
            break
        event = probes[n] if n < len(probes) else filler(n - len(probes))
        delay = start + n / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if n < len(probes):
            sent[event.customer_id] = time.monotonic()
        publisher.publish(event)
        n += 1
    return sent, n - len(probes)


def _peak_rss(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Stop the worker as Ctrl-C does (it publishes a last snapshot), else kill it."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGINT)
    try:
        worker.wait(60)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
