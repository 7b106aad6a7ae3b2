"""Touchpoints into customer facts: ``facts_of``, ``evolve`` and ``fold``.

``evolve(state, event)`` is exactly ``merge(state, facts_of(event))``: the
event's facts are joined into the state (for an unseen event id,
``add_event`` does that join without building the one-event state). Hence
applying an event twice is applying it once (its event id is already a key
of ``touches``, so the join adds nothing and returns the state itself), and
any order or batching of the same events gives an equal state.

May import: schemas, projections, stdlib.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import assert_never
from uuid import UUID

from projections.customer_facts import (
    TIMELINE_SIZE,
    Call,
    CustomerFacts,
    Entry,
    EventFacts,
    Filing,
    IdentifierKey,
    Purchase,
    Referral,
    Resolution,
    Survey,
    Touch,
    add_event,
    merge,
    micros,
)
from schemas.pii import Sealed
from schemas.touchpoints import (
    CallHandled,
    ComplaintFiled,
    ComplaintResolved,
    CustomerRegistered,
    IdentityLinked,
    PurchaseCompleted,
    ReferralMade,
    SurveyAnswered,
    TouchpointEvent,
    VisitRecorded,
)

SUMMARY_LENGTH = 80

# ISO 4217 minor-unit digits where they are not 2 (for display only).
_MINOR_DIGITS = {
    **dict.fromkeys(["BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW"], 0),
    **dict.fromkeys(["PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"], 0),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """The customer's facts grew, so their view may have changed: republish it."""

    customer_id: str
    event_id: UUID


Emitted = ViewChanged


def evolve(
    state: CustomerFacts, event: TouchpointEvent
) -> tuple[CustomerFacts, tuple[Emitted, ...]]:
    """The state with ``event``'s facts joined in, and what that emits.

    Emits nothing when the event was already folded in (a redelivery).
    """
    if event.customer_id != state.customer_id and event.customer_id not in state.aliases:
        raise ValueError(f"event of {event.customer_id!r} folded into {state.customer_id!r}")
    key = event.event_id.int
    if key in state.touches:  # a redelivery (or, against the contract, a reused id)
        after = merge(state, facts_of(event, state.timeline_size))
        if after is state:
            return state, ()
    else:
        after = add_event(state, key, *_facts(event, key))
    return after, (ViewChanged(after.customer_id, event.event_id),)


def fold(state: CustomerFacts, events: Iterable[TouchpointEvent]) -> CustomerFacts:
    """``evolve`` over ``events`` in turn, dropping what is emitted."""
    for event in events:
        state, _ = evolve(state, event)
    return state


def facts_of(event: TouchpointEvent, timeline_size: int = TIMELINE_SIZE) -> CustomerFacts:
    """The facts one event states, as a state of its own."""
    key = event.event_id.int
    touch, entry, facts = _facts(event, key)
    return CustomerFacts(
        customer_id=event.customer_id,
        touches={key: touch},
        timeline=(entry,) if timeline_size else (),
        timeline_size=timeline_size,
        **facts,
    )


def _facts(event: TouchpointEvent, key: int) -> tuple[Touch, Entry, EventFacts]:
    at = micros(event.occurred_at)
    kind, channel = event.event_type, event.channel.value
    return (
        Touch(at, kind, channel),
        Entry(at, key, kind, channel, summary(event)),
        _payload(event, key, at),
    )


def _payload(event: TouchpointEvent, key: int, at: int) -> EventFacts:
    match event:
        case CustomerRegistered():
            return {"identifiers": _fingerprints(at, event.email, event.phone)}
        case PurchaseCompleted():
            return {"purchases": {key: Purchase(at, event.amount_minor, event.currency)}}
        case VisitRecorded():
            return {}
        case CallHandled():
            call = Call(at, event.direction, event.reason, event.outcome)
            return {"calls": {key: call}}
        case ComplaintFiled():
            promised = None if event.promised_by is None else micros(event.promised_by)
            filing = Filing(at, key, event.category, event.severity, promised)
            return {"filings": {event.complaint_id: filing}}
        case ComplaintResolved():
            return {"resolutions": {key: Resolution(at, event.complaint_id, event.accepted)}}
        case SurveyAnswered():
            return {"surveys": {key: Survey(at, event.score, event.scale_min, event.scale_max)}}
        case ReferralMade():
            return {"referrals": {key: Referral(at, event.referred_customer_id)}}
        case IdentityLinked():
            return {"identifiers": _linked(event, at)}
        case _:
            assert_never(event)


def _fingerprints(at: int, email: Sealed | None, phone: Sealed | None) -> dict[IdentifierKey, int]:
    # Only fingerprints are kept: the sealed clear text never enters a projection.
    pairs = (("email", email), ("phone", phone))
    return {(kind, v.fingerprint): at for kind, v in pairs if v is not None and v.fingerprint}


def _linked(event: IdentityLinked, at: int) -> dict[IdentifierKey, int]:
    if event.linked_customer_id is not None:
        return {("customer_id", event.linked_customer_id): at}
    if event.identifier is not None and event.identifier.fingerprint is not None:
        return {(event.identifier_kind, event.identifier.fingerprint): at}
    return {}  # the schema refuses such a link; nothing to record


def summary(event: TouchpointEvent) -> str:
    """A short line for the timeline, e.g. ``purchase 45.99 EUR`` (no personal data)."""
    return _summary(event)[:SUMMARY_LENGTH]


def _summary(event: TouchpointEvent) -> str:
    match event:
        case CustomerRegistered():
            return f"registered ({event.segment})"
        case PurchaseCompleted():
            return f"purchase {money(event.amount_minor, event.currency)}"
        case VisitRecorded():
            return f"visit {event.location or event.page}"
        case CallHandled():
            return f"call {event.direction} {event.reason}: {event.outcome}"
        case ComplaintFiled():
            return f"complaint {event.complaint_id} {event.category} ({event.severity})"
        case ComplaintResolved():
            verdict = {True: " (accepted)", False: " (rejected)", None: ""}[event.accepted]
            return f"resolution {event.complaint_id} {event.resolution}{verdict}"
        case SurveyAnswered():
            return f"survey {event.score} on {event.scale_min}..{event.scale_max}"
        case ReferralMade():
            return f"referral {event.referred_customer_id}"
        case IdentityLinked():
            other = f" {event.linked_customer_id}" if event.linked_customer_id else ""
            return f"identity linked: {event.identifier_kind}{other}"
        case _:
            assert_never(event)


def money(amount_minor: int, currency: str) -> str:
    """``4599, "EUR"`` -> ``45.99 EUR`` (the currency's ISO 4217 minor digits)."""
    digits = _MINOR_DIGITS.get(currency, 2)
    if digits == 0:
        return f"{amount_minor} {currency}"
    units, minor = divmod(amount_minor, 10**digits)
    return f"{units}.{minor:0{digits}d} {currency}"
