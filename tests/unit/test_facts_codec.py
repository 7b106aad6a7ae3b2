"""The state changelog codec: every state survives a round trip, unknown formats are refused."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

import simulator
from projections.customer_facts import CustomerFacts, initial, merge
from projections.customer_fold import fold
from projections.facts_codec import decode_facts, encode_facts
from tests.builders import a_sealer, sealed


def simulated_states(customers: int = 60) -> dict[str, CustomerFacts]:
    sealer = a_sealer()
    events = defaultdict(list)
    for raw in simulator.generate(customers, 200, seed=11):
        event = sealed(raw, sealer)
        events[event.customer_id].append(event)
    return {cid: fold(initial(cid), evs) for cid, evs in events.items()}


def test_every_simulated_state_survives_a_round_trip() -> None:
    states = simulated_states()
    assert len(states) == 60
    for state in states.values():
        assert decode_facts(encode_facts(state)) == state


def test_merged_states_with_aliases_survive_a_round_trip() -> None:
    states = list(simulated_states(4).values())
    both = merge(states[0], states[1])
    assert decode_facts(encode_facts(both)) == both


def test_an_unknown_format_is_refused() -> None:
    body = json.loads(encode_facts(initial("C1")))
    body["format"] = 99
    with pytest.raises(ValueError, match="format 99"):
        decode_facts(json.dumps(body).encode())
