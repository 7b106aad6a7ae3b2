"""Builders of raw input records: JSON-able dicts, personal data in clear text.

``head`` makes the envelope (event id, type, version, customer, times,
channel, source); the other builders add one event type's fields to it. The
result is what ``schemas.codec.seal_input`` then ``decode_obj`` accept: keys
with no value are left out, money is integer minor units plus a currency.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any

from simulator import clock
from simulator.fakes import CATALOGUE, CATEGORIES, RESOLUTIONS, Person

Record = dict[str, Any]

# channel -> the system that records contacts on it
SOURCES: dict[str, str] = {
    "store": "pos",
    "web": "web-shop",
    "app": "app",
    "phone": "call-centre",
    "email": "crm",
    "field": "field",
}
LINES_GIVEN_SHARE = 0.85  # some tills send totals only (assumption)


def head(
    rng: random.Random,
    start: datetime,
    customer_id: str,
    event_type: str,
    at: int,
    channel: str,
    version: int = 1,
) -> Record:
    """The envelope of an event ``at`` seconds after ``start``."""
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "event_type": event_type,
        "schema_version": version,
        "customer_id": customer_id,
        "occurred_at": clock.iso(start, at),
        "recorded_at": clock.iso(start, at + clock.recording_delay(rng)),
        "channel": channel,
        "source": SOURCES[channel],
    }


def registered(
    record: Record, person: Person, segment: str, region: str, email: bool, phone: bool
) -> Record:
    """customer_registered with the clear-text name and the contacts given."""
    record.update(segment=segment, name=person.name, region=region)
    if email:
        record["email"] = person.email
    if phone:
        record["phone"] = person.phone
    return record


def purchase(
    record: Record,
    rng: random.Random,
    basket: float,
    currency: str,
    favourite: str,
    store: str | None,
) -> Record:
    """purchase_completed worth about ``basket`` minor units (``store`` None: not in one)."""
    lines = _order_lines(rng, basket, favourite)
    record.update(
        order_id=f"O-{rng.getrandbits(64):016x}",
        amount_minor=sum(line["quantity"] * line["unit_price_minor"] for line in lines),
        currency=currency,
    )
    if store is not None:
        record["store_id"] = store
    if rng.random() < LINES_GIVEN_SHARE:
        record["lines"] = lines
    return record


def _order_lines(rng: random.Random, basket: float, favourite: str) -> list[Record]:
    weights = [rng.random() + 0.2 for _ in range(rng.choice((1, 1, 2, 2, 3, 4)))]
    lines = []
    for weight in weights:
        category = favourite if rng.random() < 0.7 else rng.choice(CATEGORIES)
        quantity = rng.choice((1, 1, 1, 2, 3))
        unit = max(1, round(basket * weight / sum(weights) / quantity))
        sku = f"{CATALOGUE[category][0]}-{rng.randrange(1000):03d}"
        lines.append(
            {"sku": sku, "category": category, "quantity": quantity, "unit_price_minor": unit}
        )
    return lines


def visit(record: Record, rng: random.Random, location: str | None, page: str | None) -> Record:
    """visit_recorded at a store or site (``location``) or on a web/app ``page``."""
    if location is not None:
        record.update(location=location, duration_seconds=rng.randint(300, 3_600))
    else:
        record.update(page=page, duration_seconds=rng.randint(15, 1_200))
    return record


def call(
    record: Record,
    rng: random.Random,
    direction: str,
    reason: str,
    outcome: str,
    complaint_id: str | None = None,
) -> Record:
    """call_handled; calls nobody answers are short."""
    seconds = rng.randint(5, 40) if outcome == "no_answer" else round(rng.lognormvariate(5.5, 0.6))
    record.update(
        direction=direction,
        reason=reason,
        duration_seconds=min(seconds, 4 * clock.HOUR),
        outcome=outcome,
    )
    if complaint_id is not None:
        record["complaint_id"] = complaint_id
    return record


def complaint_filed(
    record: Record,
    complaint_id: str,
    category: str,
    severity: str,
    promised_by: str | None,
) -> Record:
    """complaint_filed, with the promised resolution deadline when one was given."""
    record.update(complaint_id=complaint_id, category=category, severity=severity)
    if promised_by is not None:
        record["promised_by"] = promised_by
    return record


def complaint_resolved(
    record: Record, rng: random.Random, complaint_id: str, happy: bool, compensation: Record | None
) -> Record:
    """complaint_resolved; ``accepted`` is sometimes not asked (left out)."""
    record.update(complaint_id=complaint_id, resolution=rng.choice(RESOLUTIONS))
    if rng.random() < 0.8:
        record["accepted"] = rng.random() < (0.9 if happy else 0.4)
    if compensation is not None:
        record["compensation"] = compensation
    return record


def survey(
    record: Record, rng: random.Random, satisfaction: float, acsi: bool, comment: str | None
) -> Record:
    """survey_answered; version 1 records are 0-10 with no scale (the upcaster adds it)."""
    legacy = record["schema_version"] == 1
    low, high = (0, 10) if legacy else rng.choice(((1, 5), (0, 10)))
    felt = min(1.0, max(0.0, rng.gauss(satisfaction, 0.12)))
    record.update(survey_id=rng.choice(("NPS-2025", "POST-PURCHASE", "SERVICE")))
    record["score"] = _on_scale(felt, low, high)
    if not legacy:
        record.update(scale_min=low, scale_max=high)
        if acsi:
            record["expectation"] = _on_scale(felt + rng.uniform(-0.1, 0.3), low, high)
            record["perceived_quality"] = _on_scale(felt + rng.uniform(-0.1, 0.1), low, high)
    if comment is not None:
        record["comment"] = comment
    return record


def _on_scale(value: float, low: int, high: int) -> int:
    return min(high, max(low, round(low + value * (high - low))))


def referral(record: Record, referred_customer_id: str) -> Record:
    """referral_made for a customer who registers a few days later."""
    record["referred_customer_id"] = referred_customer_id
    return record


def identity_linked(record: Record, kind: str, value: str) -> Record:
    """identity_linked: ``value`` is a clear-text identifier, or a customer id."""
    record["identifier_kind"] = kind
    record["linked_customer_id" if kind == "customer_id" else "identifier"] = value
    return record
