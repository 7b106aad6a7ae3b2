"""The processing tier: a Faust app that folds the event log into customer states.

Agents are thin: they take batches of raw records and hand them to plain
functions (streams/processing.py, streams/merging.py, projections/identity.py),
then publish what changed: states to ``customer-state``, views to
``customer-views``, identity claims, alias decisions and merged facts to
their internal topics, refused records to the dead-letter topic. A batch
counts as done only once the broker has acknowledged all of it, so Faust
commits only offsets whose effects are durable: at-least-once delivery,
exactly-once effect. One lock serialises the agents' access to the states.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import faust
import orjson

from projections.churn import CLEARED, ChurnWarningEvent, Valuation
from projections.churn_records import encode_complaints
from projections.complaint_sla import complaint_records
from projections.customer_facts import to_datetime
from projections.customer_value import customer_value
from projections.identity import IdentityClaim, decode_claim, encode_claim
from projections.loyalty import DueQueue, due_at
from projections.loyalty_rules import LoyaltyRules
from projections.view_records import encode_alias_record, encode_view_record
from streams import kafka_clients
from streams.churn_step import advance_warnings, merged_away, warning_due
from streams.identity_resolver import IdentityResolver
from streams.loyalty_step import advance
from streams.merging import (
    MergeResult,
    apply_alias,
    apply_merge,
    decode_alias,
    decode_merge,
    encode_alias,
    encode_merge,
)
from streams.processing import SourceRecord, Tracked, apply_batch, current_view
from streams.restore import restore_partition
from streams.settings import Settings, churn_rules_of
from streams.tier_resolver import TierResolver, encode_value
from streams.topics import (
    CHURN_EVENTS,
    CHURN_WARNINGS,
    COMPLAINT_SLA,
    CUSTOMER_ALIASES,
    CUSTOMER_MERGES,
    CUSTOMER_STATE,
    CUSTOMER_VALUES,
    CUSTOMER_VIEWS,
    DEAD_LETTERS,
    IDENTITY_CLAIMS,
    LOYALTY_CHANGES,
    LOYALTY_STAGES,
    TOUCHPOINTS,
    VALUE_TIER_CHANGES,
    VALUE_TIERS,
)

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
BATCH_WINDOW_S = 0.2
INPUTS = (TOUCHPOINTS, IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES, CUSTOMER_VALUES)
RAW: dict[str, Any] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}


@dataclass
class WorkerStats:
    applied: int = 0
    redelivered: int = 0
    dead_lettered: int = 0
    views_published: int = 0
    aliases_decided: int = 0
    stage_changes: int = 0
    tier_changes: int = 0
    warning_events: int = 0
    batches: int = 0
    by_partition: dict[int, int] = field(default_factory=dict)


class ProcessingWorker:
    """One member of the processing tier (run several: they share the partitions)."""

    def __init__(self, settings: Settings, batch_size: int = BATCH_SIZE) -> None:
        self.settings = settings
        self.topic_name = settings.topic(TOUCHPOINTS)
        self.app = make_faust_app(settings)
        self.producer = kafka_clients.producer(settings)
        self.states: dict[int, dict[str, Tracked]] = {}
        self.processed_next: dict[str, dict[int, int]] = {}  # topic -> partition -> next offset
        self.produced_next: dict[tuple[str, int], int] = {}  # what we wrote to our own inputs
        self.stats = WorkerStats()
        self.resolver = IdentityResolver(settings)
        self.tiers = TierResolver(settings)
        self.rules = LoyaltyRules(**settings.loyalty_rules)  # type: ignore[arg-type]
        self.churn_rules = churn_rules_of(settings.churn_rules)
        self.valuation = Valuation(settings.reporting_currency, settings.fx_rates)
        self.watermarks: dict[int, int] = {}  # partition -> latest event time folded (µs)
        self.queues: dict[int, DueQueue] = {}  # partition -> customers by next loyalty due time
        self._lock = asyncio.Lock()
        self._busy = 0
        self.failure: BaseException | None = None
        handlers: dict[str, Callable[[list[SourceRecord]], Any]] = {
            TOUCHPOINTS: self._ingest,
            IDENTITY_CLAIMS: self._resolve,
            CUSTOMER_ALIASES: self._aliases,
            CUSTOMER_MERGES: self._merges,
            CUSTOMER_VALUES: self._tiers,
        }
        for name, handler in handlers.items():
            self._agent(name, handler, batch_size)
        self.app.on_partitions_revoked.connect(self._on_revoked)  # type: ignore[arg-type]

    def _agent(self, name: str, handler: Callable[..., Any], batch_size: int) -> None:
        topic = self.app.topic(self.settings.topic(name), **RAW)

        async def agent(stream: Any) -> AsyncIterator[None]:  # a faust Stream of raw bytes
            async for events in stream.take_events(batch_size, within=BATCH_WINDOW_S):
                records = [_source(event) for event in events]
                self._busy += 1
                try:
                    async with self._lock:
                        await handler(records)
                        await asyncio.get_running_loop().run_in_executor(None, self.producer.flush)
                    self._done(records)
                except Exception as exc:
                    # In-memory states may be ahead of what reached Kafka: stop processing;
                    # the runner stops the worker, and a restart restores from the changelog.
                    log.exception("batch on %s failed; stopping", name)
                    self.failure = exc
                    raise
                finally:
                    self._busy -= 1
                yield None

        self.app.agent(topic, name=f"{self.settings.topic_prefix}{name}")(agent)

    # -- handlers: run under the lock; their sends are flushed before the batch is done --

    async def _ingest(self, records: list[SourceRecord]) -> None:
        for partition, batch in _by_partition(records).items():
            states = await self._states_of(partition)
            result = apply_batch(states, batch)
            if result.latest_event_at is not None:
                mark = self.watermarks.get(partition, result.latest_event_at)
                self.watermarks[partition] = max(mark, result.latest_event_at)
            self._publish(partition, self._with_loyalty(partition, result.changed))
            for letter in result.dead_letters:
                self._send(DEAD_LETTERS, letter.key, letter.value, letter.headers())
            for claim in result.claims:
                self._send(IDENTITY_CLAIMS, claim.customer_id.encode(), encode_claim(claim))
            self._count(result.applied, result.redelivered, len(result.dead_letters), partition)

    async def _resolve(self, records: list[SourceRecord]) -> None:
        await self.resolver.ensure_restored(records[0].offset)
        claims: list[IdentityClaim] = [decode_claim(r.value or b"") for r in records]
        for alias in self.resolver.add(claims):
            self._send(CUSTOMER_ALIASES, alias.alias_id.encode(), encode_alias(
                alias.alias_id, alias.canonical_id, str(alias.caused_by)
            ))  # fmt: skip
            self.stats.aliases_decided += 1

    async def _tiers(self, records: list[SourceRecord]) -> None:
        await self.tiers.ensure_restored(records[0].offset)
        changes, current = self.tiers.apply(records)
        for change in changes:
            self._send(VALUE_TIER_CHANGES, change.customer_id.encode(), change.to_json())
        self.stats.tier_changes += len(changes)
        for customer, record in current.items():
            if record is None:
                self._send_tombstone(VALUE_TIERS, customer.encode())
            else:
                self._send(VALUE_TIERS, customer.encode(), record.to_json())

    async def _aliases(self, records: list[SourceRecord]) -> None:
        for record in records:
            alias, canonical, cause = decode_alias(record.value or b"")
            states = await self._states_of(record.partition)
            self._apply(record.partition, apply_alias(states, alias, canonical, cause))

    async def _merges(self, records: list[SourceRecord]) -> None:
        for record in records:
            target, facts = decode_merge(record.value or b"")
            states = await self._states_of(record.partition)
            self._apply(record.partition, apply_merge(states, target, facts))

    def _apply(self, partition: int, result: MergeResult) -> None:
        for alias, canonical, cause in result.announced:
            self._send(CUSTOMER_VIEWS, alias.encode(), encode_alias_record(alias, canonical, cause))
            self._send_tombstone(LOYALTY_STAGES, alias.encode())  # its stage now is the canonical's
            self._send_tombstone(CUSTOMER_VALUES, alias.encode())  # and its value is counted there
            self._send_tombstone(COMPLAINT_SLA, alias.encode())  # its complaints too
        self._publish(partition, self._with_loyalty(partition, result.changed))

    def _with_loyalty(self, partition: int, changed: dict[str, Tracked]) -> dict[str, Tracked]:
        """``changed`` with loyalty progress, plus customers whose due time the partition's
        watermark has passed; their stage changes are sent."""
        mark = self.watermarks.get(partition)
        if mark is None:
            return changed
        until = to_datetime(mark - 1)  # events at the watermark's instant may still come
        queue = self.queues.setdefault(partition, DueQueue())
        states = self.states[partition]
        out = dict(changed)
        for customer in list(changed) + queue.pop_due(until):
            tracked = out.get(customer) or states.get(customer)
            if tracked is not None and tracked.alias_of is not None and tracked.warning:
                out[customer] = self._merged_away(tracked)
            if tracked is None or tracked.alias_of is not None or not tracked.facts.touches:
                queue.push(customer, None)
                continue
            warned = advance_warnings(tracked, until, self.churn_rules, self.valuation)
            step = advance(tracked, until, self.rules)
            out[customer] = replace(step.tracked, warning=warned.tracked.warning)
            dues = [due for due in (step.due, warned.due) if due is not None]
            queue.push(customer, min(dues, default=None))
            for change in step.changes:
                self._send(LOYALTY_CHANGES, customer.encode(), change.to_json())
            if step.changes:
                self._send(LOYALTY_STAGES, customer.encode(), step.changes[-1].to_json())
                self.stats.stage_changes += len(step.changes)
            self._send_warnings(customer, warned.events)
        return out

    def _send_warnings(self, customer: str, events: tuple[ChurnWarningEvent, ...]) -> None:
        key = customer.encode()
        for event in events:
            self._send(CHURN_EVENTS, key, event.to_json())
        if events:
            if events[-1].kind == CLEARED:
                self._send_tombstone(CHURN_WARNINGS, key)
            else:
                self._send(CHURN_WARNINGS, key, events[-1].to_json())
            self.stats.warning_events += len(events)

    def _merged_away(self, tracked: Tracked) -> Tracked:
        """An alias's open warning is cleared: its facts now count at the canonical id."""
        at = to_datetime((tracked.emitted_through or 0) + 1)
        event = merged_away(tracked, tracked.alias_of or "", at)
        if event is not None:
            self._send_warnings(tracked.facts.customer_id, (event,))
        return replace(tracked, warning=None)

    def _publish(self, partition: int, changed: dict[str, Tracked]) -> None:
        """Send changed states, and each one's view (or, for an alias, its facts to the
        canonical customer); the in-memory states follow (the batch fails as a whole)."""
        for customer, tracked in changed.items():
            key = customer.encode()
            self._send(CUSTOMER_STATE, key, _json(tracked.to_json()))
            if tracked.alias_of is not None:
                target = tracked.alias_of
                self._send(CUSTOMER_MERGES, target.encode(), encode_merge(target, tracked.facts))
            elif tracked.facts.touches:
                self._send(CUSTOMER_VIEWS, key, encode_view_record(current_view(tracked.facts)))
                value = customer_value(
                    tracked.facts, self.settings.reporting_currency, self.settings.fx_rates
                )
                self._send(CUSTOMER_VALUES, key, encode_value(value))
                self.stats.views_published += 1
                if tracked.facts.filings:
                    rows = complaint_records(tracked.facts, self.churn_rules, self.valuation)
                    self._send(COMPLAINT_SLA, key, encode_complaints(rows))
        self.states[partition].update(changed)

    def _send_tombstone(self, topic: str, key: bytes) -> None:
        self.producer.send(self.settings.topic(topic), key=key, value=None)

    def _send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        full = self.settings.topic(topic)
        future = self.producer.send(full, key=key, value=value, headers=headers)
        if topic in INPUTS:  # our own input: caught up only once we have read it back
            future.add_callback(self._produced)

    def _produced(self, metadata: Any) -> None:
        key = (metadata.topic, metadata.partition)
        self.produced_next[key] = max(self.produced_next.get(key, 0), metadata.offset + 1)

    async def _states_of(self, partition: int) -> dict[str, Tracked]:
        if partition not in self.states:
            loop = asyncio.get_running_loop()
            restored = await loop.run_in_executor(None, restore_partition, self.settings, partition)
            self.states[partition] = restored
            self._restore_loyalty(partition, restored)
            log.info("partition %s: restored %s customer states", partition, len(restored))
        return self.states[partition]

    def _restore_loyalty(self, partition: int, restored: dict[str, Tracked]) -> None:
        """The partition's watermark (latest event time folded) and due queue, from states."""
        queue = self.queues[partition] = DueQueue()
        latest = [
            max(t.at for t in s.facts.touches.values())
            for s in restored.values()
            if s.facts.touches
        ]
        if latest:
            self.watermarks[partition] = max(latest)
        for customer, tracked in restored.items():
            if tracked.alias_of is None and tracked.emitted_through is not None:
                at = to_datetime(tracked.emitted_through)
                warned = warning_due(tracked.facts, at, self.churn_rules, self.valuation)
                dues = [d for d in (due_at(tracked.facts, at, self.rules), warned) if d]
                queue.push(customer, min(dues, default=None))

    def _done(self, records: Iterable[SourceRecord]) -> None:
        for record in records:
            done = self.processed_next.setdefault(record.topic, {})
            done[record.partition] = max(done.get(record.partition, 0), record.offset + 1)

    def _count(self, applied: int, redelivered: int, dead: int, partition: int) -> None:
        self.stats.batches += 1
        self.stats.applied += applied
        self.stats.redelivered += redelivered
        self.stats.dead_lettered += dead
        self.stats.by_partition[partition] = self.stats.by_partition.get(partition, 0) + applied

    async def _on_revoked(self, app: faust.App, revoked: set[Any], **_: Any) -> None:
        # Another worker may own these next: forget our copy, restore afresh if they come back.
        # A failed batch leaves in-memory states ahead of what was flushed: a restart (the
        # agent crashes the app) restores from the changelog.
        async with self._lock:
            for tp in revoked:
                if tp.topic == self.topic_name:
                    self.states.pop(tp.partition, None)
                    self.watermarks.pop(tp.partition, None)
                    self.queues.pop(tp.partition, None)
                self.processed_next.get(tp.topic, {}).pop(tp.partition, None)
                if tp.topic == self.settings.topic(IDENTITY_CLAIMS):
                    self.resolver.forget()
                if tp.topic == self.settings.topic(CUSTOMER_VALUES):
                    self.tiers.forget()

    async def caught_up(self, committed: Callable[[Any], int | None]) -> bool:
        """True when every assigned partition is processed up to its fetch high-water mark."""
        if self.failure is not None:
            raise RuntimeError("the worker stopped after a failed batch") from self.failure
        if self._busy:
            return False
        ours = {
            self.settings.topic(name)
            for name in (TOUCHPOINTS, IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES)
        }
        partitions = [tp for tp in self.app.consumer.assignment() if tp.topic in ours]
        if not partitions:
            return False
        for tp in partitions:
            high = self.app.consumer.highwater(tp)
            if high is None:
                return False
            done = self.processed_next.get(tp.topic, {}).get(tp.partition)
            if done is None:
                done = committed(tp) or 0
            if done < max(high, self.produced_next.get((tp.topic, tp.partition), 0)):
                return False
        return True

    def close(self) -> None:
        self.producer.flush()
        self.producer.close()


def _by_partition(records: list[SourceRecord]) -> dict[int, list[SourceRecord]]:
    grouped: dict[int, list[SourceRecord]] = {}
    for record in records:
        grouped.setdefault(record.partition, []).append(record)
    return grouped


def _source(event: Any) -> SourceRecord:
    message = event.message
    return SourceRecord(
        message.topic, message.partition, message.offset, message.key, message.value
    )


def _json(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def make_faust_app(settings: Settings) -> faust.App:
    """The Faust app with this deployment's broker, group timeouts and group id."""
    servers = [f"kafka://{server}" for server in settings.bootstrap_servers.split(",")]
    timeouts: dict[str, Any] = kafka_clients.group_timeouts(settings).faust()
    return faust.App(
        f"{settings.topic_prefix}touchpoint-worker",
        broker=servers,
        broker_credentials=kafka_clients.faust_credentials(settings),
        store="memory://",
        web_enabled=False,
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",  # exactly-once effect comes from idempotent state
        broker_commit_interval=1.0,
        **timeouts,
    )
