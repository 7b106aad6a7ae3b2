"""The codec: bytes <-> events, and how it refuses bad input (one named field at a time)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.codec import EventDecodeError, FieldError, decode, encode, seal_input
from schemas.touchpoints import EVENT_TYPES, PurchaseCompleted, Touchpoint
from tests.builders import (
    BUILDERS,
    DEFAULT_SEALER,
    T0,
    a_call,
    a_complaint,
    a_purchase,
    a_referral,
    a_registration,
    a_resolution,
    a_survey,
    a_visit,
    an_event,
    an_identity_link,
    sealed,
    without,
)
from tests.strategies import STRATEGIES, events

Raw = dict[str, Any]

# The wire contract: tag -> current version. Renaming a tag or bumping a version
# without an upcaster must fail here first.
CONTRACT = {
    "customer_registered": 1,
    "purchase_completed": 1,
    "visit_recorded": 1,
    "call_handled": 1,
    "complaint_filed": 1,
    "complaint_resolved": 1,
    "survey_answered": 2,
    "referral_made": 1,
    "identity_linked": 1,
}


def refusal(raw: Raw | bytes | str) -> EventDecodeError:
    """The error decoding ``raw`` (PII sealed first) raises; fails the test if it decodes."""
    data = raw if isinstance(raw, bytes | str) else json.dumps(seal_input(raw, DEFAULT_SEALER))
    with pytest.raises(EventDecodeError) as caught:
        decode(data)
    return caught.value


def fields(error: EventDecodeError) -> list[str]:
    return [e.field for e in error.errors]


# --- round trip ---------------------------------------------------------------


def test_the_contract_lists_every_event_type_at_its_current_version() -> None:
    versions = {tag: cls.model_fields["schema_version"].default for tag, cls in EVENT_TYPES.items()}
    assert versions == CONTRACT
    assert set(BUILDERS) == set(STRATEGIES) == set(CONTRACT)


@pytest.mark.parametrize("event_type", sorted(CONTRACT))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_decode_inverts_encode_for_every_valid_event(event_type: str, data: st.DataObject) -> None:
    event = data.draw(STRATEGIES[event_type])
    wire = encode(event)
    assert decode(wire) == event
    assert decode(wire.decode()) == event  # text is accepted as well as bytes
    assert encode(decode(wire)) == wire  # the encoding is canonical


@pytest.mark.parametrize("event_type", sorted(CONTRACT))
def test_every_builder_gives_a_valid_event_of_its_type(event_type: str) -> None:
    event = sealed(an_event(event_type))
    assert type(event) is EVENT_TYPES[event_type]
    assert event.schema_version == CONTRACT[event_type]


def test_a_purchase_decodes_to_what_was_written() -> None:
    event = sealed(a_purchase("C7", amount_minor=1999, at="2025-03-01T10:00:00+01:00"))
    assert isinstance(event, PurchaseCompleted)
    assert (event.customer_id, event.amount_minor, event.currency) == ("C7", 1999, "EUR")
    assert event.occurred_at.isoformat() == "2025-03-01T10:00:00+01:00"


def test_wire_format_leaves_nulls_out() -> None:
    wire = json.loads(encode(sealed(a_complaint(promised_by=None))))
    assert "promised_by" not in wire


def test_events_are_frozen() -> None:
    event = sealed(a_purchase(lines=[{"sku": "A1", "quantity": 1, "unit_price_minor": 1250}]))
    assert isinstance(event, PurchaseCompleted)
    with pytest.raises(ValidationError):
        event.amount_minor = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        event.lines[0].quantity = 2  # type: ignore[misc]
    assert isinstance(event.lines, tuple)


# --- one broken field, named --------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(event=events(), data=st.data())
def test_any_field_of_any_event_with_a_wrong_type_is_named(
    event: Touchpoint, data: st.DataObject
) -> None:
    raw = json.loads(encode(event))
    field = data.draw(st.sampled_from(sorted(type(event).model_fields)))
    raw[field] = [[]]  # no field of any event takes a list of lists
    error = refusal(json.dumps(raw))
    assert {e.field.split(".")[0] for e in error.errors} == {field}


@settings(max_examples=150, deadline=None)
@given(event=events(), data=st.data())
def test_any_required_field_of_any_event_left_out_is_named(
    event: Touchpoint, data: st.DataObject
) -> None:
    raw = json.loads(encode(event))
    required = {n for n, f in type(event).model_fields.items() if f.is_required()}
    field = data.draw(st.sampled_from(sorted(required | {"event_type", "schema_version"})))
    assert fields(refusal(json.dumps(without(raw, field)))) == [field]


@settings(max_examples=100, deadline=None)
@given(event=events(), extra=st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True))
def test_any_unknown_field_on_any_event_is_named(event: Touchpoint, extra: str) -> None:
    raw = json.loads(encode(event))
    if extra not in raw and extra not in type(event).model_fields:
        raw[extra] = "surprise"
        assert fields(refusal(json.dumps(raw))) == [extra]


Build = Callable[..., Raw]
TOO_LONG_ID = "C" * 65

MUTATIONS: list[tuple[str, Build, str, Any, str]] = [
    # (case, builder, field, bad value, a word the reason must contain)
    ("amount as text", a_purchase, "amount_minor", "12.50", "integer"),
    ("amount as bool", a_purchase, "amount_minor", True, "integer"),
    ("amount as float", a_purchase, "amount_minor", 12.5, "integer"),
    ("amount whole float", a_purchase, "amount_minor", 1250.0, "integer"),
    ("negative amount", a_purchase, "amount_minor", -1, "greater than"),
    ("amount too large", a_purchase, "amount_minor", 10**15 + 1, "less than"),
    ("lower-case currency", a_purchase, "currency", "eur", "pattern"),
    ("four-letter currency", a_purchase, "currency", "EURO", "pattern"),
    ("currency symbol", a_purchase, "currency", "€", "pattern"),
    ("e-mail as customer id", a_purchase, "customer_id", "alice@example.com", "pattern"),
    ("empty customer id", a_purchase, "customer_id", "", "pattern"),
    ("customer id too long", a_purchase, "customer_id", TOO_LONG_ID, "pattern"),
    ("customer id a number", a_purchase, "customer_id", 42, "string"),
    ("naive occurred_at", a_purchase, "occurred_at", "2025-03-01T10:00:00", "timezone"),
    ("naive recorded_at", a_purchase, "recorded_at", "2025-03-01T10:00:00", "timezone"),
    ("epoch occurred_at", a_purchase, "occurred_at", 1740823200, "ISO 8601"),
    ("date-time prose", a_purchase, "occurred_at", "yesterday", "datetime"),
    ("bad event id", a_purchase, "event_id", "not-a-uuid", "UUID"),
    ("unknown channel", a_purchase, "channel", "pigeon", "store"),
    ("empty source", a_purchase, "source", "", "at least 1"),
    ("newline in a code", a_purchase, "order_id", "O-1\nDROP", "pattern"),
    ("line quantity zero", a_purchase, "lines.0.quantity", 0, "greater than"),
    ("negative duration", a_call, "duration_seconds", -5, "greater than"),
    ("call over a week", a_call, "duration_seconds", 7 * 24 * 3600 + 1, "less than"),
    ("unknown outcome", a_call, "outcome", "maybe", "resolved"),
    ("unknown direction", a_call, "direction", "sideways", "inbound"),
    ("unknown severity", a_complaint, "severity", "apocalyptic", "critical"),
    ("naive promised_by", a_complaint, "promised_by", "2025-03-02T10:00:00", "timezone"),
    ("accepted as text", a_resolution, "accepted", "yes", "boolean"),
    ("score as text", a_survey, "score", "9", "integer"),
    ("score beyond any scale", a_survey, "score", 101, "less than"),
    ("e-mail as referred id", a_referral, "referred_customer_id", "bob@example.com", "pattern"),
    ("unknown identifier kind", an_identity_link, "identifier_kind", "passport", "email"),
    ("unknown segment", a_registration, "segment", "alien", "consumer"),
    ("visit page too long", a_visit, "page", "/" * 501, "at most 500"),
]


def _mutated(builder: Build, field: str, value: Any) -> Raw:
    raw: Raw = seal_input(builder(), DEFAULT_SEALER)
    if field == "lines.0.quantity":
        raw["lines"] = [{"sku": "A1", "quantity": value, "unit_price_minor": 100}]
    else:
        raw[field] = value
    return raw


@pytest.mark.parametrize(
    ("builder", "field", "value", "word"),
    [case[1:] for case in MUTATIONS],
    ids=[case[0] for case in MUTATIONS],
)
def test_one_bad_field_is_named_with_a_readable_reason(
    builder: Build, field: str, value: Any, word: str
) -> None:
    error = refusal(_mutated(builder, field, value))
    assert fields(error) == [field]
    assert word.lower() in error.errors[0].reason.lower()
    assert error.event_type == builder()["event_type"]
    assert str(error).startswith(f"invalid {error.event_type} event: {field}: ")


@pytest.mark.parametrize(
    "field",
    [
        *("event_id", "customer_id", "occurred_at", "recorded_at", "channel", "source"),
        *("order_id", "amount_minor", "currency"),
    ],
)
def test_a_missing_required_field_is_named(field: str) -> None:
    error = refusal(without(a_purchase(), field))
    assert error.errors == (FieldError(field, "Field required"),)


def test_an_unknown_extra_field_is_named() -> None:
    error = refusal(a_purchase(discount_minor=100))
    assert fields(error) == ["discount_minor"]


def test_a_broken_sealed_value_names_the_path_inside_it() -> None:
    raw = a_registration(email={"key_id": "C1#1", "nonce": "AAAAAAAAAAAAAAAA"})
    assert fields(refusal(raw)) == ["email.ciphertext"]


def test_a_bad_compensation_names_the_nested_field() -> None:
    raw = a_resolution(compensation={"amount_minor": -500, "currency": "EUR"})
    assert fields(refusal(raw)) == ["compensation.amount_minor"]


def test_several_bad_fields_are_all_named() -> None:
    error = refusal(a_purchase(amount_minor=-1, currency="eur"))
    assert sorted(fields(error)) == ["amount_minor", "currency"]


# --- records that are not events at all ---------------------------------------


@pytest.mark.parametrize("data", [b"{not json", b"", b"\xff\xfe{", "{'single': 'quotes'}"])
def test_not_json_is_refused_as_a_whole(data: bytes | str) -> None:
    error = refusal(data)
    assert fields(error) == ["$"]
    assert "JSON" in error.errors[0].reason


@pytest.mark.parametrize("data", [b"[1, 2]", b'"purchase"', b"42", b"null", b"true"])
def test_json_that_is_not_an_object_is_refused(data: bytes) -> None:
    error = refusal(data)
    assert fields(error) == ["$"]
    assert "object" in error.errors[0].reason


def test_an_unknown_event_type_is_refused_listing_the_known_ones() -> None:
    error = refusal(a_purchase(event_type="purchase_refunded"))
    assert fields(error) == ["event_type"]
    assert "purchase_refunded" in error.errors[0].reason
    for tag in CONTRACT:
        assert tag in error.errors[0].reason


@pytest.mark.parametrize("event_type", [None, 42, ["purchase_completed"]])
def test_a_missing_or_non_text_event_type_is_refused(event_type: Any) -> None:
    raw = a_purchase(event_type=event_type) if event_type else without(a_purchase(), "event_type")
    assert fields(refusal(raw)) == ["event_type"]


def test_a_version_newer_than_this_reader_is_refused_naming_both_versions() -> None:
    error = refusal(a_purchase(schema_version=7))
    assert fields(error) == ["schema_version"]
    assert "7" in error.errors[0].reason
    assert str(CONTRACT["purchase_completed"]) in error.errors[0].reason


@pytest.mark.parametrize("version", ["missing", None, 0, -1, "1", 1.5, True])
def test_a_missing_or_malformed_version_is_refused(version: Any) -> None:
    raw = without(a_purchase(), "schema_version")
    if version != "missing":
        raw["schema_version"] = version
    assert fields(refusal(raw)) == ["schema_version"]


# --- rules over several fields ------------------------------------------------

CROSS_FIELD: list[tuple[str, Raw, str]] = [
    # (case, record, the field blamed)
    ("visit nowhere", a_visit(location=None, page=None), "location"),
    (
        "deadline before filing",
        a_complaint(at="2025-03-10T10:00:00+00:00", promised_by="2025-03-09T10:00:00+00:00"),
        "promised_by",
    ),
    (
        "deadline later on the wall clock, earlier in time",
        a_complaint(at="2025-03-10T10:00:00+00:00", promised_by="2025-03-10T10:30:00+01:00"),
        "promised_by",
    ),
    ("score under the scale", a_survey(score=0, scale=(1, 5)), "score"),
    ("score over the scale", a_survey(score=6, scale=(1, 5)), "score"),
    ("expectation over the scale", a_survey(score=3, scale=(1, 5), expectation=6), "expectation"),
    (
        "perceived value under",
        a_survey(score=3, scale=(1, 5), perceived_value=0),
        "perceived_value",
    ),
    ("empty scale", a_survey(score=5, scale=(5, 5)), "scale_max"),
    ("upside-down scale", a_survey(score=5, scale=(10, 0)), "scale_max"),
    ("referral to self", a_referral("C1", referred="C1"), "referred_customer_id"),
    ("email link without identifier", an_identity_link(identifier=None), "identifier"),
    (
        "email link with a customer id too",
        an_identity_link(linked_customer_id="C2"),
        "linked_customer_id",
    ),
    (
        "customer link without the id",
        without(an_identity_link("C1", "C2", kind="customer_id"), "linked_customer_id"),
        "linked_customer_id",
    ),
    (
        "customer link with an identifier too",
        an_identity_link("C1", "C2", kind="customer_id") | {"identifier": "bob@example.com"},
        "identifier",
    ),
    (
        "customer linked to self",
        an_identity_link("C1", "C1", kind="customer_id"),
        "linked_customer_id",
    ),
]


@pytest.mark.parametrize(
    ("raw", "field"), [c[1:] for c in CROSS_FIELD], ids=[c[0] for c in CROSS_FIELD]
)
def test_a_broken_cross_field_rule_names_the_field_to_fix(raw: Raw, field: str) -> None:
    error = refusal(raw)
    assert fields(error) == [field]
    assert error.errors[0].reason


def test_an_identifier_without_fingerprint_is_refused() -> None:
    # sealed without an identifier kind, so it carries no fingerprint to match on
    value = DEFAULT_SEALER.seal("C1", "alice@example.com").model_dump(exclude_none=True)
    assert fields(refusal(an_identity_link(identifier=value))) == ["identifier"]


@pytest.mark.parametrize(
    "raw",
    [
        a_visit(location="store-1", page=None),
        a_visit(location=None, page="/offers"),
        a_complaint(at="2025-03-10T10:00:00+00:00", promised_by="2025-03-10T10:00:00+00:00"),
        a_complaint(at="2025-03-10T10:00:00+00:00", promised_by="2025-03-10T12:30:00+01:00"),
        a_survey(score=1, scale=(1, 5)),
        a_survey(score=5, scale=(1, 5)),
        a_survey(score=-2, scale=(-3, 3)),
        an_identity_link("C1", "C2", kind="customer_id"),
        an_identity_link("C1", "+49 151 2345678", kind="phone"),
        an_identity_link("C1", "4111 1111 1111 1111", kind="card"),
    ],
)
def test_the_edges_of_each_cross_field_rule_are_accepted(raw: Raw) -> None:
    assert sealed(raw).customer_id == "C1"


def test_a_survey_with_the_default_time_is_at_t0() -> None:
    assert sealed(a_survey()).occurred_at.isoformat() == T0
