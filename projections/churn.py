"""Churn warnings as a lifecycle: raised once, updated when its reasons change, cleared.

The rules (projections/churn_signals.py) say which reasons hold at an
instant. A customer has at most one open warning from them; over the
instants at which any rule may change (``ChurnTimeline.scan``):

- no reason → some reasons: ``raised`` (a new ``warning_id``);
- the set of reasons or the severity changes while open: ``updated`` (the
  same warning, never re-raised while open);
- some reasons → none: ``cleared``, with why (purchase resumed, complaint
  resolved, ...).

``advance(facts, emitted, since, until)`` returns the events in
``(since, until]`` and where that leaves the customer, plus the next due
instant (when time alone would change the warning). It is a pure function of
the facts and of what was emitted before, so a worker that advances in any
batches, and a replay, publish the same events at the same event times. If
events arrived late and changed the past, one event at ``since`` + 1 µs
brings the published warning in line ("revised by late events"); emitted
history is never rewritten.

May import: projections, stdlib.
"""

from __future__ import annotations

import json
import uuid
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any, NamedTuple

from projections.churn_rules import (
    CRITICAL,
    SEVERITY_POINTS,
    WARNING,
    ChurnRules,
    Prepared,
    Signal,
    Valuation,
)
from projections.churn_signals import RULES
from projections.customer_facts import CustomerFacts, micros, to_datetime

__all__ = [
    "RECORD_TYPES",
    "ChurnRules",
    "ChurnTimeline",
    "ChurnWarningEvent",
    "OpenWarning",
    "Progress",
    "Valuation",
    "advance",
    "due_at",
]

RAISED, UPDATED, CLEARED = "raised", "updated", "cleared"
RECORD_TYPES = {RAISED: "churn_warning_raised", UPDATED: "churn_warning_updated",
                CLEARED: "churn_warning_cleared"}  # fmt: skip
RECORD_VERSION = 1
_NAMESPACE = uuid.UUID("6f1c2a5e-6c39-4b0e-9a53-3d7f0f6d2c11")
_LATE = "revised by late events"

Active = Mapping[str, Signal]  # reason code -> signal


@dataclass(frozen=True, slots=True)
class ChurnWarningEvent:
    """One step of a warning's life (``kind``: raised, updated or cleared) at an event time.

    ``reasons``, ``severity``, ``score`` and ``evidence`` describe the warning after
    the step (a cleared warning: the reasons it had); ``why`` says what changed
    for updates and clears. ``source``: "rules" (the stream) or "model" (P(alive)).
    """

    kind: str
    customer_id: str
    warning_id: str
    occurred_at: datetime
    reasons: tuple[str, ...]
    severity: str
    score: float
    evidence: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    value_minor: int = 0
    why: str | None = None
    source: str = "rules"

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": RECORD_TYPES[self.kind],
            "version": RECORD_VERSION,
            "customer_id": self.customer_id,
            "warning_id": self.warning_id,
            "occurred_at": self.occurred_at.isoformat(),
            "reasons": list(self.reasons),
            "severity": self.severity,
            "score": self.score,
            "evidence": {code: dict(values) for code, values in self.evidence.items()},
            "value_minor": self.value_minor,
            "why": self.why,
            "source": self.source,
        }

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: bytes | str) -> ChurnWarningEvent:
        """The event in ``value`` (raises ValueError, KeyError or TypeError if malformed)."""
        body = json.loads(value)
        kinds = {v: k for k, v in RECORD_TYPES.items()}
        if body.get("type") not in kinds or body.get("version") != RECORD_VERSION:
            raise ValueError(f"not a churn warning event v{RECORD_VERSION}: {body.get('type')!r}")
        occurred = datetime.fromisoformat(body["occurred_at"])
        if occurred.tzinfo is None:
            raise ValueError("occurred_at has no time zone")
        return cls(
            kind=kinds[body["type"]],
            customer_id=str(body["customer_id"]),
            warning_id=str(body["warning_id"]),
            occurred_at=occurred,
            reasons=tuple(str(r) for r in body["reasons"]),
            severity=str(body["severity"]),
            score=float(body["score"]),
            evidence={str(k): dict(v) for k, v in body["evidence"].items()},
            value_minor=int(body["value_minor"]),
            why=None if body["why"] is None else str(body["why"]),
            source=str(body["source"]),
        )


class OpenWarning(NamedTuple):
    """The warning a customer has open, as published (kept in the worker's state)."""

    warning_id: str
    reasons: tuple[str, ...]
    severity: str


class Progress(NamedTuple):
    events: tuple[ChurnWarningEvent, ...]
    open: OpenWarning | None
    due: int | None  # the next instant (µs) at which time alone changes the warning


