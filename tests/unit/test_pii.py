"""Personal data: sealed per customer, matchable by fingerprint, erasable by key destruction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag

from schemas.codec import EventDecodeError, decode, encode, seal_input
from schemas.pii import InMemoryKeyVault, PiiSealer, Sealed, customer_key_id
from schemas.touchpoints import CustomerRegistered, IdentityLinked, SurveyAnswered
from tests.builders import (
    TEST_PEPPER,
    a_purchase,
    a_registration,
    a_sealer,
    a_survey,
    an_identity_link,
    sealed,
)

NAME, EMAIL, PHONE = "Alice Example", "alice@example.com", "+49 151 2345678"


def registered(customer: str = "C1", sealer: PiiSealer | None = None) -> CustomerRegistered:
    event = sealed(a_registration(customer, name=NAME, email=EMAIL, phone=PHONE), sealer)
    assert isinstance(event, CustomerRegistered)
    return event


def clear_text_forms(value: str) -> list[str]:
    """The value and the spellings a leak might take (case, digits only)."""
    digits = "".join(c for c in value if c.isdigit())
    return [value, value.lower(), value.upper()] + ([digits] if len(digits) > 6 else [])


# --- sealing -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "secrets"),
    [
        (a_registration(name=NAME, email=EMAIL, phone=PHONE), [NAME, EMAIL, PHONE]),
        (a_survey(comment="Call me on +49 151 2345678, Alice"), ["Call me on", PHONE]),
        (an_identity_link(identifier="Alice@Example.com"), ["Alice@Example.com"]),
        (an_identity_link(identifier="4111 1111 1111 1111", kind="card"), ["4111 1111"]),
    ],
    ids=["registration", "survey comment", "linked e-mail", "linked card"],
)
def test_seal_input_leaves_no_clear_text_anywhere(raw: dict[str, Any], secrets: list[str]) -> None:
    sealer = a_sealer()
    record = json.dumps(seal_input(raw, sealer))
    wire = encode(sealed(raw, sealer)).decode()
    for secret in secrets:
        for form in clear_text_forms(secret):
            assert form not in record
            assert form not in wire


def test_open_returns_the_clear_text() -> None:
    sealer = a_sealer()
    event = registered("C1", sealer)
    assert event.name and event.email and event.phone
    assert sealer.open("C1", event.name) == NAME
    assert sealer.open("C1", event.email) == EMAIL  # as given, not normalized
    assert sealer.open("C1", event.phone) == PHONE


def test_seal_input_does_not_change_its_argument() -> None:
    raw = a_registration(email=EMAIL)
    seal_input(raw, a_sealer())
    assert raw["email"] == EMAIL


def test_the_same_value_seals_differently_each_time_but_fingerprints_the_same() -> None:
    sealer = a_sealer()
    first, second = (sealer.seal("C1", EMAIL, "email") for _ in range(2))
    assert first.ciphertext != second.ciphertext
    assert first.nonce != second.nonce
    assert first.fingerprint == second.fingerprint


def test_values_are_sealed_under_the_customers_own_key() -> None:
    event = registered("C42")
    assert event.email is not None and event.email.key_id == customer_key_id("C42")


def test_already_sealed_values_pass_through_untouched() -> None:
    sealer = a_sealer()
    once = seal_input(a_registration(), sealer)
    assert seal_input(once, sealer) == once


def test_sealed_and_clear_values_mix_in_one_record() -> None:
    sealer = a_sealer()
    email = sealer.seal("C1", EMAIL, "email").model_dump(exclude_none=True)
    raw = a_registration(email=email, phone=PHONE)
    out = seal_input(raw, sealer)
    assert out["email"] == email
    assert isinstance(out["phone"], dict)
    assert sealer.open("C1", Sealed.model_validate(out["phone"])) == PHONE


@pytest.mark.parametrize("record", [[1, 2], "text", None, {"event_type": "unknown_thing"}])
def test_seal_input_leaves_records_it_cannot_read_alone(record: Any) -> None:
    assert seal_input(record, a_sealer()) == record


def test_records_without_personal_fields_are_left_as_they_are() -> None:
    raw = a_purchase()
    assert seal_input(raw, a_sealer()) == raw


# --- erasure (crypto-shredding) and binding -------------------------------------


def test_destroying_the_key_erases_the_customer() -> None:
    vault = InMemoryKeyVault()
    sealer = PiiSealer(vault, TEST_PEPPER)
    alice, bob = registered("C1", sealer), registered("C2", sealer)
    vault.destroy(customer_key_id("C1"))
    assert alice.email is not None and bob.email is not None
    assert sealer.open("C1", alice.email) is None
    assert sealer.open("C2", bob.email) == EMAIL  # other customers are untouched


def test_after_erasure_the_event_still_decodes_but_its_pii_is_unreadable() -> None:
    vault = InMemoryKeyVault()
    sealer = PiiSealer(vault, TEST_PEPPER)
    wire = encode(registered("C1", sealer))
    vault.destroy(customer_key_id("C1"))
    event = decode(wire)
    assert isinstance(event, CustomerRegistered) and event.name is not None
    assert sealer.open("C1", event.name) is None


def test_no_new_data_is_sealed_under_an_erased_customer() -> None:
    vault = InMemoryKeyVault()
    sealer = PiiSealer(vault, TEST_PEPPER)
    sealer.seal("C1", NAME)
    vault.destroy(customer_key_id("C1"))
    with pytest.raises(PermissionError):
        sealer.seal("C1", NAME)


def test_a_value_sealed_for_one_customer_cannot_be_opened_as_another() -> None:
    sealer = a_sealer()
    alice = registered("C1", sealer)
    registered("C2", sealer)  # C2 has a key of its own
    assert alice.email is not None
    with pytest.raises(InvalidTag):
        sealer.open("C2", alice.email)


def test_a_tampered_ciphertext_cannot_be_opened() -> None:
    sealer = a_sealer()
    good = sealer.seal("C1", EMAIL)
    flipped = ("B" if good.ciphertext[0] == "A" else "A") + good.ciphertext[1:]
    with pytest.raises(InvalidTag):
        sealer.open("C1", good.model_copy(update={"ciphertext": flipped}))


def test_the_pepper_must_not_be_trivially_short() -> None:
    with pytest.raises(ValueError):
        PiiSealer(InMemoryKeyVault(), b"short")


# --- fingerprints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "one", "other"),
    [
        ("email", "Alice@Example.com ", "alice@example.com"),
        ("email", "  ALICE@EXAMPLE.COM", "alice@example.com"),
        ("phone", "+49 151 234", "+49151234"),
        ("phone", "+49 (151) 234-0", "+491512340"),
        ("card", "4111 1111 1111 1111", "4111-1111-1111-1111"),
    ],
)
def test_equal_identifiers_fingerprint_equally(kind: Any, one: str, other: str) -> None:
    sealer = a_sealer()
    assert sealer.fingerprint(kind, one) == sealer.fingerprint(kind, other)


@pytest.mark.parametrize(
    ("kind", "one", "other"),
    [
        ("email", "alice@example.com", "alice@example.org"),
        ("phone", "+49151234", "+49151235"),
        ("card", "4111111111111111", "4111111111111112"),
    ],
)
def test_different_identifiers_fingerprint_differently(kind: Any, one: str, other: str) -> None:
    sealer = a_sealer()
    assert sealer.fingerprint(kind, one) != sealer.fingerprint(kind, other)


def test_fingerprints_depend_on_the_pepper() -> None:
    ours, theirs = a_sealer(), a_sealer(pepper=b"another-pipeline-pepper")
    assert ours.fingerprint("email", EMAIL) != theirs.fingerprint("email", EMAIL)


def test_fingerprints_are_not_the_plain_hash_of_the_value() -> None:
    print_ = a_sealer().fingerprint("email", EMAIL)
    assert len(print_) == 32 and EMAIL not in print_


def test_a_linked_email_matches_the_registered_one_across_customers() -> None:
    sealer = a_sealer()
    reg = registered("C1", sealer)
    link = sealed(an_identity_link("C9", "  Alice@EXAMPLE.com"), sealer)
    assert isinstance(link, IdentityLinked) and link.identifier is not None
    assert reg.email is not None
    assert link.identifier.fingerprint == reg.email.fingerprint


def test_names_and_free_text_get_no_fingerprint() -> None:
    sealer = a_sealer()
    reg = registered("C1", sealer)
    survey = sealed(a_survey(comment="great"), sealer)
    assert isinstance(survey, SurveyAnswered) and survey.comment is not None
    assert reg.name is not None and reg.name.fingerprint is None
    assert survey.comment.fingerprint is None


# --- records too broken to seal ----------------------------------------------------


@pytest.mark.parametrize("customer", ["alice@example.com", "", None])
def test_pii_of_a_record_without_a_valid_customer_id_is_redacted(customer: Any) -> None:
    raw = a_registration(email=EMAIL, name=NAME, phone=PHONE, customer_id=customer)
    out = seal_input(raw, a_sealer())
    text = json.dumps({k: v for k, v in out.items() if k != "customer_id"})
    for secret in (NAME, EMAIL, PHONE):
        assert secret not in text
    with pytest.raises(EventDecodeError) as caught:
        decode(json.dumps(out))
    assert "customer_id" in [e.field for e in caught.value.errors]
    assert NAME not in str(caught.value) and PHONE not in str(caught.value)


def test_clear_text_for_an_erased_customer_is_redacted_and_refused() -> None:
    from schemas import EventDecodeError, InMemoryKeyVault, PiiSealer, decode_obj
    from schemas.codec import seal_input
    from schemas.pii import customer_key_id

    vault = InMemoryKeyVault()
    sealer = PiiSealer(vault, b"pepper-for-erasure")
    vault.destroy(customer_key_id("C9"))
    raw = {
        "event_id": "00000000-0000-4000-8000-000000000009",
        "event_type": "customer_registered",
        "schema_version": 1,
        "customer_id": "C9",
        "occurred_at": "2025-03-01T10:00:00+00:00",
        "recorded_at": "2025-03-01T10:00:00+00:00",
        "channel": "web",
        "source": "web-shop",
        "email": "gone@example.com",
    }

    prepared = seal_input(raw, sealer)

    assert "gone@example.com" not in str(prepared)
    with pytest.raises(EventDecodeError) as caught:
        decode_obj(prepared)
    assert [e.field for e in caught.value.errors] == ["email"]
