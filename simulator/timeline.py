"""One customer's touchpoints, simulated lazily in time order.

A ``Timeline`` is a tiny discrete-event simulation: a heap of pending tasks
(register, purchase, visit, call in simulator/routine.py; complaints,
surveys, referrals, links in simulator/episodes.py), each run at its moment.
Running a task yields at most one record and may schedule later tasks. Only
a handful of tasks are pending at once, so a run over 100k customers holds
100k small heaps, never the records.

Every task draws from its own ``Random`` seeded by (customer, task number):
no generator keeps a Mersenne-Twister state (2.5 KB) between tasks.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator import clock, episodes, records, routine
from simulator.fakes import Person, customer_number, person_for
from simulator.profiles import CustomerProfile
from simulator.traits import Traits, draw_traits

Handler = Callable[["Timeline", random.Random, int, Any], records.Record | None]


@dataclass(frozen=True)
class Run:
    """What every timeline of one run shares."""

    start: datetime
    end: int  # seconds after start; nothing happens at or after it
    seed: int
    partners: dict[str, CustomerProfile] = field(default_factory=dict)  # same-person pairs
    referees: dict[str, list[CustomerProfile]] = field(default_factory=dict)  # by referrer


class Timeline:
    """The pending tasks of one customer; iterate ``events()`` once."""

    __slots__ = ("_base", "_queue", "_steps", "now", "person", "profile", "run", "traits")

    def __init__(self, profile: CustomerProfile, run: Run) -> None:
        self.profile = profile
        self.run = run
        rng = random.Random(f"{run.seed}:{profile.customer_id}:timeline")
        self._base = rng.getrandbits(64)
        self.traits: Traits = draw_traits(rng, profile, self.pair_role())
        self.person: Person = person_for(self.person_key(), profile.currency, run.seed)
        self._queue: list[tuple[int, int, str, Any]] = []
        self._steps = 0
        self.now = 0
        first = clock.on_day(rng, profile.joined_day, self.traits.first_channel)
        self.schedule(first, "register")

    def partner(self) -> CustomerProfile | None:
        """The profile of this person's other customer id, if any."""
        return self.run.partners.get(self.profile.customer_id)

    def person_key(self) -> str:
        """The customer id the person's data derives from: the earlier of a pair."""
        partner = self.partner()
        if partner is None:
            return self.profile.customer_id
        ids = (self.profile, partner)
        first = min(ids, key=lambda p: (p.joined_day, customer_number(p.customer_id)))
        return first.customer_id

    def pair_role(self) -> str | None:
        """Whether this is the "first" or "second" id of a same-person pair, else None."""
        if self.partner() is None:
            return None
        return "first" if self.person_key() == self.profile.customer_id else "second"

    def schedule(self, at: int, task: str, data: Any = None) -> None:
        """Run ``task`` at ``at`` (never before now); dropped if after the run's end."""
        at = max(at, self.now + 1)
        if at < self.run.end:
            heapq.heappush(self._queue, (at, self._steps, task, data))
            self._steps += 1

    def head(
        self, rng: random.Random, at: int, event_type: str, channel: str, version: int = 1
    ) -> records.Record:
        """The envelope of an event of this customer."""
        cid = self.profile.customer_id
        return records.head(rng, self.run.start, cid, event_type, at, channel, version)

    def active(self, day: float) -> bool:
        """Whether the customer is still (or again) around on ``day``."""
        churn, back = self.profile.churn_day, self.profile.return_day
        return churn is None or day < churn or (back is not None and day >= back)

    def events(self) -> Iterator[tuple[int, records.Record]]:
        """(seconds after start, record) pairs in time order."""
        while self._queue:
            at, record = self._run_next()
            if record is not None:
                yield at, record

    def _run_next(self) -> tuple[int, records.Record | None]:
        """Run the earliest pending task with its own ``Random`` (dropped right after)."""
        at, step, task, data = heapq.heappop(self._queue)
        self.now = at
        return at, HANDLERS[task](self, random.Random((self._base << 32) | step), at, data)


HANDLERS: dict[str, Handler] = {**routine.HANDLERS, **episodes.HANDLERS}
