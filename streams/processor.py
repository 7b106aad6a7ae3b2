"""The processing tier's logic, without Faust or Kafka clients: five handlers that take
batches of raw records and send what changed through ``send``.

``touchpoints`` batches are folded into customer states (streams/processing.py),
then loyalty stages and churn warnings advance to the partition's event-time
watermark; identity claims become alias decisions, aliases and merges move
facts between customers, customer values become value tiers. Every output is a
call of ``send(topic, key, value, headers)`` (topic without prefix, value None
for a tombstone).

The live worker (streams/worker.py) runs the handlers on Faust agents and sends
to Kafka; ``touchpoint rebuild`` (streams/rebuild.py) runs the same handlers
over the log from offset 0 and routes the sends in process. Before a handler
runs, the states it touches must be present: ``prepared`` says which are
missing, and the caller restores them (from the changelog, or empty).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

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

# the topics the handlers read (each has its handler)
INPUTS = (TOUCHPOINTS, IDENTITY_CLAIMS, CUSTOMER_ALIASES, CUSTOMER_MERGES, CUSTOMER_VALUES)
# (topic, key, value or None for a tombstone, headers)
Send = Callable[[str, bytes | None, bytes | None, list[tuple[str, bytes]] | None], None]


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
    out_of_order: int = 0  # events earlier (event time) than one before them in the partition
    batches: int = 0
    by_partition: dict[int, int] = field(default_factory=dict)


class Processor:
    """Customer states per partition of the event log, and the handlers that change them."""

    def __init__(self, settings: Settings, send: Send, *, keep_out_of_order: bool = False) -> None:
        self.settings = settings
        self.send = send
        # customers with out-of-order events (rebuild --verify): kept only when asked
        self.out_of_order: set[str] | None = set() if keep_out_of_order else None
        self.states: dict[int, dict[str, Tracked]] = {}
        self.stats = WorkerStats()
        self.resolver = IdentityResolver(settings)
        self.tiers = TierResolver(settings)
        self.rules = LoyaltyRules(**settings.loyalty_rules)  # type: ignore[arg-type]
        self.churn_rules = churn_rules_of(settings.churn_rules)
        self.valuation = Valuation(settings.reporting_currency, settings.fx_rates)
        self.watermarks: dict[int, int] = {}  # partition -> latest event time folded (µs)
        self.queues: dict[int, DueQueue] = {}  # partition -> customers by next due time
        self.handlers: Mapping[str, Callable[[list[SourceRecord]], None]] = {
            TOUCHPOINTS: self.ingest,
            IDENTITY_CLAIMS: self.resolve,
            CUSTOMER_ALIASES: self.aliases,
            CUSTOMER_MERGES: self.merges,
            CUSTOMER_VALUES: self.value_tiers,
        }

    def missing_partitions(self, topic: str, records: list[SourceRecord]) -> set[int]:
        """The partitions whose customer states ``topic``'s handler needs and lacks."""
        if topic not in (TOUCHPOINTS, CUSTOMER_ALIASES, CUSTOMER_MERGES):
            return set()
        return {record.partition for record in records} - set(self.states)

    def restored(self, partition: int, states: dict[str, Tracked]) -> None:
        """Take over ``partition`` with ``states``; its watermark and due queue follow."""
        self.states[partition] = states
        queue = self.queues[partition] = DueQueue()
        latest = [max(t.at for t in s.facts.touches.values()) for s in states.values()
                  if s.facts.touches]  # fmt: skip
        if latest:
            self.watermarks[partition] = max(latest)
        for customer, tracked in states.items():
            if tracked.alias_of is None and tracked.emitted_through is not None:
                at = to_datetime(tracked.emitted_through)
                warned = warning_due(tracked.facts, at, self.churn_rules, self.valuation)
                dues = [d for d in (due_at(tracked.facts, at, self.rules), warned) if d]
                queue.push(customer, min(dues, default=None))

    def forget(self, partition: int) -> None:
        """Drop ``partition``'s states (another worker owns it now)."""
        self.states.pop(partition, None)
        self.watermarks.pop(partition, None)
        self.queues.pop(partition, None)

    # -- handlers: their sends must reach the log before the batch counts as done --

    def ingest(self, records: list[SourceRecord]) -> None:
        for partition, batch in _by_partition(records).items():
            states = self.states[partition]
            result = apply_batch(states, batch, self.watermarks.get(partition))
            self.stats.out_of_order += len(result.out_of_order)
            if self.out_of_order is not None:
                self.out_of_order.update(result.out_of_order)
            if result.latest_event_at is not None:
                mark = self.watermarks.get(partition, result.latest_event_at)
                self.watermarks[partition] = max(mark, result.latest_event_at)
            self._publish(partition, self._with_loyalty(partition, result.changed))
            for letter in result.dead_letters:
                self.send(DEAD_LETTERS, letter.key, letter.value, letter.headers())
            for claim in result.claims:
                self.send(IDENTITY_CLAIMS, claim.customer_id.encode(), encode_claim(claim), None)
            self._count(result.applied, result.redelivered, len(result.dead_letters), partition)

    def resolve(self, records: list[SourceRecord]) -> None:
        claims: list[IdentityClaim] = [decode_claim(r.value or b"") for r in records]
        for alias in self.resolver.add(claims):
            self.send(CUSTOMER_ALIASES, alias.alias_id.encode(), encode_alias(
                alias.alias_id, alias.canonical_id, str(alias.caused_by)
            ), None)  # fmt: skip
            self.stats.aliases_decided += 1

    def value_tiers(self, records: list[SourceRecord]) -> None:
        changes, current = self.tiers.apply(records)
        for change in changes:
            self.send(VALUE_TIER_CHANGES, change.customer_id.encode(), change.to_json(), None)
        self.stats.tier_changes += len(changes)
        for customer, record in current.items():
            self.send(VALUE_TIERS, customer.encode(), None if record is None else record.to_json(),
                      None)  # fmt: skip

    def aliases(self, records: list[SourceRecord]) -> None:
        for record in records:
            alias, canonical, cause = decode_alias(record.value or b"")
            states = self.states[record.partition]
            self._apply(record.partition, apply_alias(states, alias, canonical, cause))

    def merges(self, records: list[SourceRecord]) -> None:
        for record in records:
            target, facts = decode_merge(record.value or b"")
            states = self.states[record.partition]
            self._apply(record.partition, apply_merge(states, target, facts))

    def _apply(self, partition: int, result: MergeResult) -> None:
        for alias, canonical, cause in result.announced:
            key = alias.encode()
            self.send(CUSTOMER_VIEWS, key, encode_alias_record(alias, canonical, cause), None)
            self.send(LOYALTY_STAGES, key, None, None)  # its stage now is the canonical's
            self.send(CUSTOMER_VALUES, key, None, None)  # and its value is counted there
            self.send(COMPLAINT_SLA, key, None, None)  # its complaints too
        self._publish(partition, self._with_loyalty(partition, result.changed))

    def _with_loyalty(self, partition: int, changed: dict[str, Tracked]) -> dict[str, Tracked]:
        """``changed`` with loyalty progress, plus customers whose due time the partition's
        watermark has passed; their stage changes and warning events are sent."""
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
            key = customer.encode()
            for change in step.changes:
                self.send(LOYALTY_CHANGES, key, change.to_json(), None)
            if step.changes:
                self.send(LOYALTY_STAGES, key, step.changes[-1].to_json(), None)
                self.stats.stage_changes += len(step.changes)
            self._send_warnings(customer, warned.events)
        return out

    def _send_warnings(self, customer: str, events: tuple[ChurnWarningEvent, ...]) -> None:
        key = customer.encode()
        for event in events:
            self.send(CHURN_EVENTS, key, event.to_json(), None)
        if events:
            latest = None if events[-1].kind == CLEARED else events[-1].to_json()
            self.send(CHURN_WARNINGS, key, latest, None)
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
            self.send(CUSTOMER_STATE, key, orjson.dumps(tracked.to_json()), None)
            if tracked.alias_of is not None:
                target = tracked.alias_of
                self.send(CUSTOMER_MERGES, target.encode(), encode_merge(target, tracked.facts),
                          None)  # fmt: skip
            elif tracked.facts.touches:
                self.send(CUSTOMER_VIEWS, key, encode_view_record(current_view(tracked.facts)),
                          None)  # fmt: skip
                value = customer_value(
                    tracked.facts, self.settings.reporting_currency, self.settings.fx_rates
                )
                self.send(CUSTOMER_VALUES, key, encode_value(value), None)
                self.stats.views_published += 1
                if tracked.facts.filings:
                    rows = complaint_records(tracked.facts, self.churn_rules, self.valuation)
                    self.send(COMPLAINT_SLA, key, encode_complaints(rows), None)
        self.states[partition].update(changed)

    def _count(self, applied: int, redelivered: int, dead: int, partition: int) -> None:
        self.stats.batches += 1
        self.stats.applied += applied
        self.stats.redelivered += redelivered
        self.stats.dead_lettered += dead
        self.stats.by_partition[partition] = self.stats.by_partition.get(partition, 0) + applied


def _by_partition(records: list[SourceRecord]) -> dict[int, list[SourceRecord]]:
    grouped: dict[int, list[SourceRecord]] = {}
    for record in records:
        grouped.setdefault(record.partition, []).append(record)
    return grouped
