"""Records of value-tiers, value-tier-changes, clv-scores and clv-fits as the materializer
reads them: what decodes, and what is refused (ValueRecordError) to be stepped over."""

from __future__ import annotations

import json

import pytest

from projections.value_records import (
    ClvScore,
    CurrentTier,
    ScoreCleared,
    TierChange,
    TierCleared,
    ValueRecordError,
    decode_clv_fit_record,
    decode_clv_record,
    decode_tier_change_record,
    decode_tier_record,
)
from projections.value_tiers import Tier
from tests.unit.test_projection_store_contract import a_fit, a_score, a_tier_change


def test_a_current_tier_and_a_tier_change_decode_to_the_change() -> None:
    change = a_tier_change("C1", Tier.VIP, 9000, 1, 120, from_tier=Tier.KEY)
    assert decode_tier_record(change.to_json(), b"C1") == CurrentTier(change)
    assert decode_tier_change_record(change.to_json(), b"C1") == TierChange(change)


def test_a_tier_tombstone_or_a_change_to_no_tier_clears_the_tier() -> None:
    assert decode_tier_record(None, b"C1") == TierCleared("C1")
    left = a_tier_change("C1", None, 10, None, 5, from_tier=Tier.SMALL)
    assert decode_tier_record(left.to_json(), b"C1") == TierCleared("C1")


def test_a_score_round_trips_and_its_tombstone_names_the_customer() -> None:
    score = a_score("C7", clv=None)
    assert decode_clv_record(score.to_json(), b"C7") == score
    assert score.fitted_at.utcoffset() is not None and score.clv_minor is None
    assert decode_clv_record(None, b"C7") == ScoreCleared("C7")


def test_a_fit_round_trips() -> None:
    fit = a_fit(30)
    assert decode_clv_fit_record(fit.models.to_json().encode(), b"clv") == fit


def score_body(**changed: object) -> bytes:
    body = {**a_score("C1").to_dict(), **changed}
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (b"{not json", b"C1"),
        (score_body(type="clv_fit"), b"C1"),
        (score_body(version=2), b"C1"),
        (score_body(), b"C2"),  # the key is not its customer
        (score_body(fitted_at="2025-01-01T00:00:00"), b"C1"),  # no offset
        (score_body(p_alive=True), b"C1"),
        (score_body(p_alive=float("nan")), b"C1"),
        (score_body(horizon_months=12.5), b"C1"),
        (score_body(currency=None), b"C1"),
        (score_body(customer_id=""), None),
    ],
)
def test_bad_scores_are_refused(value: bytes, key: bytes | None) -> None:
    with pytest.raises(ValueRecordError):
        decode_clv_record(value, key)


def test_bad_tier_records_are_refused() -> None:
    change = a_tier_change("C1")
    with pytest.raises(ValueRecordError, match="differs"):
        decode_tier_record(change.to_json(), b"C2")
    with pytest.raises(ValueRecordError, match="null value"):
        decode_tier_change_record(None, b"C1")
    with pytest.raises(ValueRecordError, match="without a key"):
        decode_tier_record(None, None)
    with pytest.raises(ValueRecordError, match="BIGINT"):
        decode_tier_record(a_tier_change("C1", value=2**63).to_json(), b"C1")
    with pytest.raises(ValueRecordError):
        decode_tier_record(b'{"type": "value_tier_changed", "version": 1}', b"C1")


def test_bad_fits_are_refused() -> None:
    with pytest.raises(ValueRecordError):
        decode_clv_fit_record(None, b"clv")
    with pytest.raises(ValueRecordError):
        decode_clv_fit_record(b'{"format": "touchpoint.clv/2"}', b"clv")
    with pytest.raises(ValueRecordError):
        decode_clv_fit_record(b"\xff", b"clv")
    naive = json.loads(a_fit().models.to_json())
    naive["fitted_at"] = "2025-01-01T00:00:00"
    with pytest.raises(ValueRecordError):
        decode_clv_fit_record(json.dumps(naive).encode(), b"clv")


def test_a_score_to_dict_is_the_documented_record() -> None:
    assert list(a_score().to_dict()) == [
        "type", "version", "customer_id", "fitted_at", "p_alive", "expected_purchases_90d",
        "expected_spend_minor", "clv_minor", "currency", "horizon_months",
        "monthly_discount_rate",
    ]  # fmt: skip
    assert isinstance(a_score(), ClvScore)
