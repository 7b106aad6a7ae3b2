"""The customer-views record contract: what the worker encodes, the materializer decodes."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.customer_view import VIEW_COLUMNS, CustomerView, fold, initial, view, view_row
from projections.view_records import (
    AliasRecord,
    Tombstone,
    ViewRecord,
    ViewRecordError,
    decode_view_record,
    encode_alias_record,
    encode_view_record,
)
from schemas.touchpoints import TouchpointEvent
from tests.builders import a_complaint, a_purchase, days_after, eid, sealed
from tests.unit.test_customer_view_properties import CUSTOMER, customer_events

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


def a_view() -> CustomerView:
    events = [
        sealed(a_purchase("C7", 4599, days_after(0))),
        sealed(a_complaint("C7", days_after(1), promised_by=days_after(3))),
    ]
    return view(fold(initial("C7"), events), AS_OF)


def body_of(value: bytes) -> dict[str, Any]:
    decoded = json.loads(value)
    assert isinstance(decoded, dict)
    return decoded


def test_a_view_record_is_the_documented_json() -> None:
    body = body_of(encode_view_record(a_view()))
    assert (body["type"], body["version"], body["customer_id"]) == ("customer_view", 1, "C7")
    assert list(body["row"]) == [name for name, _, _ in VIEW_COLUMNS]
    assert body["row"]["as_of"] == "2025-06-01T00:00:00+00:00"
    assert body["row"]["channels"] == ["phone", "store"]
    assert body["view"]["purchases"]["total_spend_minor"] == 4599
    assert body["view"]["complaints"]["open"][0]["complaint_id"] == "K1"
    assert body["view"]["timeline"][0]["event_type"] == "complaint_filed"
    assert {f.name for f in dataclasses.fields(CustomerView)} == set(body["view"])


def test_a_view_record_decodes_to_the_row_of_the_view() -> None:
    the_view = a_view()
    record = decode_view_record(encode_view_record(the_view), b"C7")
    assert isinstance(record, ViewRecord)
    assert record.customer_id == "C7"
    assert record.row == view_row(the_view)
    assert record.view == body_of(encode_view_record(the_view))["view"]


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(events=st.lists(customer_events(), max_size=15))
def test_any_view_round_trips(events: list[TouchpointEvent]) -> None:
    the_view = view(fold(initial(CUSTOMER), events), AS_OF)
    record = decode_view_record(encode_view_record(the_view), CUSTOMER)
    assert isinstance(record, ViewRecord)
    assert record.row == view_row(the_view)


def test_an_alias_record_round_trips() -> None:
    value = encode_alias_record("C123", "C045", eid("link"))
    assert body_of(value) == {
        "type": "customer_alias",
        "version": 1,
        "customer_id": "C123",
        "canonical_id": "C045",
        "caused_by": eid("link"),
    }
    assert decode_view_record(value, "C123") == AliasRecord("C123", "C045", eid("link"))


def test_a_null_value_is_a_tombstone_of_its_key() -> None:
    assert decode_view_record(None, b"C9") == Tombstone("C9")
    with pytest.raises(ViewRecordError, match="without a key"):
        decode_view_record(None)


def mangled(**changes: Any) -> bytes:
    body = body_of(encode_view_record(a_view()))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = body
        for parent in parents:
            target = target[parent]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (mangled(type="customer_mood"), "unknown record type 'customer_mood'"),
        (mangled(version=2), "customer_view record version 2 .this reader knows 1"),
        (mangled(row__event_count="6"), "column event_count: unexpected value '6'"),
        (mangled(row__as_of="2025-06-01T00:00:00"), "column as_of"),
        (mangled(row__channels=["web", 3]), "column channels"),
        (mangled(row__visits=True), "column visits"),
        (mangled(row__visits=...), r"missing \['visits'\]"),
        (mangled(row__shoe_size=44), r"extra \['shoe_size'\]"),
        (mangled(row__customer_id="C8"), "row is of 'C8'"),
        (mangled(view=[]), "must be JSON objects"),
        (mangled(customer_id=""), "customer_id must be a non-empty string"),
        (b"{not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (encode_alias_record("C1", "C1", "e"), "alias of itself"),
    ],
)
def test_what_cannot_be_used_is_refused_with_a_reason(value: bytes, message: str) -> None:
    with pytest.raises(ViewRecordError, match=message):
        decode_view_record(value)


def test_a_record_under_another_customers_key_is_refused() -> None:
    with pytest.raises(ViewRecordError, match="key 'C8' differs"):
        decode_view_record(encode_view_record(a_view()), b"C8")


def test_a_double_column_accepts_a_json_integer() -> None:
    record = decode_view_record(mangled(row__last_score=1))
    assert isinstance(record, ViewRecord)
    assert record.row["last_score"] == 1.0
    assert isinstance(record.row["last_score"], float)
