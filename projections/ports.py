"""The ``ProjectionStore`` port (where the records of ``customer-views``, ``loyalty-stages``,
``loyalty-stage-changes``, ``value-tiers``, ``value-tier-changes``, ``clv-scores`` and
``clv-fits`` are materialized), what one batch changes, and ``InMemoryProjectionStore``,
the test double.

The semantics every store shares: on a compacted topic the latest record of a
customer id decides what the store holds for it (a view row, an alias, or
nothing; a current stage, or nothing), independently per topic; a stage change
of the history is stored once per ``(customer_id, occurred_at)`` and never
deleted; likewise the latest ``value-tiers`` and ``clv-scores`` record of a customer
decides its tier and score (or nothing), a tier change of the history is stored
once per ``(partition, offset)`` it was read at and a fit once per ``fitted_at``,
never deleted; a batch and the consumed offsets are applied atomically; a record
below its partition's stored offset was applied already and is ignored, so
applying a batch twice is applying it once.

May import: projections, stdlib.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from uuid import UUID

from projections.churn import ChurnWarningEvent
from projections.churn_records import ComplaintRows, WarningStep
from projections.complaint_sla import ComplaintRecord
from projections.loyalty import LoyaltyStageChanged, Stage
from projections.loyalty_records import CurrentStage, LoyaltyRecord, StageCleared, StageTransition
from projections.value_records import (
    ClvFit,
    ClvScore,
    CurrentTier,
    TierChange,
    TierCleared,
    ValueRecord,
)
from projections.value_tiers import Tier, ValueTierChanged
from projections.view_records import AliasRecord, Record, Tombstone, ViewRecord, check_row

if TYPE_CHECKING:
    from projections.clv import FittedModels

TopicPartition = tuple[str, int]  # (topic, partition)
ChurnRecord = WarningStep | ComplaintRows
StoreRecord = Record | LoyaltyRecord | ValueRecord | ChurnRecord  # what any decoder returns


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


@dataclass(frozen=True, slots=True)
class StoredTier:
    """A customer's current value tier as stored: ``value_minor``, ``rank`` (None: unranked)
    and ``population`` as of the ``value-tiers`` record that wrote it, read at ``offset``."""

    tier: Tier
    value_minor: int
    rank: int | None
    population: int
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

    def tier_of(self, customer_id: str) -> StoredTier | None: ...

    def tier_changes_of(self, customer_id: str) -> list[ValueTierChanged]:
        """The customer's stored tier changes, in log order."""

    def clv_of(self, customer_id: str) -> ClvScore | None: ...

    def clv_fits(self) -> list[FittedModels]:
        """Every stored fit, oldest ``fitted_at`` first."""

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
    tiers: dict[str, tuple[ValueTierChanged, int]] = field(default_factory=dict)  # with offset
    untiered: set[str] = field(default_factory=set)  # ids whose tier row must go
    tier_changes: dict[tuple[int, int], ValueTierChanged] = field(default_factory=dict)
    scores: dict[str, tuple[ClvScore, int]] = field(default_factory=dict)  # with offset
    unscored: set[str] = field(default_factory=set)  # ids whose clv row must go
    fits: dict[datetime, FittedModels] = field(default_factory=dict)
    # churn warning events in log order, each once per (warning_id, kind, occurred_at)
    warning_steps: dict[tuple[str, str, datetime], ChurnWarningEvent] = field(default_factory=dict)
    complaints: dict[str, tuple[ComplaintRecord, ...]] = field(default_factory=dict)

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
        if isinstance(record, ValueRecord):
            _value_change(out, partition, offset, record)
            continue
        if isinstance(record, WarningStep):
            e = record.event
            out.warning_steps[(e.warning_id, e.kind, e.occurred_at)] = e
            continue
        if isinstance(record, ComplaintRows):
            out.complaints[record.customer_id] = record.rows  # the latest decides
            continue
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


def _value_change(out: Changes, partition: int, offset: int, record: ValueRecord) -> None:
    if isinstance(record, TierChange):
        out.tier_changes[(partition, offset)] = record.change
    elif isinstance(record, ClvFit):
        out.fits[record.fitted_at] = record.models  # a repeat is the same row
    elif isinstance(record, CurrentTier | TierCleared):
        key = record.customer_id
        out.tiers.pop(key, None)
        out.untiered.discard(key)
        if isinstance(record, CurrentTier):
            out.tiers[key] = (record.change, offset)
        else:
            out.untiered.add(key)
    else:
        key = record.customer_id
        out.scores.pop(key, None)
        out.unscored.discard(key)
        if isinstance(record, ClvScore):
            out.scores[key] = (record, offset)
        else:
            out.unscored.add(key)


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
        self._tiers: dict[str, StoredTier] = {}
        self._tier_changes: dict[tuple[int, int], ValueTierChanged] = {}
        self._scores: dict[str, ClvScore] = {}
        self._fits: dict[datetime, FittedModels] = {}
        self.warning_steps: dict[tuple[str, str, datetime], ChurnWarningEvent] = {}
        self.complaints: dict[str, tuple[ComplaintRecord, ...]] = {}

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
        for key in diff.untiered:
            self._tiers.pop(key, None)
        self._tiers.update({key: stored_tier(*pair) for key, pair in diff.tiers.items()})
        self._tier_changes.update(diff.tier_changes)
        for key in diff.unscored:
            self._scores.pop(key, None)
        self._scores.update({key: score for key, (score, _) in diff.scores.items()})
        self._fits.update(diff.fits)
        self.warning_steps.update(diff.warning_steps)
        self.complaints.update(diff.complaints)
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

    def tier_of(self, customer_id: str) -> StoredTier | None:
        return self._tiers.get(customer_id)

    def tier_changes_of(self, customer_id: str) -> list[ValueTierChanged]:
        return [c for _, c in sorted(self._tier_changes.items()) if c.customer_id == customer_id]

    def clv_of(self, customer_id: str) -> ClvScore | None:
        return self._scores.get(customer_id)

    def clv_fits(self) -> list[FittedModels]:
        return [self._fits[at] for at in sorted(self._fits)]

    def close(self) -> None:
        pass


def stored_stage(change: LoyaltyStageChanged, offset: int) -> StoredStage:
    """What a store holds for the current-stage record ``change`` read at ``offset``."""
    return StoredStage(
        change.to_stage, change.reason, change.occurred_at, change.trigger_event_id, offset
    )


def stored_tier(change: ValueTierChanged, offset: int) -> StoredTier:
    """What a store holds for the current-tier record ``change`` (``to_tier`` set) read at
    ``offset``."""
    assert change.to_tier is not None  # decode_tier_record makes a cleared tier TierCleared
    return StoredTier(change.to_tier, change.value_minor, change.rank, change.population, offset)
