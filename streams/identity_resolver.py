"""The identity resolver's state: the identity graph of every claim seen so far.

Claims live on ``identity-claims`` (one partition, kept for ever). The worker
that owns that partition restores the graph by reading the claims before the
first offset it is handed, then folds new ones in (projections/identity.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from projections.identity import Alias, IdentityClaim, IdentityGraph, decode_claim
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import IDENTITY_CLAIMS


class IdentityResolver:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._graph: IdentityGraph | None = None

    @property
    def restored(self) -> bool:
        return self._graph is not None

    async def ensure_restored(self, first_offset: int) -> None:
        if self._graph is None:
            loop = asyncio.get_running_loop()
            self._graph = await loop.run_in_executor(None, self._restore, first_offset)

    def start_empty(self) -> None:
        """Start from nothing (a rebuild from offset 0)."""
        self._graph = self._restore(0)

    def _restore(self, before: int) -> IdentityGraph:
        graph = IdentityGraph()
        if before > 0:
            topic = self._settings.topic(IDENTITY_CLAIMS)
            for record in read_topic(self._settings, topic, only=0, idle_s=0.5, complete=True):
                if record.offset < before and record.value is not None:
                    graph.add(decode_claim(record.value))
        return graph

    def add(self, claims: Iterable[IdentityClaim]) -> list[Alias]:
        assert self._graph is not None, "restore first"
        changes: dict[str, Alias] = {}
        for claim in claims:
            for alias in self._graph.add(claim):
                changes[alias.alias_id] = alias  # the latest decision per alias
        return list(changes.values())

    def forget(self) -> None:
        self._graph = None