class ChurnTimeline:
    """One customer's facts prepared for the rules: the instants to look at, and the reasons
    that hold at each (with the hysteresis of each rule)."""

    def __init__(
        self, facts: CustomerFacts, rules: ChurnRules, valuation: Valuation | None = None
    ) -> None:
        self.facts = facts
        self.rules = rules
        self.prepared = Prepared(facts, rules, valuation)
        instants = {x for rule in RULES for x in rule.instants(self.prepared)}
        self.instants = sorted(instants)
        self._states: list[dict[str, Signal]] = []
        held: dict[str, Signal] = {}
        for x in self.instants:
            now = {}
            for rule in RULES:
                signal = rule.check(self.prepared, x, rule.code in held)
                if signal is None:
                    continue
                before = held.get(rule.code)
                if before is not None and before.severity == CRITICAL != signal.severity:
                    signal = signal._replace(severity=CRITICAL)  # no flapping back while it holds
                now[rule.code] = signal
            held = now
            self._states.append(held)

    def at(self, t: int) -> Active:
        """The reasons that hold at ``t``."""
        i = bisect_right(self.instants, t) - 1
        return self._states[i] if i >= 0 else {}

    def changes(self, since: int | None, until: int) -> list[tuple[int, Active]]:
        """Each instant in ``(since, until]`` with the reasons holding from it on."""
        lo = 0 if since is None else bisect_right(self.instants, since)
        hi = bisect_right(self.instants, until)
        return list(zip(self.instants[lo:hi], self._states[lo:hi], strict=True))

    def cleared_because(self, code: str, t: int) -> str:
        rule = next(rule for rule in RULES if rule.code == code)
        return rule.cleared_because(self.prepared, t)

    def value_at(self, t: int) -> int:
        """The customer's spend up to ``t`` (reporting currency, minor units, rounded)."""
        exact = self.prepared.spend(-1, t)
        return int(exact + Fraction(1, 2)) if exact > 0 else 0


def advance(
    facts: CustomerFacts,
    emitted: OpenWarning | None,
    since: datetime | None,
    until: datetime,
    rules: ChurnRules,
    valuation: Valuation | None = None,
) -> Progress:
    """The warning events of a customer in ``(since, until]``, given what was emitted
    through ``since`` (``emitted``: the warning then open, or None)."""
    timeline = ChurnTimeline(facts, rules, valuation)
    start, end = (None if since is None else micros(since)), micros(until)
    out: list[ChurnWarningEvent] = []
    current = emitted
    if start is not None:
        truth = timeline.at(start)
        if _differs(current, truth):
            event = _step(timeline, current, truth, start + 1, late=True)
            out.append(event)
            current = _open_after(event)
    for x, active in timeline.changes(start, end):
        if _differs(current, active):
            event = _step(timeline, current, active, x, late=False)
            out.append(event)
            current = _open_after(event)
    return Progress(tuple(out), current, _due(timeline, end))


def due_at(
    facts: CustomerFacts, as_of: datetime, rules: ChurnRules, valuation: Valuation | None = None
) -> int | None:
    """The first instant after ``as_of`` at which time alone changes the warning."""
    return _due(ChurnTimeline(facts, rules, valuation), micros(as_of))


def _due(timeline: ChurnTimeline, after: int) -> int | None:
    """The first instant after ``after`` where the reasons or severity change."""
    now = timeline.at(after)
    for x, active in timeline.changes(after, timeline.instants[-1] if timeline.instants else after):
        if _key(active) != _key(now):
            return x
    return None


def _key(active: Active) -> tuple[tuple[str, ...], str | None]:
    return tuple(sorted(active)), _severity(active)


def _differs(current: OpenWarning | None, active: Active) -> bool:
    if current is None:
        return bool(active)
    return (current.reasons, current.severity) != _key(active)


def _severity(active: Active) -> str | None:
    if not active:
        return None
    return max((s.severity for s in active.values()), key=lambda s: SEVERITY_POINTS[s])


def _score(rules: ChurnRules, active: Active) -> float:
    weight = rules.weights.get
    points = (weight(code, 1.0) * SEVERITY_POINTS[s.severity] for code, s in active.items())
    return round(sum(points), 3)


def _step(
    timeline: ChurnTimeline, current: OpenWarning | None, active: Active, at: int, *, late: bool
) -> ChurnWarningEvent:
    customer = timeline.facts.customer_id
    when, value = to_datetime(at), timeline.value_at(at)
    if current is None:  # raised
        warning_id = str(uuid.uuid5(_NAMESPACE, f"{customer}/{at}"))
        return _event(timeline, RAISED, warning_id, active, at, _LATE if late else None)
    gone = [code for code in current.reasons if code not in active]
    why = "; ".join(f"{code}: {timeline.cleared_because(code, at)}" for code in gone)
    if late:
        why = f"{_LATE}; {why}" if why else _LATE
    if not active:
        return ChurnWarningEvent(
            CLEARED, customer, current.warning_id, when, current.reasons, current.severity,
            0.0, {}, value, why or None,
        )  # fmt: skip
    added = [code for code in sorted(active) if code not in current.reasons]
    parts = [f"new: {', '.join(added)}"] if added else []
    if why:
        parts.append(why)
    if not added and not gone:
        parts.append(f"severity now {_severity(active)}")
    return _event(timeline, UPDATED, current.warning_id, active, at, "; ".join(parts))


def _event(
    timeline: ChurnTimeline, kind: str, warning_id: str, active: Active, at: int, why: str | None
) -> ChurnWarningEvent:
    return ChurnWarningEvent(
        kind=kind,
        customer_id=timeline.facts.customer_id,
        warning_id=warning_id,
        occurred_at=to_datetime(at),
        reasons=tuple(sorted(active)),
        severity=_severity(active) or WARNING,
        score=_score(timeline.rules, active),
        evidence={code: dict(active[code].evidence) for code in sorted(active)},
        value_minor=timeline.value_at(at),
        why=why,
    )


def _open_after(event: ChurnWarningEvent) -> OpenWarning | None:
    if event.kind == CLEARED:
        return None
    return OpenWarning(event.warning_id, event.reasons, event.severity)
