"""``CustomerFacts`` <-> JSON bytes, for the processing tier's state changelog.

The state is written next to the offset it was produced from (the
``customer-state`` topic), so a worker that takes over a partition restores
exactly what the previous one had made. Compact rows: each fact is a JSON
array in its NamedTuple's field order; 128-bit event ids are hex strings.
Bump ``FORMAT`` on any change; an unknown format is refused, never guessed.

May import: projections, stdlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from projections.customer_facts import (
    Call,
    CustomerFacts,
    Entry,
    Filing,
    Purchase,
    Referral,
    Resolution,
    Survey,
    Touch,
)

FORMAT = 1


def _hex(key: int) -> str:
    return format(key, "032x")


def _by_event(facts: Mapping[int, tuple[Any, ...]]) -> list[list[Any]]:
    return [[_hex(key), *value] for key, value in facts.items()]


def dump_facts(facts: CustomerFacts) -> dict[str, Any]:
    """A JSON-ready dict of the state."""
    return {
        "format": FORMAT,
        "customer_id": facts.customer_id,
        "aliases": sorted(facts.aliases),
        "touches": _by_event(facts.touches),
        "purchases": _by_event(facts.purchases),
        "filings": [[cid, f.at, _hex(f.event_id), *f[2:]] for cid, f in facts.filings.items()],
        "resolutions": _by_event(facts.resolutions),
        "surveys": _by_event(facts.surveys),
        "referrals": _by_event(facts.referrals),
        "calls": _by_event(facts.calls),
        "identifiers": [[kind, value, at] for (kind, value), at in facts.identifiers.items()],
        "timeline": [
            [e.at, _hex(e.event_id), e.kind, e.channel, e.summary] for e in facts.timeline
        ],
        "timeline_size": facts.timeline_size,
    }


def _events(rows: list[list[Any]], make: Callable[..., Any]) -> dict[int, Any]:
    return {int(row[0], 16): make(*row[1:]) for row in rows}


def load_facts(data: Mapping[str, Any]) -> CustomerFacts:
    """The state written by ``dump_facts``; ValueError on an unknown format."""
    if data.get("format") != FORMAT:
        raise ValueError(f"customer state format {data.get('format')!r} is not {FORMAT}")
    return CustomerFacts(
        customer_id=data["customer_id"],
        aliases=frozenset(data["aliases"]),
        touches=_events(data["touches"], Touch),
        purchases=_events(data["purchases"], Purchase),
        filings={
            row[0]: Filing(row[1], int(row[2], 16), row[3], row[4], row[5])
            for row in data["filings"]
        },
        resolutions=_events(data["resolutions"], Resolution),
        surveys=_events(data["surveys"], Survey),
        referrals=_events(data["referrals"], Referral),
        calls=_events(data.get("calls", []), Call),  # absent in states written before calls
        identifiers={(kind, value): at for kind, value, at in data["identifiers"]},
        timeline=tuple(
            Entry(at, int(eid, 16), kind, channel, summary)
            for at, eid, kind, channel, summary in data["timeline"]
        ),
        timeline_size=data["timeline_size"],
    )


def encode_facts(facts: CustomerFacts) -> bytes:
    return orjson.dumps(dump_facts(facts))


def decode_facts(data: bytes) -> CustomerFacts:
    return load_facts(orjson.loads(data))
