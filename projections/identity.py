"""The identity graph: which customer ids are one person, and under which id.

The processing workers turn every identity-relevant fact into an
``IdentityClaim`` (``claims_of``) and send it, encoded (``encode_claim``), to
one single-partition topic. One resolver folds the claims into an
``IdentityGraph`` and publishes the ``Alias`` decisions that ``add`` returns.

Rules (all of them; each result depends only on the *set* of claims seen):

1. A claim says "customer X holds identifier (kind, value)": an e-mail,
   phone or card fingerprint, or another customer id. It is *linking* when it
   comes from an ``identity_linked`` event, not from a registration.
2. A ``customer_id`` claim (always linking) joins X and the other id.
3. A fingerprint joins people only when at least one claim on it is linking:
   then every customer that claimed that (kind, fingerprint), by registration
   or link, before or after, is joined with the others. A fingerprint seen
   only in registrations joins nobody (a family may share an e-mail; an
   explicit link is the signal). Such a link is *effective* once it joins two
   different customers; a link on a fingerprint nobody else holds is not,
   until somebody else claims that fingerprint.
4. A component is the transitive closure of the joins. Its canonical id is
   its smallest customer id (string order), the rule of
   ``projections.customer_facts.merge``; every other member is an ``Alias``.
5. ``Alias.caused_by`` is the event id of the component's earliest effective
   link, by (occurred_at, event_id): one value for the whole component.

Components only grow, so a canonical id only ever gets smaller and an alias
never reverts: replaying the changes ``add`` returns, in order, into a dict
keyed by ``alias_id`` gives ``aliases()``.

The graph is mutable for speed (it is the resolver's in-memory state); a
component keeps its member set, so a merge relabels the smaller side (union
by size: O(1) lookups, O(n log n) relabelling in all) and ``add`` costs at
most the size of the components it touches.

May import: schemas, stdlib.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import assert_never
from uuid import UUID

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

KINDS = frozenset({"email", "phone", "card", "customer_id"})
FORMAT = 1  # of encode_claim; bump on any change, an unknown one is refused


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """Customer ``customer_id`` holds identifier (``kind``, ``value``)."""

    customer_id: str
    kind: str  # "email" | "phone" | "card" | "customer_id"
    value: str  # the fingerprint, or the other customer id for kind customer_id
    linking: bool  # from an identity_linked event (True) or a registration (False)
    event_id: UUID
    occurred_at: datetime

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim kind {self.kind!r} is not one of {sorted(KINDS)}")
        if not self.customer_id or not self.value:
            raise ValueError("a claim needs a customer_id and a value")
        if self.kind == "customer_id" and (not self.linking or self.value == self.customer_id):
            raise ValueError("a customer_id claim is a link to another customer id")
        if self.occurred_at.utcoffset() is None:
            raise ValueError(f"occurred_at must be timezone-aware, got {self.occurred_at!r}")


@dataclass(frozen=True, slots=True)
class Alias:
    """``alias_id`` is the same person as ``canonical_id``, joined by ``caused_by``."""

    alias_id: str
    canonical_id: str
    caused_by: UUID  # event id of the component's earliest effective link


def claims_of(event: TouchpointEvent) -> tuple[IdentityClaim, ...]:
    """The identity claims one event makes (none for most kinds)."""
    match event:
        case CustomerRegistered():
            pairs = (("email", _fingerprint(event.email)), ("phone", _fingerprint(event.phone)))
            return tuple(_claim(event, kind, value, False) for kind, value in pairs if value)
        case IdentityLinked():
            value = event.linked_customer_id or _fingerprint(event.identifier)
            return (_claim(event, event.identifier_kind, value, True),) if value else ()
        case (
            PurchaseCompleted()
            | VisitRecorded()
            | CallHandled()
            | ComplaintFiled()
            | ComplaintResolved()
            | SurveyAnswered()
            | ReferralMade()
        ):
            return ()
        case _:
            assert_never(event)


def _fingerprint(sealed: Sealed | None) -> str | None:
    return None if sealed is None else sealed.fingerprint


def _claim(event: TouchpointEvent, kind: str, value: str, linking: bool) -> IdentityClaim:
    return IdentityClaim(event.customer_id, kind, value, linking, event.event_id, event.occurred_at)


def encode_claim(claim: IdentityClaim) -> bytes:
    """Compact JSON of a claim (``decode_claim`` reads it back equal)."""
    row = {
        "format": FORMAT,
        "customer_id": claim.customer_id,
        "kind": claim.kind,
        "value": claim.value,
        "linking": claim.linking,
        "event_id": str(claim.event_id),
        "occurred_at": claim.occurred_at.isoformat(),
    }
    return json.dumps(row, separators=(",", ":")).encode()


_FIELDS = {"format", "customer_id", "kind", "value", "linking", "event_id", "occurred_at"}


def decode_claim(data: bytes) -> IdentityClaim:
    """The claim ``encode_claim`` wrote; ValueError saying what is wrong otherwise."""
    try:
        row = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"identity claim is not JSON: {error}") from None
    if not isinstance(row, dict):
        raise ValueError("identity claim is not a JSON object")
    if row.get("format") != FORMAT:
        raise ValueError(f"identity claim format {row.get('format')!r} is not {FORMAT}")
    if row.keys() != _FIELDS:
        raise ValueError(f"identity claim fields {sorted(row)} are not {sorted(_FIELDS)}")
    texts = ("customer_id", "kind", "value", "event_id", "occurred_at")
    wrong = [name for name in texts if not isinstance(row[name], str)]
    wrong += [] if isinstance(row["linking"], bool) else ["linking"]
    if wrong:
        raise ValueError(f"identity claim fields of the wrong type: {', '.join(wrong)}")
    try:
        event_id, occurred_at = UUID(row["event_id"]), datetime.fromisoformat(row["occurred_at"])
        return IdentityClaim(
            row["customer_id"], row["kind"], row["value"], row["linking"], event_id, occurred_at
        )
    except ValueError as error:
        raise ValueError(f"invalid identity claim: {error}") from None


_Link = tuple[datetime, UUID]  # (occurred_at, event_id) of a linking claim: sorts earliest first


@dataclass(slots=True, eq=False)
class _Component:
    members: set[str]
    canonical: str
    earliest: _Link | None = None  # None only for a single customer

    def caused_by(self) -> UUID | None:
        return None if self.earliest is None else self.earliest[1]


@dataclass(slots=True)
class _Holders:
    """Who claimed one (kind, fingerprint), and its earliest linking claim."""

    customers: set[str] = field(default_factory=set)
    link: _Link | None = None
    first: str = ""  # a holder that is in the joined component once the key is effective

    def effective(self) -> bool:
        return self.link is not None and len(self.customers) > 1


class IdentityGraph:
    """Every customer id's canonical id, folded from identity claims in any order."""

    def __init__(self) -> None:
        self._components: dict[str, _Component] = {}  # customer id -> its component (if joined)
        self._holders: dict[tuple[str, str], _Holders] = {}

    def add(self, claim: IdentityClaim) -> tuple[Alias, ...]:
        """Fold one claim in; the aliases it added or changed, by alias id (idempotent)."""
        link = (claim.occurred_at, claim.event_id) if claim.linking else None
        if claim.kind == "customer_id":
            return self._join((claim.customer_id, claim.value), link)
        holders = self._holders.setdefault((claim.kind, claim.value), _Holders())
        was_effective = holders.effective()
        holders.first = holders.first or claim.customer_id
        holders.customers.add(claim.customer_id)
        if link is not None and (holders.link is None or link < holders.link):
            holders.link = link
        if not holders.effective():
            return ()
        # Once effective, all earlier holders are already one component: join the new one to it.
        joined = (claim.customer_id, holders.first) if was_effective else holders.customers
        return self._join(joined, holders.link)

    def canonical(self, customer_id: str) -> str:
        """The id ``customer_id`` is known under: the smallest id of its component."""
        component = self._components.get(customer_id)
        return customer_id if component is None else component.canonical

    def aliases(self) -> dict[str, Alias]:
        """Every current alias (a customer id whose canonical id is another), by alias id."""
        return {
            member: Alias(member, component.canonical, _caused_by(component))
            for member, component in self._components.items()
            if member != component.canonical
        }

    def _component(self, customer_id: str) -> _Component:
        component = self._components.get(customer_id)
        if component is None:
            component = self._components[customer_id] = _Component({customer_id}, customer_id)
        return component

    def _join(self, customer_ids: Iterable[str], link: _Link | None) -> tuple[Alias, ...]:
        parts = list({id(c): c for c in map(self._component, customer_ids)}.values())
        canonical = min(part.canonical for part in parts)
        links = [part.earliest for part in parts if part.earliest is not None]
        earliest = min([*links, link] if link is not None else links, default=None)
        if earliest is None:
            return ()  # nothing joins (rule 3 keeps claims without a link from coming here)
        caused_by = earliest[1]
        changed = [
            Alias(member, canonical, caused_by)
            for part in parts
            if (part.canonical, part.caused_by()) != (canonical, caused_by)
            for member in part.members
            if member != canonical
        ]
        big = max(parts, key=lambda part: len(part.members))
        for part in parts:
            if part is not big:
                big.members |= part.members
                for member in part.members:
                    self._components[member] = big
        big.canonical, big.earliest = canonical, earliest
        return tuple(sorted(changed, key=lambda alias: alias.alias_id))


def _caused_by(component: _Component) -> UUID:
    caused_by = component.caused_by()
    assert caused_by is not None, "a component of several customers always has a link"
    return caused_by
