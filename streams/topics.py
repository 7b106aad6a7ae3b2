"""The topic layout, and idempotent creation of it.

``touchpoints`` is the event store: keyed by customer id, never deleted or
compacted. Projection outputs are compacted topics keyed by customer id (the
latest value per key is the current state); stage and tier changes are
event topics of their own, kept for ever. docs/topics.md explains each.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field

from kafka.errors import TopicAlreadyExistsError

from streams import kafka_clients
from streams.settings import Settings

FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}
COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the layout (name without the configured prefix)."""

    name: str
    purpose: str
    config: dict[str, str] = field(default_factory=dict)
    partitions: int | None = None  # None: the configured count (co-partitioned with the log)


TOUCHPOINTS = "touchpoints"
DEAD_LETTERS = "touchpoints-dlq"
DEAD_LETTERS_REDRIVEN = "touchpoints-dlq-redriven"
CUSTOMER_STATE = "customer-state"
CUSTOMER_VIEWS = "customer-views"
IDENTITY_CLAIMS = "identity-claims"
LOYALTY_STAGES = "loyalty-stages"
LOYALTY_CHANGES = "loyalty-stage-changes"
CUSTOMER_VALUES = "customer-values"
VALUE_TIERS = "value-tiers"
VALUE_TIER_CHANGES = "value-tier-changes"
CLV_SCORES = "clv-scores"
CLV_FITS = "clv-fits"
CUSTOMER_ALIASES = "customer-aliases"
CUSTOMER_MERGES = "customer-merges"
CHURN_WARNINGS = "churn-warnings"
CHURN_EVENTS = "churn-warning-events"
COMPLAINT_SLA = "complaint-sla"
WEEK = {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}

LAYOUT: tuple[TopicSpec, ...] = (
    TopicSpec(TOUCHPOINTS, "event log of every touchpoint (the event store)", FOREVER),
    TopicSpec(DEAD_LETTERS, "records that failed validation, original bytes + reason", FOREVER),
    TopicSpec(
        DEAD_LETTERS_REDRIVEN,
        "dead letters handled by `touchpoint dlq replay` (one partition)",
        COMPACTED,
        1,
    ),
    TopicSpec(
        "customer-state", "processing state per customer + its source offset (internal)", COMPACTED
    ),
    TopicSpec("customer-views", "unified customer view, latest per customer", COMPACTED),
    TopicSpec(
        IDENTITY_CLAIMS, "identifiers claimed by customers (internal, one partition)", FOREVER, 1
    ),
    TopicSpec(CUSTOMER_ALIASES, "alias id -> canonical customer id (internal)", COMPACTED),
    TopicSpec(CUSTOMER_MERGES, "an alias's facts sent to its canonical customer (internal)", WEEK),
    TopicSpec("loyalty-stages", "current loyalty stage per customer", COMPACTED),
    TopicSpec("loyalty-stage-changes", "LoyaltyStageChanged events (history)", FOREVER),
    TopicSpec(
        CUSTOMER_VALUES,
        "customer value in the reporting currency (internal, one partition)",
        COMPACTED,
        1,
    ),
    TopicSpec("value-tiers", "current value tier per customer", COMPACTED),
    TopicSpec("value-tier-changes", "ValueTierChanged events (history)", FOREVER),
    TopicSpec(CLV_SCORES, "P(alive), expected purchases and CLV per customer", COMPACTED),
    TopicSpec(CLV_FITS, "fitted BG/NBD and Gamma-Gamma parameters (history)", FOREVER),
    TopicSpec(
        CHURN_WARNINGS, "open churn warning per customer (tombstone when cleared)", COMPACTED
    ),
    TopicSpec(CHURN_EVENTS, "churn warnings raised, updated and cleared (history)", FOREVER),
    TopicSpec(COMPLAINT_SLA, "each customer's complaints with deadline and outcome", COMPACTED),
)


@dataclass(frozen=True)
class TopicResult:
    name: str
    created: bool
    partitions: int


def create_topics(settings: Settings, partitions: int | None = None) -> list[TopicResult]:
    """Create every topic of the layout that does not exist yet; report each one."""
    wanted = partitions or settings.partitions
    client = kafka_clients.admin(settings)
    try:
        existing = set(client.list_topics())
        new = {
            settings.topic(spec.name): {
                "num_partitions": spec.partitions or wanted,
                "replication_factor": settings.replication_factor,
                "configs": dict(spec.config),
            }
            for spec in LAYOUT
            if settings.topic(spec.name) not in existing
        }
        if new:
            # Another process may create one meanwhile: fine, we only want them to exist.
            with suppress(TopicAlreadyExistsError):
                client.create_topics(new, timeout_ms=30_000)
        names = [settings.topic(spec.name) for spec in LAYOUT]
        counts = _partition_counts(client, names)
    finally:
        client.close()
    return [TopicResult(name, name in new, counts.get(name, 0)) for name in names]


def _partition_counts(client: object, names: list[str]) -> dict[str, int]:
    described = client.describe_topics(names)  # type: ignore[attr-defined]
    return {topic["name"]: len(topic["partitions"]) for topic in described}
