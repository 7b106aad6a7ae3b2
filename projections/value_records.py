"""Records of the value topics, as the materializer reads them.

Keyed by the customer id (UTF-8) unless said otherwise:

- ``value-tier-changes`` (history): every ``ValueTierChanged.to_json()``
  (projections/value_tiers.py) as ``TierChange``. A change carries no event
  time, so it is identified by where it was read: ``(partition, offset)``;
- ``value-tiers`` (compacted): the customer's latest ``ValueTierChanged``
  (``CurrentTier``), or null when the customer left the ranking (an identity
  merge: ``TierCleared``; a record whose ``to_tier`` is null means the same);
- ``clv-scores`` (compacted): ``ClvScore.to_json()`` (``ClvScore``), or null
  (``ScoreCleared``);
- ``clv-fits`` (history, key ``b"clv"``): ``FittedModels.to_json()``
  (projections/clv.py) as ``ClvFit``, identified by its ``fitted_at``.

Every decoder checks a record completely and raises ``ValueRecordError``
otherwise, so a reader can step over a malformed record.

May import: projections, stdlib.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from projections.value_tiers import ValueTierChanged

if TYPE_CHECKING:  # projections.clv pulls in scipy: imported when a fit is decoded
    from projections.clv import FittedModels

CLV_SCORE_TYPE = "clv_score"
CLV_SCORE_VERSION = 1
CLV_FIT_KEY = b"clv"
_BIGINT = 2**63  # value_minor and offsets are stored as BIGINT


class ValueRecordError(ValueError):
    """A value record this reader cannot use: malformed, or of another type or version."""


@dataclass(frozen=True, slots=True)
class CurrentTier:
    """A ``value-tiers`` record: the customer's latest change; ``change.to_tier`` is the tier."""

    change: ValueTierChanged

    @property
    def customer_id(self) -> str:
        return self.change.customer_id


@dataclass(frozen=True, slots=True)
class TierCleared:
    """A ``value-tiers`` tombstone: the customer left the ranking (merged into another)."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class TierChange:
    """A ``value-tier-changes`` record: one change of the customer's history."""

    change: ValueTierChanged

    @property
    def customer_id(self) -> str:
        return self.change.customer_id


