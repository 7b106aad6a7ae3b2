"""The loyalty topics' records as the materializer decodes them (projections/loyalty_records.py)."""

from __future__ import annotations

import pytest

from projections.loyalty import Stage
from projections.loyalty_records import (
    CurrentStage,
    LoyaltyRecordError,
    StageCleared,
    StageTransition,
    decode_stage_record,
    decode_transition_record,
)
from tests.unit.test_projection_store_contract import a_change


def test_a_stage_record_is_the_change_that_set_the_current_stage() -> None:
    change = a_change("C1", day=4, to_stage=Stage.LOYAL, from_stage=Stage.REPEAT_BUYER)
    record = decode_stage_record(change.to_json(), b"C1")
    assert record == CurrentStage(change)
    assert record.customer_id == "C1"


def test_a_stage_tombstone_names_its_customer_by_the_key() -> None:
    assert decode_stage_record(None, b"C7") == StageCleared("C7")
    with pytest.raises(LoyaltyRecordError, match="without a key"):
        decode_stage_record(None, None)


def test_a_transition_is_keyed_by_customer_and_instant() -> None:
    change = a_change("C1", day=2, trigger=None)
    record = decode_transition_record(change.to_json(), "C1")
    assert record == StageTransition(change)
    assert record.key == ("C1", change.occurred_at)


@pytest.mark.parametrize(
    ("value", "key", "message"),
    [
        (b"{not json", b"C1", "not a loyalty_stage_changed record"),
        (b"[1, 2]", b"C1", "not a loyalty_stage_changed record"),
        (b'{"type": "customer_view", "version": 1}', b"C1", "not a loyalty_stage_changed"),
        (a_change("C1").to_json().replace(b'"version":1', b'"version":2'), b"C1", "v1"),
        (a_change("C1").to_json().replace(b"first_time_buyer", b"vip"), b"C1", "vip"),
        (a_change("C1").to_json().replace(b"+00:00", b""), b"C1", "no UTC offset"),
        (a_change("C1").to_json(), b"C2", "differs from customer_id"),
        (a_change("C1").to_json(), b"\xff", "not UTF-8"),
        (None, b"C1", "null value"),
    ],
)
def test_what_cannot_be_used_is_refused_with_the_reason(
    value: bytes | None, key: bytes, message: str
) -> None:
    with pytest.raises(LoyaltyRecordError, match=message):
        decode_transition_record(value, key)
