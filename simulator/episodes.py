"""The stories beyond buying and browsing: complaints, surveys, referrals, links.

``plan`` schedules a customer's episodes when they register; the handlers in
``HANDLERS`` run them (see simulator/timeline.py for the task loop). A
complaint is filed with a promised deadline, chased by calls, and resolved
within the promise, after it, or never, by archetype.

May import: the stdlib, schemas and this package only (no numpy, no Kafka);
the timeline only for type hints.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from simulator import clock, mix, records
from simulator.clock import DAY, HOUR
from simulator.fakes import COMPLAINT_CATEGORIES, HAPPY_COMMENTS, UNHAPPY_COMMENTS

if TYPE_CHECKING:
    from simulator.timeline import Handler, Timeline

COMPLAINT_CHANNELS = (("phone", "email", "store", "web"), (45, 25, 20, 10))
SEVERITIES = (("low", "medium", "high", "critical"), (30, 40, 22, 8))
SURVEY_CHANNELS = (("email", "web", "app"), (60, 20, 20))
# identifier kind -> channel it is usually linked on (a customer-id merge is back office)
LINK_CHANNELS = {"card": "store", "email": "web", "phone": "phone", "customer_id": "email"}
OPEN_COMPLAINT_WINDOW_DAYS = 30  # how long an unresolved complaint keeps being chased


def plan(sim: Timeline, rng: random.Random, at: int) -> None:
    """Schedule the episodes of a customer who registered at ``at``."""
    profile = sim.profile
    if profile.complaint_day is not None:
        channel = rng.choices(*COMPLAINT_CHANNELS)[0]
        sim.schedule(clock.on_day(rng, profile.complaint_day, channel), "complaint", channel)
    for referee in sim.run.referees.get(profile.customer_id, ()):
        day = referee.joined_day - rng.randint(*mix.REFERRAL_LEAD_DAYS)
        channel = rng.choice(("web", "app", "store"))
        sim.schedule(clock.on_day(rng, day, channel), "referral", (channel, referee.customer_id))
    _plan_links(sim, rng, at)


def _plan_links(sim: Timeline, rng: random.Random, at: int) -> None:
    """A second id of a person is linked to the first, plus cards and new e-mails."""
    person, traits = sim.person, sim.traits
    partner = sim.partner()
    if partner is not None and sim.pair_role() == "second":
        _plan_link(sim, rng, at, (0.0, 20.0), ("customer_id", partner.customer_id))
        other = ("phone", person.phone) if traits.gives_email else ("email", person.email)
        _plan_link(sim, rng, at, (0.0, 40.0), other)
    if traits.links_card and sim.profile.archetype not in mix.NON_BUYERS:
        _plan_link(sim, rng, at, (0.0, 60.0), ("card", person.card))
    if traits.changes_email:
        _plan_link(sim, rng, at, (30.0, 200.0), ("email", person.alt_email))


def _plan_link(
    sim: Timeline, rng: random.Random, at: int, days: tuple[float, float], link: tuple[str, str]
) -> None:
    sim.schedule(clock.later(rng, at, days, LINK_CHANNELS[link[0]]), "link", link)


def _complaint(sim: Timeline, rng: random.Random, at: int, channel: str) -> records.Record:
    complaint_id = f"CMP-{rng.getrandbits(64):016x}"
    promise = rng.randint(*mix.PROMISE_DAYS) if rng.random() < mix.PROMISE_GIVEN_SHARE else None
    promised_by = None if promise is None else clock.iso(sim.run.start, at + promise * DAY)
    record = records.complaint_filed(
        sim.head(rng, at, "complaint_filed", channel),
        complaint_id,
        rng.choice(COMPLAINT_CATEGORIES),
        rng.choices(*SEVERITIES)[0],
        promised_by,
    )
    resolved_at = _resolution_time(sim.profile.archetype, rng, at, at + (promise or 2) * DAY)
    _chase(sim, rng, at, resolved_at, complaint_id)
    if resolved_at is not None:
        sim.schedule(resolved_at, "resolve", complaint_id)
    if rng.random() < mix.SURVEY_AFTER_COMPLAINT:
        settled = resolved_at or at + OPEN_COMPLAINT_WINDOW_DAYS * DAY
        sim.schedule(clock.later(rng, settled, (1.0, 5.0), "email"), "survey")
    return record


def _resolution_time(archetype: str, rng: random.Random, at: int, deadline: int) -> int | None:
    """Within the promise (fast), after it (late), or None (never)."""
    if archetype == "complainer_fast":
        return rng.randint(at + HOUR, deadline - 60)
    if archetype == "complainer_late":
        return deadline + rng.randint(*mix.LATE_RESOLUTION_EXTRA_DAYS) * DAY + rng.randint(0, DAY)
    return None


def _chase(sim: Timeline, rng: random.Random, at: int, until: int | None, cid: str) -> None:
    """The customer calls about the open complaint a few times."""
    low, high = mix.CALLS_ABOUT_OPEN_COMPLAINT[sim.profile.archetype]
    last = until if until is not None else at + OPEN_COMPLAINT_WINDOW_DAYS * DAY
    span = (0.0, max(0.0, (last - at) / DAY))
    for _ in range(rng.randint(low, high)):
        sim.schedule(min(clock.later(rng, at, span, "phone"), last - 60), "complaint_call", cid)


def _complaint_call(sim: Timeline, rng: random.Random, at: int, cid: str) -> records.Record:
    outcome = rng.choice(("unresolved", "callback_scheduled", "transferred"))
    record = sim.head(rng, at, "call_handled", "phone")
    return records.call(record, rng, "inbound", "complaint", outcome, complaint_id=cid)


def _resolve(sim: Timeline, rng: random.Random, at: int, cid: str) -> records.Record:
    profile = sim.profile
    compensation = None
    if rng.random() < mix.COMPENSATION_SHARE:
        amount = max(100, round(profile.spend_level_minor * rng.uniform(0.1, 0.5)))
        compensation = {"amount_minor": amount, "currency": profile.currency}
    office_hours = clock.OPENING_HOURS["phone"]
    on_phone = office_hours[0] <= at % DAY // HOUR < office_hours[1] and rng.random() < 0.5
    channel = "phone" if on_phone else "email"
    happy = profile.archetype == "complainer_fast"
    record = sim.head(rng, at, "complaint_resolved", channel)
    return records.complaint_resolved(record, rng, cid, happy, compensation)


def _survey(sim: Timeline, rng: random.Random, at: int, _: Any) -> records.Record:
    legacy = rng.random() < mix.SURVEY_V1_SHARE
    channel = "email" if legacy else rng.choices(*SURVEY_CHANNELS)[0]
    record = sim.head(rng, at, "survey_answered", channel, version=1 if legacy else 2)
    satisfaction = sim.traits.satisfaction
    churn = sim.profile.churn_day
    if churn is not None and at >= (churn - 60) * DAY:
        satisfaction -= 0.2  # the silent leaver's last word
    acsi = rng.random() < mix.SURVEY_ACSI_SHARE
    return records.survey(record, rng, satisfaction, acsi, _comment(sim, rng, satisfaction))


def _comment(sim: Timeline, rng: random.Random, satisfaction: float) -> str | None:
    """Free text, sometimes; now and then with a phone number in it (hence sealed)."""
    if rng.random() >= mix.SURVEY_COMMENT_SHARE:
        return None
    if rng.random() < 0.1:
        return f"Please call me back on {sim.person.phone}."
    return rng.choice(HAPPY_COMMENTS if satisfaction >= 0.6 else UNHAPPY_COMMENTS)


def _referral(sim: Timeline, rng: random.Random, at: int, data: tuple[str, str]) -> records.Record:
    channel, referee = data
    return records.referral(sim.head(rng, at, "referral_made", channel), referee)


def _link(sim: Timeline, rng: random.Random, at: int, data: tuple[str, str]) -> records.Record:
    kind, value = data
    record = sim.head(rng, at, "identity_linked", LINK_CHANNELS[kind])
    return records.identity_linked(record, kind, value)


HANDLERS: dict[str, Handler] = {
    "complaint": _complaint,
    "complaint_call": _complaint_call,
    "resolve": _resolve,
    "survey": _survey,
    "referral": _referral,
    "link": _link,
}