@dataclass(frozen=True, slots=True)
class ClvScore:
    """A ``clv-scores`` record: the customer's scores from the fit of ``fitted_at``.

    ``expected_spend_minor`` and ``clv_minor`` are None when the customer has no
    repeat purchase to estimate spend from; money is in ``currency``, minor units.
    """

    customer_id: str
    fitted_at: datetime
    p_alive: float
    expected_purchases_90d: float
    expected_spend_minor: float | None
    clv_minor: float | None
    currency: str
    horizon_months: int
    monthly_discount_rate: float

    def to_dict(self) -> dict[str, object]:
        return {
            "type": CLV_SCORE_TYPE,
            "version": CLV_SCORE_VERSION,
            "customer_id": self.customer_id,
            "fitted_at": self.fitted_at.isoformat(),
            "p_alive": self.p_alive,
            "expected_purchases_90d": self.expected_purchases_90d,
            "expected_spend_minor": self.expected_spend_minor,
            "clv_minor": self.clv_minor,
            "currency": self.currency,
            "horizon_months": self.horizon_months,
            "monthly_discount_rate": self.monthly_discount_rate,
        }

    def to_json(self) -> bytes:
        """UTF-8 JSON of ``to_dict()`` (the value to publish, keyed by customer id)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class ScoreCleared:
    """A ``clv-scores`` tombstone: the customer has no score any more (merged away)."""

    customer_id: str


@dataclass(frozen=True, slots=True)
class ClvFit:
    """A ``clv-fits`` record: both models as fitted at ``models.fitted_at``."""

    models: FittedModels

    @property
    def fitted_at(self) -> datetime:
        return self.models.fitted_at


ValueRecord = CurrentTier | TierCleared | TierChange | ClvScore | ScoreCleared | ClvFit


def decode_tier_record(
    value: bytes | None, key: bytes | str | None = None
) -> CurrentTier | TierCleared:
    """The ``value-tiers`` record in ``value`` (null: a tombstone, named by ``key``)."""
    if value is None:
        return TierCleared(_required_key(key))
    change = decode_tier_change(value, key)
    return TierCleared(change.customer_id) if change.to_tier is None else CurrentTier(change)


def decode_tier_change_record(value: bytes | None, key: bytes | str | None = None) -> TierChange:
    """The ``value-tier-changes`` record in ``value`` (a history has no tombstones)."""
    if value is None:
        raise ValueRecordError("a null value on the tier change history means nothing")
    return TierChange(decode_tier_change(value, key))


def decode_tier_change(value: bytes, key: bytes | str | None = None) -> ValueTierChanged:
    """The ``ValueTierChanged`` in ``value``, checked against ``key`` when given."""
    try:
        change = ValueTierChanged.from_json(value)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueRecordError(f"not a value_tier_changed record: {exc!r}") from exc
    _check_customer(change.customer_id, key)
    if not -_BIGINT < change.value_minor < _BIGINT:
        raise ValueRecordError(f"value_minor {change.value_minor} does not fit in BIGINT")
    if change.population < 0 or (change.rank is not None and change.rank < 1):
        raise ValueRecordError(f"rank {change.rank} / population {change.population}")
    return change


def decode_clv_record(
    value: bytes | None, key: bytes | str | None = None
) -> ClvScore | ScoreCleared:
    """The ``clv-scores`` record in ``value`` (null: a tombstone, named by ``key``)."""
    if value is None:
        return ScoreCleared(_required_key(key))
    try:
        body = json.loads(value)
        if body.get("type") != CLV_SCORE_TYPE or body.get("version") != CLV_SCORE_VERSION:
            raise ValueError(f"not a {CLV_SCORE_TYPE} v{CLV_SCORE_VERSION} record")
        score = ClvScore(
            customer_id=_typed(body["customer_id"], str),
            fitted_at=datetime.fromisoformat(_typed(body["fitted_at"], str)),
            p_alive=_number(body["p_alive"]),
            expected_purchases_90d=_number(body["expected_purchases_90d"]),
            expected_spend_minor=_optional_number(body["expected_spend_minor"]),
            clv_minor=_optional_number(body["clv_minor"]),
            currency=_typed(body["currency"], str),
            horizon_months=_typed(body["horizon_months"], int),
            monthly_discount_rate=_number(body["monthly_discount_rate"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueRecordError(f"not a clv_score record: {exc!r}") from exc
    if score.fitted_at.utcoffset() is None:
        raise ValueRecordError(f"fitted_at {score.fitted_at} has no UTC offset")
    _check_customer(score.customer_id, key)
    return score


def decode_clv_fit_record(value: bytes | None, key: bytes | str | None = None) -> ClvFit:
    """The ``clv-fits`` record in ``value`` (the key, ``b"clv"``, names no customer)."""
    from projections.clv import FittedModels

    if value is None:
        raise ValueRecordError("a null value on the fit history means nothing")
    try:
        return ClvFit(FittedModels.from_json(value.decode()))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueRecordError(f"not a fitted-models record: {exc!r}") from exc


def _check_customer(customer_id: str, key: bytes | str | None) -> None:
    if not customer_id:
        raise ValueRecordError("customer_id is empty")
    customer_key = _text_key(key)
    if customer_key is not None and customer_key != customer_id:
        raise ValueRecordError(f"key {customer_key!r} differs from customer_id {customer_id!r}")


def _required_key(key: bytes | str | None) -> str:
    customer_key = _text_key(key)
    if not customer_key:
        raise ValueRecordError("a tombstone without a key names no customer")
    return customer_key


def _text_key(key: bytes | str | None) -> str | None:
    if isinstance(key, bytes):
        try:
            return key.decode()
        except UnicodeDecodeError as exc:
            raise ValueRecordError(f"key is not UTF-8: {key!r}") from exc
    return key


def _typed(value: Any, kind: type[Any]) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise TypeError(f"expected {kind.__name__}, got {value!r}")
    return value


def _number(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise TypeError(f"expected a finite number, got {value!r}")
    return float(value)


def _optional_number(value: object) -> float | None:
    return None if value is None else _number(value)
