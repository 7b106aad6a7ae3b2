"""The identity graph: given identity claims in any order, then one canonical id per person.

Examples read given / when / then over events built with ``tests.builders``;
the properties check the graph against a brute-force reading of the rules in
``projections.identity``'s docstring, over every order and redelivery.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.identity import (
    Alias,
    IdentityClaim,
    IdentityGraph,
    claims_of,
    decode_claim,
    encode_claim,
)
from schemas.touchpoints import TouchpointEvent
from tests.builders import (
    a_call,
    a_complaint,
    a_purchase,
    a_referral,
    a_registration,
    a_resolution,
    a_sealer,
    a_survey,
    a_visit,
    an_identity_link,
    days_after,
    eid,
    sealed,
)

# --- helpers -------------------------------------------------------------------------------


def events(*raws: dict[str, Any]) -> list[TouchpointEvent]:
    return [sealed(raw) for raw in raws]


def graph_of(evts: Iterable[TouchpointEvent]) -> tuple[IdentityGraph, list[Alias]]:
    """The graph after folding every claim of ``evts``, and every change it returned."""
    graph = IdentityGraph()
    changes = [alias for event in evts for claim in claims_of(event) for alias in graph.add(claim)]
    return graph, changes


def link_of(raw: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID(raw["event_id"])


# --- examples ------------------------------------------------------------------------------


def test_two_customers_registering_with_one_email_are_not_merged() -> None:
    given = events(a_registration("C1"), a_registration("C2"))  # same e-mail and phone
    graph, changes = graph_of(given)
    assert changes == []
    assert graph.aliases() == {}
    assert graph.canonical("C2") == "C2"


@pytest.mark.parametrize("link_first", [False, True])
def test_an_email_link_by_one_of_them_merges_them_in_either_order(link_first: bool) -> None:
    link = an_identity_link("C2", "alice@example.com", at=days_after(1))
    given = [a_registration("C1", phone=None), a_registration("C2", email="c2@example.com")]
    given = [link, *given] if link_first else [*given, link]
    graph, changes = graph_of(events(*given))
    expected = Alias("C2", "C1", link_of(link))
    assert graph.aliases() == {"C2": expected}
    assert changes == [expected]
    assert graph.canonical("C2") == graph.canonical("C1") == "C1"


def test_a_link_on_a_fingerprint_nobody_else_holds_joins_nobody() -> None:
    graph, changes = graph_of(events(a_registration("C1"), an_identity_link("C1", "new@x.org")))
    assert changes == [] and graph.aliases() == {}


def test_a_customer_id_link_merges_and_the_smallest_id_is_canonical() -> None:
    link = an_identity_link("C1", "C0", kind="customer_id")
    graph, changes = graph_of(events(link))
    assert changes == [Alias("C1", "C0", link_of(link))]
    assert graph.canonical("C1") == "C0"


def test_a_chain_of_links_makes_one_component_under_its_smallest_id() -> None:
    a_b = an_identity_link("B", "A", kind="customer_id")
    b_c = an_identity_link("C", "B", kind="customer_id", at=days_after(1))
    graph, _ = graph_of(events(b_c, a_b))
    assert graph.aliases() == {
        "B": Alias("B", "A", link_of(a_b)),
        "C": Alias("C", "A", link_of(a_b)),
    }


def test_caused_by_is_the_earliest_link_of_the_component() -> None:
    late = an_identity_link("B", "A", kind="customer_id", at=days_after(2))
    early = an_identity_link("C", "B", kind="customer_id", at=days_after(1))
    graph, changes = graph_of(events(late, early))
    assert {a.caused_by for a in graph.aliases().values()} == {link_of(early)}
    # B was first published as caused by the late link, then corrected:
    assert changes[0] == Alias("B", "A", link_of(late))
    assert changes[-2:] == [Alias("B", "A", link_of(early)), Alias("C", "A", link_of(early))]


def test_links_at_the_same_instant_are_ordered_by_event_id() -> None:
    first, second = sorted([eid("x"), eid("y")])
    a_b = an_identity_link("B", "A", kind="customer_id", event_id=second)
    b_c = an_identity_link("C", "B", kind="customer_id", event_id=first)
    graph, _ = graph_of(events(a_b, b_c))
    assert {a.caused_by for a in graph.aliases().values()} == {uuid.UUID(first)}


def test_a_redelivered_claim_changes_nothing() -> None:
    given = events(a_registration("C1"), an_identity_link("C2", "alice@example.com"))
    graph, _ = graph_of(given)
    before = graph.aliases()
    for event in given:
        for claim in claims_of(event):
            assert graph.add(claim) == ()
    assert graph.aliases() == before


def test_an_unknown_customer_is_its_own_canonical_id() -> None:
    assert IdentityGraph().canonical("nobody") == "nobody"


# --- claims_of -----------------------------------------------------------------------------


def test_a_registration_claims_its_email_and_phone_fingerprints() -> None:
    raw = a_registration("C1", at=days_after(3))
    email, phone = claims_of(sealed(raw))
    sealer = a_sealer()
    assert email == IdentityClaim(
        "C1",
        "email",
        sealer.fingerprint("email", "alice@example.com"),
        False,
        link_of(raw),
        datetime.fromisoformat(days_after(3)),
    )
    assert (phone.kind, phone.value) == ("phone", sealer.fingerprint("phone", "+49 151 2345678"))
    assert not phone.linking


def test_a_registration_without_identifiers_claims_nothing() -> None:
    no_fingerprint = a_sealer().seal("C1", "alice@example.com").model_dump(exclude_none=True)
    assert claims_of(sealed(a_registration("C1", email=None, phone=None))) == ()
    assert claims_of(sealed(a_registration("C1", email=no_fingerprint, phone=None))) == ()


@pytest.mark.parametrize("kind", ["email", "phone", "card"])
def test_an_identity_link_claims_its_fingerprint_as_linking(kind: str) -> None:
    value = {"email": "Bob@Example.com", "phone": "+1 555 0100", "card": "4111 1111 1111 1111"}
    (claim,) = claims_of(sealed(an_identity_link("C2", value[kind], kind=kind)))
    assert (claim.customer_id, claim.kind, claim.linking) == ("C2", kind, True)
    assert claim.value == a_sealer().fingerprint(kind, value[kind])


def test_a_customer_id_link_claims_the_other_id() -> None:
    (claim,) = claims_of(sealed(an_identity_link("C2", "C7", kind="customer_id")))
    assert (claim.customer_id, claim.kind, claim.value, claim.linking) == (
        "C2",
        "customer_id",
        "C7",
        True,
    )


@pytest.mark.parametrize(
    "raw",
    [a_purchase(), a_visit(), a_call(), a_complaint(), a_resolution(), a_survey(), a_referral()],
)
def test_other_events_claim_nothing(raw: dict[str, Any]) -> None:
    assert claims_of(sealed(raw)) == ()


# --- the claim and its wire form ------------------------------------------------------------

A_CLAIM = IdentityClaim(
    "C1", "email", "a" * 32, True, uuid.UUID(eid(1)), datetime(2025, 3, 1, 10, tzinfo=UTC)
)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "name"}, "kind"),
        ({"value": ""}, "needs a customer_id and a value"),
        ({"kind": "customer_id", "value": "C1"}, "link to another"),
        ({"kind": "customer_id", "value": "C2", "linking": False}, "link to another"),
        ({"occurred_at": datetime(2025, 3, 1)}, "timezone-aware"),
    ],
)
def test_an_invalid_claim_is_refused(changes: dict[str, Any], message: str) -> None:
    fields = {name: getattr(A_CLAIM, name) for name in IdentityClaim.__slots__}
    with pytest.raises(ValueError, match=message):
        IdentityClaim(**{**fields, **changes})


def test_a_claim_encodes_compactly_with_its_format() -> None:
    data = encode_claim(A_CLAIM)
    assert b" " not in data
    assert json.loads(data)["format"] == 1
    assert decode_claim(data) == A_CLAIM


def _encoded(**changes: Any) -> bytes:
    return json.dumps({**json.loads(encode_claim(A_CLAIM)), **changes}).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not JSON"),
        (b"{", "not JSON"),
        (b"[1]", "not a JSON object"),
        (_encoded(format=2), "format 2 is not 1"),
        (_encoded(extra=1), "fields"),
        (_encoded(linking="yes"), "wrong type: linking"),
        (_encoded(customer_id=7), "wrong type: customer_id"),
        (_encoded(event_id="not-a-uuid"), "invalid identity claim"),
        (_encoded(occurred_at="yesterday"), "invalid identity claim"),
        (_encoded(occurred_at="2025-03-01T10:00:00"), "timezone-aware"),
        (_encoded(kind="name"), "kind 'name'"),
    ],
)
def test_junk_is_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_claim(data)


# --- properties ----------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CUSTOMERS = ["A", "B", "C", "D", "E", "F"]
# Few instants (some equal in another offset) and few event ids, so ties happen.
instants = st.sampled_from(
    [T0, T0.astimezone(timezone(timedelta(hours=2))), T0 + timedelta(hours=1), T0 + timedelta(1)]
)
event_ids = st.sampled_from([uuid.UUID(eid(n)) for n in range(6)])


@st.composite
def claims(draw: st.DrawFn) -> IdentityClaim:
    customer = draw(st.sampled_from(CUSTOMERS))
    kind = draw(st.sampled_from(["email", "phone", "card", "customer_id"]))
    if kind == "customer_id":
        value = draw(st.sampled_from([c for c in CUSTOMERS if c != customer]))
        linking = True
    else:
        value, linking = draw(st.sampled_from(["0" * 32, "1" * 32])), draw(st.booleans())
    return IdentityClaim(customer, kind, value, linking, draw(event_ids), draw(instants))


claim_sets = st.lists(claims(), max_size=14)


@st.composite
def reorderings(draw: st.DrawFn) -> tuple[list[IdentityClaim], list[IdentityClaim]]:
    """A claim list, and a shuffle of it with some claims delivered again."""
    original = draw(claim_sets)
    again = draw(st.lists(st.sampled_from(original), max_size=5)) if original else []
    return original, draw(st.permutations(original + again))


def expected_aliases(given: Iterable[IdentityClaim]) -> dict[str, Alias]:
    """The rules of the module docstring, read as plainly as possible."""
    holders: dict[tuple[str, str], set[str]] = defaultdict(set)
    links: dict[tuple[str, str], list[IdentityClaim]] = defaultdict(list)
    edges: list[tuple[str, str]] = []
    effective: list[IdentityClaim] = []
    for claim in set(given):
        if claim.kind == "customer_id":
            edges.append((claim.customer_id, claim.value))
            effective.append(claim)
            continue
        holders[claim.kind, claim.value].add(claim.customer_id)
        if claim.linking:
            links[claim.kind, claim.value].append(claim)
    for key, linked in links.items():
        if len(holders[key]) > 1:
            edges += [(a, b) for a in holders[key] for b in holders[key] if a < b]
            effective += linked
    component = {c: {c} for edge in edges for c in edge}
    for a, b in edges:  # naive closure: merge the two sets and point every member at it
        joined = component[a] | component[b]
        for member in joined:
            component[member] = joined
    out = {}
    for member, members in component.items():
        canonical = min(members)
        if member != canonical:
            first = min(
                (c for c in effective if c.customer_id in members),
                key=lambda c: (c.occurred_at, c.event_id),
            )
            out[member] = Alias(member, canonical, first.event_id)
    return out


def folded(given: Iterable[IdentityClaim]) -> IdentityGraph:
    graph = IdentityGraph()
    for claim in given:
        graph.add(claim)
    return graph


@PROPERTY
@given(reorderings())
def test_any_order_with_redeliveries_gives_the_aliases_the_rules_say(
    case: tuple[list[IdentityClaim], list[IdentityClaim]],
) -> None:
    original, reordered = case
    expected = expected_aliases(original)
    assert folded(original).aliases() == expected
    assert folded(reordered).aliases() == expected


@PROPERTY
@given(claim_sets)
def test_add_returns_exactly_what_changed_and_replaying_it_rebuilds_the_aliases(
    given_claims: list[IdentityClaim],
) -> None:
    graph, replayed = IdentityGraph(), {}
    for claim in given_claims:
        before = graph.aliases()
        changes = graph.add(claim)
        after = graph.aliases()
        assert before.keys() <= after.keys(), "an alias never reverts"
        assert set(changes) == {a for a in after.values() if before.get(a.alias_id) != a}
        assert len(changes) == len(set(changes))
        replayed.update((alias.alias_id, alias) for alias in changes)
        assert graph.add(claim) == ()
    assert replayed == graph.aliases()


@PROPERTY
@given(claim_sets)
def test_every_canonical_id_is_the_smallest_of_its_component_and_no_alias(
    given_claims: list[IdentityClaim],
) -> None:
    graph = folded(given_claims)
    aliases = graph.aliases()
    members: dict[str, set[str]] = defaultdict(set)
    for alias in aliases.values():
        members[alias.canonical_id].add(alias.alias_id)
        assert graph.canonical(alias.alias_id) == alias.canonical_id
    for canonical, ids in members.items():
        assert canonical not in aliases
        assert graph.canonical(canonical) == canonical
        assert canonical < min(ids)
        assert len({aliases[i].caused_by for i in ids}) == 1


@PROPERTY
@given(claim_sets, st.data())
def test_linking_a_to_b_is_linking_b_to_a(given_claims: list[IdentityClaim], data: Any) -> None:
    flipped = [
        IdentityClaim(c.value, c.kind, c.customer_id, True, c.event_id, c.occurred_at)
        if c.kind == "customer_id" and data.draw(st.booleans())
        else c
        for c in given_claims
    ]
    assert folded(flipped).aliases() == folded(given_claims).aliases()


@PROPERTY
@given(claim_sets)
def test_claims_survive_the_wire(given_claims: list[IdentityClaim]) -> None:
    for claim in given_claims:
        decoded = decode_claim(encode_claim(claim))
        assert decoded == claim
        assert decoded.occurred_at.utcoffset() == claim.occurred_at.utcoffset()
