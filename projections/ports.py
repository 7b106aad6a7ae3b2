"""The ``ProjectionStore`` port (where the records of ``customer-views``, ``loyalty-stages``
and ``loyalty-stage-changes`` are materialized), what one batch changes, and
``InMemoryProjectionStore``, the test double.

The semantics every store shares: on a compacted topic the latest record of a
customer id decides what the store holds for it (a view row, an alias, or
nothing; a current stage, or nothing), independently per topic; a stage change
of the history is stored once per ``(customer_id, occurred_at)`` and never
deleted; a batch and the consumed offsets are applied atomically; a record
below its partition's stored offset was applied already and is ignored, so
applying a batch twice is applying it once.

May import: projections, stdlib.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from projections.loyalty import LoyaltyStageChanged, Stage
from projections.loyalty_records import CurrentStage, LoyaltyRecord, StageCleared, StageTransition
from projections.view_records import AliasRecord, Record, Tombstone, ViewRecord, check_row

TopicPartition = tuple[str, int]  # (topic, partition)
StoreRecord = Record | LoyaltyRecord  # what a decoder of any consumed topic returns


class Logged(NamedTuple):
    """A decoded record and where it was read (kept as ``updated_at_offset``)."""

    topic: str
    partition: int
    offset: int
    record: StoreRecord


@dataclass(frozen=True, slots=True)
class StoredView:
    """A customer's row as stored, its whole view, and the offset that wrote it."""

    row: dict[str, object]
    view: dict[str, Any]
    offset: int


@dataclass(frozen=True, slots=True)
class StoredStage:
    """A customer's current loyalty stage as stored (``since``: when the change that set
    it occurred), and the offset of the ``loyalty-stages`` record that wrote it."""

    stage: Stage
    reason: str
    since: datetime
    trigger_event_id: UUID | None
    offset: int


class ProjectionStore(Protocol):
    """Where customer views and loyalty stages are materialized, with the offsets consumed
    to get there."""

    def apply(self, batch: Sequence[Logged], offsets: Mapping[TopicPartition, int]) -> None:
        """Apply ``batch`` (in log order) and store ``offsets`` (next offset to read per
        partition) in one transaction: all of it, or nothing."""

    def offsets(self) -> dict[TopicPartition, int]: ...

    def view_of(self, customer_id: str) -> StoredView | None: ...

    def alias_of(self, customer_id: str) -> AliasRecord | None: ...

    def watermark(self) -> datetime | None:
        """The largest ``as_of`` of any view applied (the pipeline's event-time progress)."""

    def stage_of(self, customer_id: str) -> StoredStage | None: ...

    def transitions_of(self, customer_id: str) -> list[LoyaltyStageChanged]:
        """The customer's stored stage changes, oldest first."""

    def close(self) -> None: ...


@dataclass
class Changes:
    """What a batch does to a store: per customer id, its latest record of each compacted
    topic decides (views, aliases and tombstones of ``customer-views``; stages and
    tombstones of ``loyalty-stages``); stage changes are kept per natural key."""

    views: dict[str, tuple[ViewRecord, int]] = field(default_factory=dict)  # with offset
    aliases: dict[str, tuple[AliasRecord, int]] = field(default_factory=dict)
    tombstones: set[str] = field(default_factory=set)
    watermark: datetime | None = None
    stages: dict[str, tuple[LoyaltyStageChanged, int]] = field(default_factory=dict)
    unstaged: set[str] = field(default_factory=set)  # ids whose stage row must go
    transitions: dict[tuple[str, datetime], LoyaltyStageChanged] = field(default_factory=dict)

    def unviewed(self) -> list[str]:
        """Ids whose view row must go: aliased or deleted."""
        return sorted(self.aliases.keys() | self.tombstones)

    def unaliased(self) -> list[str]:
        """Ids whose alias row must go: they have a view again, or were deleted."""
        return sorted(self.views.keys() | self.tombstones)


