"""``generate``: every customer's timeline merged into one time-ordered stream.

A customer's timeline is started only when the merged stream reaches the day
they first appear, so memory grows with the customers active so far, never
with the records. Ties are broken by customer index, which keeps the output
byte-identical for the same arguments.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from simulator import clock
from simulator.profiles import CustomerProfile, population
from simulator.timeline import Run, Timeline

DEFAULT_START = datetime(2025, 1, 1, tzinfo=UTC)  # fixed: never the wall clock

_Timeline = Iterator[tuple[int, dict[str, Any]]]
_Entry = tuple[int, int, dict[str, Any], _Timeline]  # (at, customer index, record, rest)


def generate(
    customers: int, days: int, seed: int, start: datetime = DEFAULT_START
) -> Iterator[dict[str, Any]]:
    """Raw input records of ``customers`` over ``days`` from ``start``, in occurred_at order.

    Personal data is clear text (``schemas.codec.seal_input`` seals it). The
    same arguments always give the same records.
    """
    if customers < 0 or days < 0:
        raise ValueError("customers and days must not be negative")
    profiles = population(customers, seed, days=days)
    run = run_for(profiles, clock.utc_start(start), days, seed)
    return _merged(profiles, run)


def run_for(profiles: list[CustomerProfile], start: datetime, days: int, seed: int) -> Run:
    """The shared context of a run: who is whose other id, who referred whom."""
    by_id = {p.customer_id: p for p in profiles if p.same_person_as is not None}
    partners = {cid: by_id[p.same_person_as] for cid, p in by_id.items() if p.same_person_as}
    referees: dict[str, list[CustomerProfile]] = {}
    for profile in profiles:
        if profile.referred_by is not None:
            referees.setdefault(profile.referred_by, []).append(profile)
    return Run(start=start, end=days * clock.DAY, seed=seed, partners=partners, referees=referees)


def _merged(profiles: list[CustomerProfile], run: Run) -> Iterator[dict[str, Any]]:
    """Merge the timelines, starting each one when the stream reaches its first day."""
    waiting = sorted((p.joined_day * clock.DAY, index) for index, p in enumerate(profiles))
    waiting.reverse()  # pop() from the end takes the earliest
    heap: list[_Entry] = []
    while waiting or heap:
        while waiting and (not heap or waiting[-1][0] <= heap[0][0]):
            index = waiting.pop()[1]
            _push_next(heap, index, Timeline(profiles[index], run).events())
        if not heap:
            continue
        _, index, record, timeline = heap[0]
        yield record
        following = next(timeline, None)
        if following is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (following[0], index, following[1], timeline))


def _push_next(heap: list[_Entry], index: int, timeline: _Timeline) -> None:
    following = next(timeline, None)
    if following is not None:
        heapq.heappush(heap, (following[0], index, following[1], timeline))
