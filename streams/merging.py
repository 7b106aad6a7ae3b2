"""Identity resolution on the worker side: plain functions over one partition's states.

The resolver (streams/worker.py, agent on ``identity-claims``) decides that
customer B is an alias of canonical A and says so on ``customer-aliases``,
keyed by B. The worker owning B's partition marks B's state, announces the
alias on ``customer-views``, and sends B's facts to A on ``customer-merges``
(keyed by A). The worker owning A merges them in. Merging facts is
commutative, associative and idempotent (projections/customer_facts.py), so
forwarding B's facts again after every change of B, redeliveries, and any
interleaving of these topics all converge to the same canonical state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from projections.customer_facts import CustomerFacts, initial, merge
from projections.facts_codec import dump_facts, load_facts
from streams.processing import Tracked

FORMAT = 1


@dataclass
class MergeResult:
    """States changed by alias decisions or merged facts, and aliases to announce."""

    changed: dict[str, Tracked] = field(default_factory=dict)
    announced: list[tuple[str, str, str]] = field(default_factory=list)  # alias, canonical, cause


def apply_alias(
    states: Mapping[str, Tracked], alias: str, canonical: str, caused_by: str
) -> MergeResult:
    """Mark ``alias`` as merged into ``canonical`` (a no-op when it already is)."""
    result = MergeResult()
    tracked = states.get(alias) or Tracked(initial(alias), 0)
    if tracked.alias_of != canonical:
        result.changed[alias] = replace(tracked, alias_of=canonical)
        result.announced.append((alias, canonical, caused_by))
    return result


def apply_merge(states: Mapping[str, Tracked], target: str, facts: CustomerFacts) -> MergeResult:
    """Merge an alias's facts into ``target`` (a no-op when they add nothing)."""
    result = MergeResult()
    tracked = states.get(target) or Tracked(initial(target), 0)
    merged = merge(tracked.facts, facts)
    if merged is not tracked.facts:
        result.changed[target] = replace(tracked, facts=merged)
    return result


def encode_alias(alias: str, canonical: str, caused_by: str) -> bytes:
    body = {"format": FORMAT, "alias_id": alias, "canonical_id": canonical, "caused_by": caused_by}
    return orjson.dumps(body)


def decode_alias(value: bytes) -> tuple[str, str, str]:
    body = _body(value)
    return body["alias_id"], body["canonical_id"], body["caused_by"]


def encode_merge(target: str, facts: CustomerFacts) -> bytes:
    body = {"format": FORMAT, "target": target, "facts": dump_facts(facts)}
    return orjson.dumps(body)


def decode_merge(value: bytes) -> tuple[str, CustomerFacts]:
    body = _body(value)
    return body["target"], load_facts(body["facts"])


def _body(value: bytes) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(value)
    if body.get("format") != FORMAT:
        raise ValueError(f"record format {body.get('format')!r} is not {FORMAT}")
    return body
