"""Re-driving dead letters after a fix, without duplicates (docs/operations.md).

Each pending dead letter (streams/dlq.py), or the corrected event an operator
supplies in its place (``Fix``), is validated again the way `touchpoint produce`
validates input: JSON, ``recorded_at`` added when missing, clear-text personal
data sealed, upcast and decoded (schemas). A valid one is published to the event
log keyed by customer id (``EventPublisher.publish``); one still invalid is
reported and left pending on the dead-letter topic: never dead-lettered again.

No duplicates, in two layers: once the broker has acknowledged the re-driven
events, each handled dead letter is marked on ``touchpoints-dlq-redriven``, so
the next replay skips it; should a replay stop between the two, the next one
sends the same events again, with the same ``event_id``, and the fold counts an
event id once.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from schemas import EventDecodeError, PiiSealer, decode_obj
from schemas.codec import seal_input
from schemas.touchpoints import Touchpoint
from streams.dlq import Handled, Letter, mark_handled, ref_of
from streams.producer import EventPublisher
from streams.settings import Settings

REDACTED = "[redacted:"  # what seal_input leaves where it could not seal personal data

Action = Literal["redrive", "discard", "invalid", "handled"]


class FixFileError(ValueError):
    """A --fixed file line that is not a corrected dead letter."""


class ReplayFailed(RuntimeError):
    """The broker did not acknowledge every re-driven event: nothing was marked handled."""


@dataclass(frozen=True)
class Fix:
    """A corrected event for the dead letter at ``ref``, from ``where`` (FILE:LINE)."""

    ref: str
    event: dict[str, Any]
    where: str


def load_fixes(path: Path) -> dict[str, Fix]:
    """Corrected events by dead letter: JSON lines with ``partition``, ``offset`` and
    ``event`` (other keys, e.g. those of `touchpoint dlq list --json`, are ignored)."""
    fixes: dict[str, Fix] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            body = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FixFileError(f"{where}: not valid JSON ({exc})") from exc
        if not isinstance(body, dict):
            raise FixFileError(f"{where}: expected a JSON object")
        partition, offset, event = body.get("partition"), body.get("offset"), body.get("event")
        if not (isinstance(partition, int) and isinstance(offset, int)):
            raise FixFileError(f"{where}: needs the dead letter's integer partition and offset")
        if not isinstance(event, dict):
            raise FixFileError(f"{where}: needs the corrected event as the JSON object 'event'")
        ref = ref_of(partition, offset)
        if ref in fixes:
            raise FixFileError(f"{where}: a second fix for {ref} ({fixes[ref].where})")
        fixes[ref] = Fix(ref, event, where)
    return fixes


class Refused(ValueError):
    """The record is still not a valid event: why."""


def revalidate(record: bytes | dict[str, Any], sealer: PiiSealer, now: datetime) -> Touchpoint:
    """The event in ``record``, validated as `touchpoint produce` validates input."""
    if record == b"":
        raise Refused("null value: supply the event with --fixed, or --discard it")
    try:
        parsed: Any = json.loads(record) if isinstance(record, bytes) else record
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(f"$: not valid JSON ({exc})") from exc
    if isinstance(parsed, dict):
        lost = sorted(k for k, v in parsed.items() if isinstance(v, str) and v.startswith(REDACTED))
        if lost:
            raise Refused(f"{', '.join(lost)}: redacted when refused; supply it with --fixed")
        if "recorded_at" not in parsed:
            parsed = {**parsed, "recorded_at": now.isoformat()}
    try:
        return decode_obj(seal_input(parsed, sealer))
    except EventDecodeError as exc:
        raise Refused(str(exc)) from exc


@dataclass(frozen=True)
class Decision:
    """What a replay does (or, dry, would do) with one dead letter."""

    letter: Letter
    action: Action
    reason: str = ""  # why still invalid; for "handled", what was done before
    event: Touchpoint | None = None
    fix: Fix | None = None


def plan(
    letters: Iterable[Letter],
    handled: Mapping[str, Handled],
    fixes: Mapping[str, Fix],
    sealer: PiiSealer,
    now: datetime,
    only: Collection[str] | None = None,
    discard: Collection[str] = (),
) -> list[Decision]:
    """A decision for every dead letter (or those in ``only``), in the given order."""
    decisions = []
    for letter in letters:
        ref = letter.ref
        if only is not None and ref not in only:
            continue
        if ref in handled:
            decisions.append(Decision(letter, "handled", handled[ref].action))
        elif ref in discard:
            decisions.append(Decision(letter, "discard"))
        else:
            decisions.append(_decide(letter, fixes.get(ref), sealer, now))
    return decisions


def _decide(letter: Letter, fix: Fix | None, sealer: PiiSealer, now: datetime) -> Decision:
    try:
        event = revalidate(fix.event if fix else letter.value, sealer, now)
    except Refused as exc:
        return Decision(letter, "invalid", str(exc), fix=fix)
    return Decision(letter, "redrive", event=event, fix=fix)


def execute(
    settings: Settings, decisions: list[Decision], sealer: PiiSealer, now: datetime
) -> list[Handled]:
    """Publish the re-driven events; once all are acknowledged, mark them and the
    discarded dead letters handled. The marks written."""
    with EventPublisher(settings, sealer) as publisher:
        for decision in decisions:
            if decision.action == "redrive" and decision.event is not None:
                publisher.publish(decision.event)
    if publisher.report.failed:
        reasons = "; ".join(f.reason for f in publisher.report.failed[:3])
        raise ReplayFailed(f"not every event was acknowledged, nothing marked handled: {reasons}")
    marks = [_mark(d, now) for d in decisions if d.action in ("redrive", "discard")]
    mark_handled(settings, marks)
    return marks


def _mark(decision: Decision, now: datetime) -> Handled:
    event = decision.event
    return Handled(
        ref=decision.letter.ref,
        action="redriven" if decision.action == "redrive" else "discarded",
        at=now.isoformat(),
        event_id=str(event.event_id) if event else None,
        customer_id=event.customer_id if event else None,
        fixed_from=decision.fix.where if decision.fix else None,
    )