def changes_of(batch: Sequence[Logged], stored: Mapping[TopicPartition, int]) -> Changes:
    """The net effect of ``batch`` on a store that has consumed up to ``stored``."""
    out = Changes()
    for topic, partition, offset, record in batch:
        if offset < stored.get((topic, partition), 0):
            continue  # applied in an earlier batch
        key = record.customer_id
        if isinstance(record, StageTransition):
            out.transitions[record.key] = record.change  # a repeat is the same row
            continue
        if isinstance(record, CurrentStage | StageCleared):
            out.stages.pop(key, None)
            out.unstaged.discard(key)
            if isinstance(record, CurrentStage):
                out.stages[key] = (record.change, offset)
            else:
                out.unstaged.add(key)
            continue
        out.views.pop(key, None)
        out.aliases.pop(key, None)
        out.tombstones.discard(key)
        if isinstance(record, ViewRecord):
            out.views[key] = (record, offset)
            as_of = record.row["as_of"]
            if isinstance(as_of, datetime) and (out.watermark is None or as_of > out.watermark):
                out.watermark = as_of
        elif isinstance(record, AliasRecord):
            out.aliases[key] = (record, offset)
        elif isinstance(record, Tombstone):
            out.tombstones.add(key)
    return out


def merged_offsets(
    stored: Mapping[TopicPartition, int], offsets: Mapping[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Stored offsets advanced by ``offsets`` (never moved back)."""
    merged = dict(stored)
    for tp, next_offset in offsets.items():
        merged[tp] = max(next_offset, merged.get(tp, 0))
    return merged


class InMemoryProjectionStore:
    """A ``ProjectionStore`` in dicts. Everything that can fail (checking rows) happens
    before the first change, so a failing batch leaves the store as it was."""

    def __init__(self) -> None:
        self._views: dict[str, StoredView] = {}
        self._aliases: dict[str, AliasRecord] = {}
        self._offsets: dict[TopicPartition, int] = {}
        self._watermark: datetime | None = None
        self._stages: dict[str, StoredStage] = {}
        self._transitions: dict[tuple[str, datetime], LoyaltyStageChanged] = {}

    def apply(self, batch: Sequence[Logged], offsets: Mapping[TopicPartition, int]) -> None:
        diff = changes_of(batch, self._offsets)
        new_views = {  # check_row: a database would refuse a bad row, too
            key: StoredView(check_row(record.row), copy.deepcopy(record.view), offset)
            for key, (record, offset) in diff.views.items()
        }
        for key in diff.unviewed():
            self._views.pop(key, None)
        for key in diff.unaliased():
            self._aliases.pop(key, None)
        self._views.update(new_views)
        self._aliases.update({key: alias for key, (alias, _) in diff.aliases.items()})
        if diff.watermark is not None:
            self._watermark = max(diff.watermark, self._watermark or diff.watermark)
        for key in diff.unstaged:
            self._stages.pop(key, None)
        self._stages.update({key: stored_stage(*pair) for key, pair in diff.stages.items()})
        self._transitions.update(diff.transitions)
        self._offsets = merged_offsets(self._offsets, offsets)

    def offsets(self) -> dict[TopicPartition, int]:
        return dict(self._offsets)

    def view_of(self, customer_id: str) -> StoredView | None:
        return copy.deepcopy(self._views.get(customer_id))

    def alias_of(self, customer_id: str) -> AliasRecord | None:
        return self._aliases.get(customer_id)

    def watermark(self) -> datetime | None:
        return self._watermark

    def stage_of(self, customer_id: str) -> StoredStage | None:
        return self._stages.get(customer_id)

    def transitions_of(self, customer_id: str) -> list[LoyaltyStageChanged]:
        found = [c for (who, _), c in self._transitions.items() if who == customer_id]
        return sorted(found, key=lambda change: change.occurred_at)

    def close(self) -> None:
        pass


def stored_stage(change: LoyaltyStageChanged, offset: int) -> StoredStage:
    """What a store holds for the current-stage record ``change`` read at ``offset``."""
    return StoredStage(
        change.to_stage, change.reason, change.occurred_at, change.trigger_event_id, offset
    )
