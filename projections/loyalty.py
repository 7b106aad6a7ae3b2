"""The loyalty ladder as a pure state machine over a customer's facts.

prospect → first_time_buyer → repeat_buyer → loyal → advocate, with at_risk,
lapsed and win_back beside them (rules: projections.loyalty_rules, docs:
docs/loyalty.md). The stage is a function of ``CustomerFacts`` and an event
time, never of a stored state, so it can't depend on event order, batching
or redelivery:

- ``assess(facts, as_of)``: the stage as of an event time, why, and since when;
- ``due_at(facts, as_of)``: when the stage would next change if no event came;
- ``transitions(facts, since, until)``: every change in ``(since, until]``,
  as ``LoyaltyStageChanged`` events. Changes over ``(a, c]`` are exactly those
  over ``(a, b]`` then ``(b, c]``, and those up to ``until`` depend only on the
  facts at or before ``until``: a worker emitting them interval by interval
  emits the same list, at the same event times, however it batches;
- ``DueQueue``: due times of many customers in a heap, so that a watermark
  advance touches only the customers whose due time it passed.

May import: projections, stdlib.
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from projections.customer_facts import CustomerFacts, micros, to_datetime
from projections.loyalty_rules import LADDER, LoyaltyRules, Stage, StageTimeline, Verdict

__all__ = [
    "DEFAULT_RULES",
    "LADDER",
    "DueQueue",
    "LoyaltyRules",
    "LoyaltyStageChanged",
    "Stage",
    "StageAssessment",
    "assess",
    "correction",
    "due_at",
    "transitions",
]

DEFAULT_RULES = LoyaltyRules()
RECORD_TYPE = "loyalty_stage_changed"
RECORD_VERSION = 1

# Of several events at the instant of a change, the one that triggered it.
_TRIGGER_RANK = {
    "purchase_completed": 0,
    "complaint_resolved": 1,
    "complaint_filed": 2,
    "referral_made": 3,
    "survey_answered": 4,
}


@dataclass(frozen=True, slots=True)
class StageAssessment:
    """The stage as of an instant; ``since``: when it began (None: nothing known yet)."""

    stage: Stage
    reason: str
    since: datetime | None


@dataclass(frozen=True, slots=True)
class LoyaltyStageChanged:
    """The customer moved from one stage to another at ``occurred_at`` (event time).

    ``from_stage`` is None for the customer's entry on the ladder (their first
    touchpoint). ``trigger_event_id`` is the event at ``occurred_at`` that
    caused the change, or None when time alone did (a due time passed).
    A customer changes stage at most once per instant: (customer_id,
    occurred_at) identifies a change.
    """

    customer_id: str
    from_stage: Stage | None
    to_stage: Stage
    reason: str
    occurred_at: datetime
    trigger_event_id: UUID | None

    def to_dict(self) -> dict[str, object]:
        return {
            "type": RECORD_TYPE,
            "version": RECORD_VERSION,
            "customer_id": self.customer_id,
            "from_stage": None if self.from_stage is None else self.from_stage.value,
            "to_stage": self.to_stage.value,
            "reason": self.reason,
            "occurred_at": self.occurred_at.isoformat(),
            "trigger_event_id": None
            if self.trigger_event_id is None
            else str(self.trigger_event_id),
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON of ``to_dict()`` (the value to publish, keyed by customer id)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes | str) -> LoyaltyStageChanged:
        """The change in ``value`` (raises ValueError, KeyError or TypeError if malformed)."""
        body = json.loads(value)
        if body.get("type") != RECORD_TYPE or body.get("version") != RECORD_VERSION:
            raise ValueError(f"not a {RECORD_TYPE} v{RECORD_VERSION} record")
        previous, trigger = body["from_stage"], body["trigger_event_id"]
        return cls(
            customer_id=str(body["customer_id"]),
            from_stage=None if previous is None else Stage(previous),
            to_stage=Stage(body["to_stage"]),
            reason=str(body["reason"]),
            occurred_at=datetime.fromisoformat(body["occurred_at"]),
            trigger_event_id=None if trigger is None else UUID(trigger),
        )


def assess(
    facts: CustomerFacts, as_of: datetime, rules: LoyaltyRules = DEFAULT_RULES
) -> StageAssessment:
    """The stage as of ``as_of`` from the facts at or before it.

    A customer nothing is known about yet is a prospect with ``since`` None.
    """
    timeline, t = StageTimeline(facts, rules), micros(as_of)
    verdict = timeline.stage(t)
    if verdict is None:
        return StageAssessment(Stage.PROSPECT, "nothing known yet", None)
    for x in reversed(timeline.candidates(t)):  # the last change at or before t
        if x <= t and _stage(timeline.stage(x - 1)) != _stage(timeline.stage(x)):
            return StageAssessment(verdict.stage, verdict.reason, to_datetime(x))
    raise AssertionError("a known customer entered the ladder at some instant")


def due_at(
    facts: CustomerFacts, as_of: datetime, rules: LoyaltyRules = DEFAULT_RULES
) -> datetime | None:
    """The first instant after ``as_of`` at which the stage changes if no further event
    arrives (None: it never does): the ``occurred_at`` of the first of
    ``transitions(facts, as_of, <any later time>)``.

    With no fact after ``as_of`` this is a time-driven change (quiet long enough,
    a complaint deadline passing, a purchase leaving the loyal window...). Facts
    after ``as_of`` count where they are: a worker that emitted changes through
    ``as_of`` while holding later events learns when to look again.
    """
    timeline, t = StageTimeline(facts, rules), micros(as_of)
    xs = timeline.candidates()
    for x in xs[bisect_right(xs, t) :]:
        if _stage(timeline.stage(x - 1)) != _stage(timeline.stage(x)):
            return to_datetime(x)
    return None


def transitions(
    facts: CustomerFacts,
    since: datetime | None,
    until: datetime,
    rules: LoyaltyRules = DEFAULT_RULES,
) -> tuple[LoyaltyStageChanged, ...]:
    """Every stage change at an instant in ``(since, until]`` (``since`` None: from the start).

    Each change is at the instant of an event (the trigger, from the facts) or
    at a due time (no trigger). Several causes at one instant make one change.
    """
    timeline, end = StageTimeline(facts, rules), micros(until)
    start = None if since is None else micros(since)
    xs = timeline.candidates(end)
    out: list[LoyaltyStageChanged] = []
    for x in xs[0 if start is None else bisect_right(xs, start) : bisect_right(xs, end)]:
        before, after = timeline.stage(x - 1), timeline.stage(x)
        if after is None or _stage(before) == _stage(after):
            continue
        by_time = _stage(timeline.stage(x, x - 1)) == after.stage
        trigger = None if by_time else _trigger(facts, x)
        out.append(_change(facts, _stage(before), after, x, trigger))
    return tuple(out)


def correction(
    facts: CustomerFacts,
    emitted: Stage | None,
    at: datetime,
    rules: LoyaltyRules = DEFAULT_RULES,
) -> LoyaltyStageChanged | None:
    """After facts arrived late (at or before ``at``, through which changes were
    emitted), the change from the last emitted stage to the stage the facts now
    give at ``at``, if they differ. Emitted history is never rewritten."""
    verdict = StageTimeline(facts, rules).stage(micros(at))
    if verdict is None or verdict.stage == emitted:
        return None
    revised = Verdict(verdict.stage, f"revised by late events: {verdict.reason}")
    return _change(facts, emitted, revised, micros(at), None)


def _stage(verdict: Verdict | None) -> Stage | None:
    return None if verdict is None else verdict.stage


def _change(
    facts: CustomerFacts, before: Stage | None, after: Verdict, at: int, trigger: UUID | None
) -> LoyaltyStageChanged:
    return LoyaltyStageChanged(
        facts.customer_id, before, after.stage, after.reason, to_datetime(at), trigger
    )


def _trigger(facts: CustomerFacts, at: int) -> UUID | None:
    ranked = (
        (_TRIGGER_RANK.get(touch.kind, len(_TRIGGER_RANK)), event_id)
        for event_id, touch in facts.touches.items()
        if touch.at == at
    )
    best = min(ranked, default=None)
    return None if best is None else UUID(int=best[1])


class DueQueue:
    """Customers by due time: a heap with lazy deletion.

    ``push`` replaces a customer's due time (None removes it) in O(log n) and
    leaves the old heap entry behind; ``pop_due`` skips such stale entries.
    The heap is rebuilt when stale entries outnumber live ones.
    Not thread-safe; one per worker (or per partition).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._due

    def due(self, customer_id: str) -> datetime | None:
        at = self._due.get(customer_id)
        return None if at is None else to_datetime(at)

    def push(self, customer_id: str, due: datetime | None) -> None:
        """Set (or with None, clear) the customer's due time."""
        if due is None:
            self._due.pop(customer_id, None)
            return
        at = micros(due)
        if self._due.get(customer_id) == at:
            return
        self._due[customer_id] = at
        heapq.heappush(self._heap, (at, customer_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._heap = [(at, c) for c, at in self._due.items()]
            heapq.heapify(self._heap)

    def pop_due(self, watermark: datetime) -> list[str]:
        """Remove and return the customers due at or before ``watermark``, earliest first
        (ties by customer id)."""
        limit, out = micros(watermark), []
        while self._heap and self._heap[0][0] <= limit:
            at, customer_id = heapq.heappop(self._heap)
            if self._due.get(customer_id) == at:
                del self._due[customer_id]
                out.append(customer_id)
        return out

    def next_due(self) -> datetime | None:
        """The earliest live due time (drops stale entries on the way)."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return to_datetime(self._heap[0][0]) if self._heap else None
