"""Event factories for tests: ``given`` lists of touchpoints in a few words.

Each factory returns the raw *input* form of one event: a JSON-able dict as a
file or an import would carry it, with personal data in clear text. Turn it
into a model with ``sealed(raw)`` (seals the PII, then decodes), or into wire
bytes with ``as_json(raw)``. Keyword overrides replace any field; a value of
``None`` is written as JSON null (use ``without`` to drop a key).

Event ids are deterministic: uuid5 of a running number, or of a label given
as ``event_id=eid("p1")``, so a redelivery is spelled ``a_purchase(event_id=eid("p1"))``
twice.

May import: schemas, stdlib.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from schemas.codec import decode_obj, seal_input
from schemas.pii import InMemoryKeyVault, PiiSealer
from schemas.touchpoints import TouchpointEvent

Raw = dict[str, Any]
When = str | datetime
# A personal-data field: clear text, an already sealed value (a Sealed dict), or absent.
Pii = str | dict[str, Any] | None

T0 = "2025-03-01T10:00:00+00:00"
TEST_PEPPER = b"touchpoint-test-pepper"

_NAMESPACE = uuid.UUID("5b0c6f3e-6b7a-4d4e-9a53-7a1f3f0c2d11")
_serial = itertools.count(1)


def eid(label: str | int) -> str:
    """The event id for ``label``: the same label always gives the same id."""
    return str(uuid.uuid5(_NAMESPACE, str(label)))


def iso(when: When) -> str:
    """ISO 8601 text of a datetime (strings pass through untouched)."""
    return when.isoformat() if isinstance(when, datetime) else when


def days_after(days: float, start: When = T0) -> str:
    """The instant ``days`` after ``start`` (default T0), as ISO 8601 text."""
    base = start if isinstance(start, datetime) else datetime.fromisoformat(start)
    return (base + timedelta(days=days)).isoformat()


def a_sealer(pepper: bytes = TEST_PEPPER) -> PiiSealer:
    """A fresh sealer with its own in-memory vault (use one per erasure test)."""
    return PiiSealer(InMemoryKeyVault(), pepper)


DEFAULT_SEALER = a_sealer()


def sealed(raw: Raw, sealer: PiiSealer | None = None) -> TouchpointEvent:
    """The event model of an input record: PII sealed, then decoded (raises on bad input)."""
    return decode_obj(seal_input(raw, sealer or DEFAULT_SEALER))


def as_json(raw: Raw) -> bytes:
    """The record as one JSON line (no newline), as it would sit in a file or on the log."""
    return json.dumps(raw).encode()


def without(raw: Raw, *fields: str) -> Raw:
    """A copy of ``raw`` lacking ``fields``."""
    return {k: v for k, v in raw.items() if k not in fields}


def _event(
    event_type: str,
    version: int,
    customer: str,
    at: When,
    channel: str,
    source: str,
    body: Raw,
    overrides: Raw,
) -> Raw:
    event: Raw = {
        "event_id": eid(f"auto-{next(_serial)}"),
        "event_type": event_type,
        "schema_version": version,
        "customer_id": customer,
        "occurred_at": iso(at),
        "recorded_at": iso(at),
        "channel": channel,
        "source": source,
    }
    event.update({k: v for k, v in body.items() if v is not None})
    event.update({k: iso(v) if isinstance(v, datetime) else v for k, v in overrides.items()})
    return event


def a_registration(
    customer: str = "C1",
    at: When = T0,
    *,
    name: Pii = "Alice Example",
    email: Pii = "alice@example.com",
    phone: Pii = "+49 151 2345678",
    segment: str = "consumer",
    region: str | None = None,
    **overrides: Any,
) -> Raw:
    body = {"segment": segment, "name": name, "email": email, "phone": phone, "region": region}
    return _event("customer_registered", 1, customer, at, "web", "crm", body, overrides)


def a_purchase(
    customer: str = "C1",
    amount_minor: int = 1250,
    at: When = T0,
    *,
    amount: str | None = None,
    currency: str = "EUR",
    order_id: str | None = None,
    store_id: str | None = None,
    **overrides: Any,
) -> Raw:
    """A purchase; ``amount="12.50"`` is a shorthand for ``amount_minor=1250`` (2 decimals)."""
    if amount is not None:
        amount_minor = int(Decimal(amount) * 100)
    body = {
        "order_id": order_id or f"O-{next(_serial)}",
        "amount_minor": amount_minor,
        "currency": currency,
        "store_id": store_id,
    }
    return _event("purchase_completed", 1, customer, at, "store", "pos", body, overrides)


def a_visit(
    customer: str = "C1",
    at: When = T0,
    *,
    location: str | None = "store-berlin-1",
    page: str | None = None,
    duration_seconds: int | None = None,
    **overrides: Any,
) -> Raw:
    body = {"location": location, "page": page, "duration_seconds": duration_seconds}
    channel = "store" if location is not None else "web"
    return _event("visit_recorded", 1, customer, at, channel, "footfall", body, overrides)


def a_call(
    customer: str = "C1",
    at: When = T0,
    *,
    direction: str = "inbound",
    reason: str = "billing",
    duration_seconds: int = 300,
    outcome: str = "resolved",
    complaint_id: str | None = None,
    **overrides: Any,
) -> Raw:
    body = {
        "direction": direction,
        "reason": reason,
        "duration_seconds": duration_seconds,
        "outcome": outcome,
        "complaint_id": complaint_id,
    }
    return _event("call_handled", 1, customer, at, "phone", "call-centre", body, overrides)


def a_complaint(
    customer: str = "C1",
    at: When = T0,
    *,
    complaint_id: str = "K1",
    category: str = "product",
    severity: str = "medium",
    promised_by: When | None = None,
    **overrides: Any,
) -> Raw:
    body = {
        "complaint_id": complaint_id,
        "category": category,
        "severity": severity,
        "promised_by": iso(promised_by) if promised_by is not None else None,
    }
    return _event("complaint_filed", 1, customer, at, "phone", "crm", body, overrides)


def a_resolution(
    customer: str = "C1",
    at: When = T0,
    *,
    complaint_id: str = "K1",
    resolution: str = "refund",
    accepted: bool | None = None,
    compensation_minor: int | None = None,
    currency: str = "EUR",
    **overrides: Any,
) -> Raw:
    body = {
        "complaint_id": complaint_id,
        "resolution": resolution,
        "accepted": accepted,
        "compensation": (
            {"amount_minor": compensation_minor, "currency": currency}
            if compensation_minor is not None
            else None
        ),
    }
    return _event("complaint_resolved", 1, customer, at, "phone", "crm", body, overrides)


def a_survey(
    customer: str = "C1",
    score: int = 9,
    at: When = T0,
    *,
    scale: tuple[int, int] = (0, 10),
    survey_id: str | None = "nps-2025",
    comment: Pii = None,
    **overrides: Any,
) -> Raw:
    body = {
        "survey_id": survey_id,
        "score": score,
        "scale_min": scale[0],
        "scale_max": scale[1],
        "comment": comment,
    }
    return _event("survey_answered", 2, customer, at, "email", "survey-tool", body, overrides)


def a_referral(customer: str = "C1", referred: str = "C2", at: When = T0, **overrides: Any) -> Raw:
    body = {"referred_customer_id": referred}
    return _event("referral_made", 1, customer, at, "web", "referral-programme", body, overrides)


def an_identity_link(
    customer: str = "C1",
    identifier: Pii = "alice@example.com",
    at: When = T0,
    *,
    kind: str = "email",
    **overrides: Any,
) -> Raw:
    """A new identifier; with ``kind="customer_id"`` the identifier is the other customer id."""
    if kind == "customer_id":
        body = {"identifier_kind": kind, "linked_customer_id": identifier}
    else:
        body = {"identifier_kind": kind, "identifier": identifier}
    return _event("identity_linked", 1, customer, at, "web", "crm", body, overrides)


BUILDERS: dict[str, Callable[..., Raw]] = {
    "customer_registered": a_registration,
    "purchase_completed": a_purchase,
    "visit_recorded": a_visit,
    "call_handled": a_call,
    "complaint_filed": a_complaint,
    "complaint_resolved": a_resolution,
    "survey_answered": a_survey,
    "referral_made": a_referral,
    "identity_linked": an_identity_link,
}

_SHORT = {
    "registration": "customer_registered",
    "purchase": "purchase_completed",
    "visit": "visit_recorded",
    "call": "call_handled",
    "complaint": "complaint_filed",
    "resolution": "complaint_resolved",
    "survey": "survey_answered",
    "referral": "referral_made",
    "identity_link": "identity_linked",
}


def an_event(kind: str, **kw: Any) -> Raw:
    """Any event by tag (``"purchase_completed"``) or short kind (``"purchase"``)."""
    return BUILDERS[_SHORT.get(kind, kind)](**kw)
