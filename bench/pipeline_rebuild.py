"""Child process of ``bench.pipeline``: one timed rebuild, and the memory the customer
states take, as one JSON line on stdout.

    python -m bench.pipeline_rebuild OUT.duckdb   # settings from the environment

1. ``streams.rebuild.rebuild`` over the event log into ``OUT`` (what ``touchpoint
   rebuild`` runs), timed; the process's peak RSS before and after it.
2. The same handlers over the same log again, every record read into memory first, the
   outputs thrown away (no store), under ``tracemalloc``: the bytes still allocated once
   the log is folded are the customer states and what the handlers keep beside them
   (identity graph, value ranks, due-time queues).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from projections.ports import Logged, ProjectionStore
from streams.processing import SourceRecord
from streams.rebuild import Rebuild, log_ends, log_records, rebuild
from streams.settings import Settings, load_settings


class _Discard:
    """A store that keeps nothing: the memory pass measures the handlers' state only."""

    def apply(self, batch: Sequence[Logged], offsets: Mapping[Any, int]) -> None:
        return None


def peak_rss() -> int:
    """This process's peak resident set size so far, in bytes.

    On Linux ``VmHWM`` of /proc/self/status: ``ru_maxrss`` keeps the parent's peak across
    fork and exec, so a child started by a big parent would report the parent's size.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, else KiB


def state_memory(settings: Settings) -> tuple[int, int]:
    """Bytes still allocated after folding the whole log (no store), and the states held."""
    ends, _ = log_ends(settings)
    batches: list[list[SourceRecord]] = list(log_records(settings, ends))
    gc.collect()
    tracemalloc.start()
    job = Rebuild(settings, cast(ProjectionStore, _Discard()), len(ends))
    for records in batches:
        job.fold(records)
    job.flush()
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return held, sum(len(states) for states in job.processor.states.values())


def main() -> None:
    out = Path(sys.argv[1])
    settings = load_settings()
    gc.collect()
    baseline = peak_rss()
    started = time.perf_counter()
    stats = rebuild(settings, out)
    seconds = time.perf_counter() - started
    peak = peak_rss()
    held, states = state_memory(settings)
    found = {
        "events": stats.events,
        "seconds": seconds,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "state_bytes": held,
        "states": states,
    }
    print(json.dumps(found))


if __name__ == "__main__":
    main()
