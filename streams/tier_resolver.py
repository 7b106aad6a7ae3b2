"""The value-tier resolver's state: every customer's value, ranked globally.

Customer values live on ``customer-values`` (one partition, compacted, keyed by
customer). The worker that owns that partition restores the book from the
records before the first offset it is handed (the latest value per customer),
then folds new ones in (projections/value_tiers.py).
"""

from __future__ import annotations

import asyncio

import orjson

from projections.value_tiers import TierBook, TierRules, ValueTierChanged
from streams.processing import SourceRecord
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import CUSTOMER_VALUES


def encode_value(value_minor: int) -> bytes:
    return orjson.dumps({"format": 1, "value_minor": value_minor})


def decode_value(value: bytes | None) -> int | None:
    """The value, or None for a tombstone (the customer left the ranking)."""
    if value is None:
        return None
    body = orjson.loads(value)
    if body.get("format") != 1:
        raise ValueError(f"customer value format {body.get('format')!r} is not 1")
    return int(body["value_minor"])


class TierResolver:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._book: TierBook | None = None

    @property
    def restored(self) -> bool:
        return self._book is not None

    async def ensure_restored(self, first_offset: int) -> None:
        if self._book is None:
            loop = asyncio.get_running_loop()
            self._book = await loop.run_in_executor(None, self._restore, first_offset)

    def start_empty(self) -> None:
        """Start from nothing (a rebuild from offset 0)."""
        self._book = self._restore(0)

    def _restore(self, before: int) -> TierBook:
        latest: dict[str, int] = {}
        if before > 0:
            topic = self._settings.topic(CUSTOMER_VALUES)
            for record in read_topic(self._settings, topic, only=0, idle_s=0.5, complete=True):
                if record.offset >= before:
                    continue
                value = decode_value(record.value)
                if value is None:
                    latest.pop(record.key.decode(), None)
                else:
                    latest[record.key.decode()] = value
        return TierBook.from_values(latest, TierRules(**self._settings.tier_shares))

    def apply(
        self, records: list[SourceRecord]
    ) -> tuple[list[ValueTierChanged], dict[str, ValueTierChanged | None]]:
        """The tier changes the records cause (the history), and the current record of
        every customer whose value or tier they touched (None: left the ranking), so the
        read model's value and rank stay fresh even when the tier does not change."""
        book = self._book
        assert book is not None, "restore first"
        changes: list[ValueTierChanged] = []
        for record in records:
            customer, value = (record.key or b"").decode(), decode_value(record.value)
            changes.extend(book.remove(customer) if value is None else book.update(customer, value))
        touched = {change.customer_id for change in changes}
        touched.update((record.key or b"").decode() for record in records)
        current: dict[str, ValueTierChanged | None] = {}
        for customer in sorted(touched):
            tier = book.tier_of(customer)
            current[customer] = None if tier is None else ValueTierChanged(
                customer, tier, tier, book.value_of(customer) or 0, book.rank_of(customer),
                book.population,
            )  # fmt: skip
        return changes, current

    def forget(self) -> None:
        self._book = None
