"""Records of the two loyalty topics, as the materializer reads them.

Both are keyed by the customer id (UTF-8); a value is ``LoyaltyStageChanged.to_json()``
(projections/loyalty.py, docs/loyalty.md):

- ``loyalty-stages`` (compacted): the customer's latest change, whose ``to_stage``
  is the current stage (``CurrentStage``), or null when identity resolution merged
  the customer into another (``StageCleared``: the current stage goes, the history
  stays);
- ``loyalty-stage-changes`` (kept for ever): every change (``StageTransition``),
  identified by ``(customer_id, occurred_at)``, so a redelivered change is the
  same row again.

``decode_stage_record`` and ``decode_transition_record`` check a record
completely and raise ``LoyaltyRecordError`` otherwise, so a reader can step
over a malformed record instead of failing on it later.

May import: projections, stdlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from projections.loyalty import LoyaltyStageChanged


class LoyaltyRecordError(ValueError):
    """A loyalty record this reader cannot use: malformed, or of another type or version."""


@dataclass(frozen=True, slots=True)
class CurrentStage:
    """A ``loyalty-stages`` record: the latest change; ``change.to_stage`` is the stage now."""

    change: LoyaltyStageChanged

    @property
    def customer_id(self) -> str:
        return self.change.customer_id


@dataclass(frozen=True, slots=True)
class StageCleared:
    """A ``loyalty-stages`` tombstone: the customer was merged into another."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class StageTransition:
    """A ``loyalty-stage-changes`` record: one change of the customer's history."""

    change: LoyaltyStageChanged

    @property
    def customer_id(self) -> str:
        return self.change.customer_id

    @property
    def key(self) -> tuple[str, datetime]:
        """The natural key: a customer changes stage at most once per instant."""
        return (self.change.customer_id, self.change.occurred_at)


LoyaltyRecord = CurrentStage | StageCleared | StageTransition


def decode_stage_record(
    value: bytes | None, key: bytes | str | None = None
) -> CurrentStage | StageCleared:
    """The ``loyalty-stages`` record in ``value`` (null: a tombstone, named by ``key``)."""
    if value is None:
        customer_key = _text_key(key)
        if not customer_key:
            raise LoyaltyRecordError("a tombstone without a key names no customer")
        return StageCleared(customer_key)
    return CurrentStage(decode_change(value, key))


def decode_transition_record(
    value: bytes | None, key: bytes | str | None = None
) -> StageTransition:
    """The ``loyalty-stage-changes`` record in ``value`` (a history has no tombstones)."""
    if value is None:
        raise LoyaltyRecordError("a null value on the stage change history means nothing")
    return StageTransition(decode_change(value, key))


def decode_change(value: bytes, key: bytes | str | None = None) -> LoyaltyStageChanged:
    """The ``LoyaltyStageChanged`` in ``value``, checked against ``key`` when given."""
    try:
        change = LoyaltyStageChanged.from_json(value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise LoyaltyRecordError(f"not a loyalty_stage_changed record: {exc!r}") from exc
    if not change.customer_id:
        raise LoyaltyRecordError("customer_id is empty")
    if change.occurred_at.utcoffset() is None:
        raise LoyaltyRecordError(f"occurred_at {change.occurred_at} has no UTC offset")
    customer_key = _text_key(key)
    if customer_key is not None and customer_key != change.customer_id:
        raise LoyaltyRecordError(
            f"key {customer_key!r} differs from customer_id {change.customer_id!r}"
        )
    return change


def _text_key(key: bytes | str | None) -> str | None:
    if isinstance(key, bytes):
        try:
            return key.decode()
        except UnicodeDecodeError as exc:
            raise LoyaltyRecordError(f"key is not UTF-8: {key!r}") from exc
    return key
