"""Properties of the customer-view fold: its state is a join-semilattice of facts.

Whatever the order, batching or redelivery of one customer's events, the
state (and so the view) is the same; merge is commutative, associative and
idempotent; a view as of a time ignores what happened after it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import pairwise
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.customer_view import (
    CustomerFacts,
    evolve,
    facts_of,
    fold,
    initial,
    merge,
    view,
)
from schemas.envelope import Channel
from schemas.pii import Sealed
from schemas.touchpoints import EVENT_TYPES, TouchpointEvent
from tests.strategies import offsets

CUSTOMER = "C1"
T0 = datetime(2025, 1, 1, tzinfo=UTC)

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# A few shared instants make ties; the rest spread over two years in any offset.
instants = st.one_of(
    st.sampled_from([T0, T0 + timedelta(hours=1), T0 + timedelta(days=1)]),
    st.builds(
        lambda minutes, tz: (T0 + timedelta(minutes=minutes)).astimezone(tz),
        st.integers(min_value=0, max_value=2 * 365 * 24 * 60),
        offsets,
    ),
)
complaint_ids = st.sampled_from(["K1", "K2", "K3"])
fingerprints = st.sampled_from(["a" * 32, "b" * 32, "c" * 32])
sealed_ids = fingerprints.map(
    lambda fp: Sealed(key_id="k", nonce="AAAA", ciphertext="AA==", fingerprint=fp)
)


@st.composite
def customer_events(draw: st.DrawFn) -> TouchpointEvent:
    """Any kind of event of CUSTOMER, drawn lean, with ids that meet each other."""
    kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
    when = draw(instants)
    envelope = {
        "event_id": draw(st.uuids()),
        "customer_id": CUSTOMER,
        "occurred_at": when,
        "recorded_at": when,
        "channel": draw(st.sampled_from(Channel)),
        "source": "test",
    }
    event = EVENT_TYPES[kind](**envelope, **draw(_bodies(kind, when)))
    return cast(TouchpointEvent, event)


def _bodies(kind: str, when: datetime) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "survey_answered":
        return st.sampled_from([(0, 10), (1, 5)]).flatmap(
            lambda scale: (
                st.fixed_dictionaries(
                    {"scale_min": st.just(scale[0]), "scale_max": st.just(scale[1])}
                ).map(lambda body: {**body, "score": (scale[0] + scale[1]) // 2})
                | st.fixed_dictionaries(
                    {
                        "scale_min": st.just(scale[0]),
                        "scale_max": st.just(scale[1]),
                        "score": st.integers(*scale),
                    }
                )
            )
        )
    if kind == "identity_linked":
        card = st.fixed_dictionaries({"identifier_kind": st.just("card"), "identifier": sealed_ids})
        other = st.fixed_dictionaries(
            {"identifier_kind": st.just("customer_id"), "linked_customer_id": st.just("C9")}
        )
        return card | other
    fields: dict[str, st.SearchStrategy[Any]] = {
        "customer_registered": {"email": st.none() | sealed_ids, "phone": st.none() | sealed_ids},
        "purchase_completed": {
            "order_id": st.just("O1"),
            "amount_minor": st.integers(0, 10**6),
            "currency": st.sampled_from(["EUR", "USD"]),
        },
        "visit_recorded": {"location": st.sampled_from(["s1", "s2"])},
        "call_handled": {
            "direction": st.just("inbound"),
            "reason": st.just("billing"),
            "duration_seconds": st.just(60),
            "outcome": st.sampled_from(["resolved", "unresolved"]),
        },
        "complaint_filed": {
            "complaint_id": complaint_ids,
            "category": st.just("product"),
            "severity": st.sampled_from(["low", "high"]),
            "promised_by": st.none() | st.integers(0, 30).map(lambda d: when + timedelta(days=d)),
        },
        "complaint_resolved": {
            "complaint_id": complaint_ids,
            "resolution": st.just("refund"),
            "accepted": st.none() | st.booleans(),
        },
        "referral_made": {"referred_customer_id": st.sampled_from(["C2", "C3"])},
    }[kind]
    return st.fixed_dictionaries(fields)


histories = st.lists(customer_events(), max_size=20)
timeline_sizes = st.sampled_from([0, 3, 20])


@st.composite
def histories_with_conflicts(draw: st.DrawFn) -> list[TouchpointEvent]:
    """A history with redeliveries, and ids reused for other content (a producer bug)."""
    history = draw(histories)
    if history:
        history += draw(st.lists(st.sampled_from(history), max_size=3))
        for event in draw(st.lists(st.sampled_from(history), max_size=2)):
            history.append(event.model_copy(update={"occurred_at": draw(instants)}))
    return history


def folded(events: list[TouchpointEvent], size: int = 20) -> CustomerFacts:
    return fold(initial(CUSTOMER, timeline_size=size), events)


@PROPERTY
@given(st.data(), histories_with_conflicts(), timeline_sizes, instants)
def test_any_order_gives_the_same_state_and_view(
    data: st.DataObject, events: list[TouchpointEvent], size: int, as_of: datetime
) -> None:
    shuffled = data.draw(st.permutations(events))

    state, other = folded(events, size), folded(shuffled, size)

    assert state == other
    assert view(state, as_of) == view(other, as_of)


@PROPERTY
@given(st.data(), histories_with_conflicts(), timeline_sizes)
def test_any_batching_folded_then_merged_gives_the_same_state(
    data: st.DataObject, events: list[TouchpointEvent], size: int
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    bounds = [0, *cuts, len(events)]
    batches = [folded(events[a:b], size) for a, b in pairwise(bounds)]
    batches = data.draw(st.permutations(batches))

    assert reduce(merge, batches, initial(CUSTOMER, size)) == folded(events, size)


@PROPERTY
@given(histories_with_conflicts(), timeline_sizes)
def test_applying_every_event_twice_is_applying_it_once(
    events: list[TouchpointEvent], size: int
) -> None:
    once = folded(events, size)

    assert folded([e for e in events for _ in (1, 2)], size) == once
    assert folded(events + events, size) == once
    assert fold(once, events) is once


@PROPERTY
@given(st.data(), histories_with_conflicts(), timeline_sizes)
def test_merge_is_commutative_associative_and_idempotent(
    data: st.DataObject, pool: list[TouchpointEvent], size: int
) -> None:
    some = st.lists(st.sampled_from(pool)) if pool else st.just([])
    a, b, c = (folded(data.draw(some), size) for _ in range(3))

    assert merge(a, b) == merge(b, a)
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, a) is a  # unchanged is told by identity
    assert merge(a, initial(CUSTOMER, size)) == a


@PROPERTY
@given(histories_with_conflicts(), customer_events(), timeline_sizes)
def test_evolve_is_merging_in_the_events_facts(
    events: list[TouchpointEvent], event: TouchpointEvent, size: int
) -> None:
    state = folded(events, size)

    after, _ = evolve(state, event)

    assert after == merge(state, facts_of(event, size))


@PROPERTY
@given(histories, timeline_sizes, instants)
def test_a_view_never_counts_what_happened_after_as_of(
    events: list[TouchpointEvent], size: int, as_of: datetime
) -> None:
    seen = view(folded(events, size), as_of)
    by_then = view(folded([e for e in events if e.occurred_at <= as_of], size), as_of)

    assert seen.__class__(**{**_fields(seen), "timeline": by_then.timeline}) == by_then
    # The state keeps only the newest entries overall: those by as_of are the newest by then.
    assert seen.timeline == by_then.timeline[: len(seen.timeline)]
    assert all(item.occurred_at <= as_of for item in seen.timeline)


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
