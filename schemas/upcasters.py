"""Upcasters: pure ``dict -> dict`` steps that lift an old event to the next version.

One function per (event_type, from_version) hop, run before validation, so
folds only see the newest version and old events on the log stay readable
for ever. Never change an upcaster once released; add the next hop.

May import: stdlib.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Raw = dict[str, Any]
Upcaster = Callable[[Raw], Raw]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` as the step from ``from_version`` to ``from_version + 1``."""

    def register(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        UPCASTERS[key] = fn
        return fn

    return register


def upcast(raw: Raw, target_version: int) -> Raw:
    """Apply every hop from ``raw['schema_version']`` up to ``target_version``."""
    event_type, version = raw["event_type"], raw["schema_version"]
    while version < target_version:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise LookupError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
        raw = step(raw)
        version += 1
        raw["schema_version"] = version
    return raw


@upcaster("survey_answered", 1)
def survey_answered_v1_to_v2(raw: Raw) -> Raw:
    """Version 1 surveys were all 0-10 (NPS style) and had no scale fields."""
    return {**raw, "scale_min": 0, "scale_max": 10}
