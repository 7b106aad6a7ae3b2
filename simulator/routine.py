"""The everyday tasks of a timeline: register, purchase, visit, call.

Purchases follow the customer's own rhythm (mean gap ``rhythm_days`` with
lognormal jitter), stretch out before a churn day and stop at it (or pause
until a win-back ``return_day``); visits and calls are Poisson streams that
stop or pause the same way. Registering plans the first purchase, the
streams, and the episodes (simulator/episodes.py).

May import: the stdlib, schemas and this package only (no numpy, no Kafka);
the timeline only for type hints.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from simulator import clock, episodes, mix, records
from simulator.fakes import CALL_OUTCOMES, INBOUND_REASONS, OUTBOUND_REASONS

if TYPE_CHECKING:
    from simulator.timeline import Handler, Timeline


def _register(sim: Timeline, rng: random.Random, at: int, _: Any) -> records.Record:
    profile, traits = sim.profile, sim.traits
    record = records.registered(
        sim.head(rng, at, "customer_registered", traits.first_channel),
        sim.person,
        profile.segment,
        traits.region,
        email=traits.gives_email,
        phone=traits.gives_phone,
    )
    if profile.archetype not in mix.NON_BUYERS:
        _plan_first_purchase(sim, rng, at)
    sim.schedule(at + _gap(rng, traits.visit_days), "visit")
    sim.schedule(at + _gap(rng, traits.call_days), "call")
    episodes.plan(sim, rng, at)
    return record


def _gap(rng: random.Random, mean_days: float) -> int:
    """Seconds to the next contact of a Poisson stream with this mean."""
    return max(clock.HOUR, round(rng.expovariate(1.0 / mean_days) * clock.DAY))


def _plan_first_purchase(sim: Timeline, rng: random.Random, at: int) -> None:
    if sim.traits.buys_at_registration:
        sim.schedule(at + rng.randint(60, 1_800), "purchase", sim.traits.first_channel)
        return
    channel = sim.traits.purchase_channel(rng)
    wait = rng.uniform(0.5, min(sim.profile.rhythm_days or 14.0, 14.0))
    sim.schedule(clock.on_day(rng, at / clock.DAY + wait, channel), "purchase", channel)


def _purchase(sim: Timeline, rng: random.Random, at: int, channel: str) -> records.Record:
    profile, traits = sim.profile, sim.traits
    sigma = mix.BASKET_SIGMA
    basket = profile.spend_level_minor * rng.lognormvariate(-sigma * sigma / 2, sigma)
    store = {"store": traits.store, "web": "WEB", "app": "APP"}.get(channel)
    record = records.purchase(
        sim.head(rng, at, "purchase_completed", channel),
        rng,
        basket,
        profile.currency,
        traits.favourite,
        store,
    )
    if rng.random() < mix.SURVEY_AFTER_PURCHASE:
        sim.schedule(clock.later(rng, at, (1.0, 5.0), "email"), "survey")
    next_day = _next_purchase_day(sim, rng, at / clock.DAY)
    if next_day is not None:
        next_channel = traits.purchase_channel(rng)
        sim.schedule(clock.on_day(rng, next_day, next_channel), "purchase", next_channel)
    return record


def _next_purchase_day(sim: Timeline, rng: random.Random, day: float) -> float | None:
    """The day of the next purchase on the customer's rhythm, or None when they stop."""
    profile = sim.profile
    rhythm = profile.rhythm_days
    if rhythm is None:
        return None
    sigma = mix.RHYTHM_JITTER_SIGMA
    gap = rhythm * rng.lognormvariate(-sigma * sigma / 2, sigma)
    churn = profile.churn_day
    if churn is not None and churn - 1.5 * rhythm <= day + gap < churn:
        gap *= mix.FADING_GAP_FACTOR  # buy less, then leave
    following = day + gap
    if sim.active(following):
        return following
    if profile.return_day is None:
        return None
    return profile.return_day + rng.uniform(0.0, rhythm)


def _visit(sim: Timeline, rng: random.Random, at: int, _: Any) -> records.Record | None:
    traits = sim.traits
    _schedule_next(sim, rng, at, "visit", traits.visit_days)
    channel = traits.visit_channel(rng)
    record = sim.head(rng, at, "visit_recorded", channel)
    location = {"store": traits.store, "field": traits.region}.get(channel)
    page = None if location else rng.choice(traits.pages(channel))
    return records.visit(record, rng, location, page)


def _call(sim: Timeline, rng: random.Random, at: int, _: Any) -> records.Record:
    _schedule_next(sim, rng, at, "call", sim.traits.call_days)
    if rng.random() < 0.75:
        direction, reason = "inbound", rng.choice(INBOUND_REASONS)
        outcome = rng.choices(CALL_OUTCOMES, (70, 10, 8, 12, 0))[0]
    else:
        direction, reason = "outbound", rng.choice(OUTBOUND_REASONS)
        outcome = rng.choices(CALL_OUTCOMES, (60, 5, 10, 0, 25))[0]
    record = sim.head(rng, at, "call_handled", "phone")
    return records.call(record, rng, direction, reason, outcome)


def _schedule_next(sim: Timeline, rng: random.Random, at: int, task: str, mean: float) -> None:
    """The next contact of a stream; a churned customer's stream stops (or pauses)."""
    following = at + _gap(rng, mean)
    if sim.active(following / clock.DAY):
        sim.schedule(following, task)
    elif sim.profile.return_day is not None:
        back = sim.profile.return_day * clock.DAY
        sim.schedule(back + _gap(rng, mean), task)


HANDLERS: dict[str, Handler] = {
    "register": _register,
    "purchase": _purchase,
    "visit": _visit,
    "call": _call,
}
