"""Hypothesis strategies for random *valid* events of every type.

Built from the models' declared constraints (patterns, bounds, cross-field
rules), not from running the code: if a strategy and a model disagree, the
round-trip and JSON Schema properties fail and say which.

May import: hypothesis, schemas, stdlib.
"""

from __future__ import annotations

import base64
import string
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from schemas.envelope import Channel
from schemas.pii import Sealed
from schemas.touchpoints import (
    CallHandled,
    ComplaintFiled,
    ComplaintResolved,
    CustomerRegistered,
    IdentityLinked,
    Money,
    OrderLine,
    PurchaseCompleted,
    ReferralMade,
    SurveyAnswered,
    Touchpoint,
    VisitRecorded,
)

customer_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}", fullmatch=True)

# Code is ^[\w.:\-/ ]+$; letters that every regex engine counts as \w keep the
# Rust (pydantic) and Python (jsonschema) readings of \w in agreement.
codes = st.text(
    string.ascii_letters + string.digits + "_.:-/ äöüßéñøçå中文字", min_size=1, max_size=64
)
currencies = st.from_regex(r"[A-Z]{3}", fullmatch=True)
minor_units = st.integers(min_value=0, max_value=10**15)
seconds = st.integers(min_value=0, max_value=7 * 24 * 3600)
scores = st.integers(min_value=-100, max_value=100)

# Whole-minute offsets from -14:00 to +14:00: what RFC 3339 can spell.
offsets = st.builds(
    lambda minutes: UTC if minutes == 0 else timezone(timedelta(minutes=minutes)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
)

_b64 = st.binary(min_size=1, max_size=64).map(lambda b: base64.b64encode(b).decode())
fingerprints = st.text("0123456789abcdef", min_size=32, max_size=32)


def sealed_values(fingerprint: st.SearchStrategy[str | None] | None = None) -> Any:
    """Sealed PII values (structurally valid; the ciphertext is random bytes)."""
    return st.builds(
        Sealed,
        key_id=st.text(min_size=1, max_size=80),
        nonce=st.binary(min_size=12, max_size=12).map(lambda b: base64.b64encode(b).decode()),
        ciphertext=_b64,
        fingerprint=fingerprint if fingerprint is not None else st.none() | fingerprints,
    )


def envelopes() -> Any:
    """Keyword arguments for the envelope fields (event_type/version come from the class)."""
    return st.fixed_dictionaries(
        {
            "event_id": st.uuids(),
            "customer_id": customer_ids,
            "occurred_at": aware_datetimes,
            "recorded_at": aware_datetimes,
            "channel": st.sampled_from(Channel),
            "source": st.text(min_size=1, max_size=100),
        }
    )


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def registrations() -> Any:
    return st.builds(
        lambda env, **kw: CustomerRegistered(**env, **kw),
        envelopes(),
        segment=st.sampled_from(["consumer", "business"]),
        name=_optional(sealed_values()),
        email=_optional(sealed_values()),
        phone=_optional(sealed_values()),
        region=_optional(codes),
    )


order_lines = st.builds(
    OrderLine,
    sku=codes,
    category=_optional(codes),
    quantity=st.integers(min_value=1, max_value=1_000_000),
    unit_price_minor=minor_units,
)


def purchases() -> Any:
    return st.builds(
        lambda env, **kw: PurchaseCompleted(**env, **kw),
        envelopes(),
        order_id=codes,
        amount_minor=minor_units,
        currency=currencies,
        lines=st.lists(order_lines, max_size=3).map(tuple),
        store_id=_optional(codes),
    )


@st.composite
def visits(draw: st.DrawFn) -> VisitRecorded:
    location = draw(_optional(codes))
    page_text = st.text(max_size=500)
    page = draw(page_text if location is None else _optional(page_text))
    return VisitRecorded(
        **draw(envelopes()),
        location=location,
        page=page,
        duration_seconds=draw(_optional(seconds)),
    )


def calls() -> Any:
    return st.builds(
        lambda env, **kw: CallHandled(**env, **kw),
        envelopes(),
        direction=st.sampled_from(["inbound", "outbound"]),
        reason=codes,
        duration_seconds=seconds,
        outcome=st.sampled_from(
            ["resolved", "unresolved", "callback_scheduled", "transferred", "no_answer"]
        ),
        complaint_id=_optional(codes),
    )


@st.composite
def complaints(draw: st.DrawFn) -> ComplaintFiled:
    env = draw(envelopes())
    promised_by = None
    if draw(st.booleans()):
        # at or after filing, possibly written in another offset
        later = env["occurred_at"] + draw(st.timedeltas(timedelta(0), timedelta(days=90)))
        promised_by = later.astimezone(draw(offsets))
    return ComplaintFiled(
        **env,
        complaint_id=draw(codes),
        category=draw(codes),
        severity=draw(st.sampled_from(["low", "medium", "high", "critical"])),
        promised_by=promised_by,
    )


def resolutions() -> Any:
    return st.builds(
        lambda env, **kw: ComplaintResolved(**env, **kw),
        envelopes(),
        complaint_id=codes,
        resolution=codes,
        accepted=_optional(st.booleans()),
        compensation=_optional(st.builds(Money, amount_minor=minor_units, currency=currencies)),
    )


@st.composite
def surveys(draw: st.DrawFn) -> SurveyAnswered:
    low, high = sorted(draw(st.lists(scores, min_size=2, max_size=2, unique=True)))
    on_scale = st.integers(min_value=low, max_value=high)
    return SurveyAnswered(
        **draw(envelopes()),
        survey_id=draw(_optional(codes)),
        score=draw(on_scale),
        scale_min=low,
        scale_max=high,
        expectation=draw(_optional(on_scale)),
        perceived_quality=draw(_optional(on_scale)),
        perceived_value=draw(_optional(on_scale)),
        comment=draw(_optional(sealed_values())),
    )


@st.composite
def referrals(draw: st.DrawFn) -> ReferralMade:
    env = draw(envelopes())
    referred = draw(customer_ids.filter(lambda c: c != env["customer_id"]))
    return ReferralMade(**env, referred_customer_id=referred)


@st.composite
def identity_links(draw: st.DrawFn) -> IdentityLinked:
    env = draw(envelopes())
    kind = draw(st.sampled_from(["email", "phone", "card", "customer_id"]))
    if kind == "customer_id":
        other = draw(customer_ids.filter(lambda c: c != env["customer_id"]))
        return IdentityLinked(**env, identifier_kind=kind, linked_customer_id=other)
    identifier = draw(sealed_values(fingerprint=fingerprints))
    return IdentityLinked(**env, identifier_kind=kind, identifier=identifier)


STRATEGIES: dict[str, Any] = {
    "customer_registered": registrations(),
    "purchase_completed": purchases(),
    "visit_recorded": visits(),
    "call_handled": calls(),
    "complaint_filed": complaints(),
    "complaint_resolved": resolutions(),
    "survey_answered": surveys(),
    "referral_made": referrals(),
    "identity_linked": identity_links(),
}


def events() -> st.SearchStrategy[Touchpoint]:
    """A random valid event of any type."""
    return st.one_of(*STRATEGIES.values())
