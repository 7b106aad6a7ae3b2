"""The hidden truth per customer: ``CustomerProfile`` and ``population``.

A profile fixes what a customer *is* (archetype, rhythm, spend level, when
they appear, churn, complain, come back); the timeline (simulator/timeline.py)
turns it into touchpoints. Profiles are drawn one per customer from
``Random(f"{seed}:{index}")``, then a second pass links a few of them: pairs
of ids that are one person, and referrals from loyal customers.

Archetypes (shares in simulator/mix.py):

- ``prospect``: visits and calls, never buys.
- ``one_time``: buys exactly once, may keep visiting.
- ``regular``: repeat buyer on their own rhythm.
- ``loyal``: repeat buyer, short rhythm, high satisfaction; refers others.
- ``churner``: repeat buyer who silently stops at ``churn_day`` (no complaint).
- ``complainer_fast`` / ``complainer_late`` / ``complainer_never``: file a
  complaint at ``complaint_day`` that is resolved within the promise, after
  it, or never; some then leave (``churn_day`` right after the complaint).
- ``win_back``: stops at ``churn_day`` and comes back at ``return_day``.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import random
from dataclasses import dataclass

from simulator import mix

DEFAULT_DAYS = 365


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """What one synthetic customer is; days count from the run's start."""

    customer_id: str
    archetype: str
    rhythm_days: float | None  # mean days between purchases; None if never repeats
    spend_level_minor: int  # mean basket in minor units of ``currency``; 0 for prospects
    churn_day: int | None  # stops buying from this day on (None: never in this run)
    same_person_as: str | None = None  # the other customer id of the same person
    segment: str = "consumer"
    currency: str = "EUR"
    joined_day: int = 0  # day of first appearance (customer_registered)
    complaint_day: int | None = None
    return_day: int | None = None  # win-back: buys again from this day on
    referred_by: str | None = None  # the loyal customer who referred this one


def customer_id(index: int) -> str:
    """The opaque id of the customer at ``index`` (0-based): ``C000001`` and on."""
    return f"C{index + 1:06d}"


def population(customers: int, seed: int, days: int = DEFAULT_DAYS) -> list[CustomerProfile]:
    """The profiles of a run; ``generate(customers, days, seed)`` acts them out."""
    profiles = [draw_profile(index, seed, days) for index in range(customers)]
    paired = link_same_persons(profiles, seed, days)
    return link_referrals(profiles, seed, paired)


def draw_profile(index: int, seed: int, days: int) -> CustomerProfile:
    """One customer's profile, independent of every other customer."""
    rng = random.Random(f"{seed}:{index}")
    archetype = _pick(rng, mix.ARCHETYPE_SHARES)
    segment = "business" if rng.random() < mix.BUSINESS_SHARE else "consumer"
    currency = "CNY" if rng.random() < mix.CNY_SHARE else "EUR"
    rhythm = _draw_rhythm(rng, archetype)
    joined = _draw_joined_day(rng, archetype, rhythm, days)
    churn, complaint, comeback = _draw_story(rng, archetype, rhythm or 30.0, joined, days)
    return CustomerProfile(
        customer_id=customer_id(index),
        archetype=archetype,
        rhythm_days=rhythm,
        spend_level_minor=_draw_spend(rng, archetype, segment, currency),
        churn_day=churn,
        segment=segment,
        currency=currency,
        joined_day=joined,
        complaint_day=complaint,
        return_day=comeback,
    )


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    roll = rng.random() * sum(shares.values())
    for name, share in shares.items():
        roll -= share
        if roll < 0:
            return name
    return name


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))


def _draw_rhythm(rng: random.Random, archetype: str) -> float | None:
    if archetype in mix.NON_BUYERS or archetype in mix.SINGLE_PURCHASE:
        return None
    bounds = {"loyal": mix.LOYAL_RHYTHM_DAYS, "win_back": mix.WIN_BACK_RHYTHM_DAYS}
    return round(_log_uniform(rng, *bounds.get(archetype, mix.RHYTHM_DAYS)), 1)


def _draw_spend(rng: random.Random, archetype: str, segment: str, currency: str) -> int:
    """Mean basket: lognormal, so a few customers spend far more (the value pyramid)."""
    level = rng.lognormvariate(math.log(mix.SPEND_MEDIAN_EUR_MINOR), mix.SPEND_SIGMA)
    if archetype in mix.NON_BUYERS:
        return 0
    if segment == "business":
        level *= mix.BUSINESS_SPEND_FACTOR
    if archetype == "loyal":
        level *= mix.LOYAL_SPEND_FACTOR
    if currency == "CNY":
        level *= mix.CNY_PER_EUR
    return max(100, round(level))


def _draw_joined_day(rng: random.Random, archetype: str, rhythm: float | None, days: int) -> int:
    """Existing customers appear within their first rhythm, newcomers any time.

    Customers with a story to tell (churn, complaint, win-back) are existing
    customers, so the story fits inside the run.
    """
    storied = archetype in ("churner", "win_back", *mix.COMPLAINERS)
    if storied or rng.random() < mix.EXISTING_CUSTOMER_SHARE:
        return int(rng.random() * min(days, rhythm or 30.0))
    return int(rng.random() * days * 0.9)


def _draw_story(
    rng: random.Random, archetype: str, rhythm: float, joined: int, days: int
) -> tuple[int | None, int | None, int | None]:
    """(churn_day, complaint_day, return_day) for the archetype."""
    if archetype == "churner":
        return _uniform_day(rng, joined + math.ceil(1.5 * rhythm), days - 1), None, None
    if archetype == "win_back":
        pause = _uniform_day(rng, joined + math.ceil(2 * rhythm), int(days * 0.45))
        return pause, None, pause + max(math.ceil(4 * rhythm), 90)
    if archetype in mix.COMPLAINERS:
        complaint = _uniform_day(rng, joined + min(math.ceil(rhythm), 30), days - 30)
        keep = {
            "complainer_fast": mix.REPURCHASE_AFTER_FAST,
            "complainer_late": mix.REPURCHASE_AFTER_LATE,
            "complainer_never": mix.REPURCHASE_AFTER_NEVER,
        }[archetype]
        return (None if rng.random() < keep else complaint + 1), complaint, None
    return None, None, None


def _uniform_day(rng: random.Random, low: int, high: int) -> int:
    """A day in [low, high], or ``low`` when the run is too short for the range."""
    return low if high <= low else rng.randint(low, high)


def link_same_persons(profiles: list[CustomerProfile], seed: int, days: int) -> set[int]:
    """Make a few pairs of EUR ids one person (in place); returns the paired indexes."""
    if len(profiles) < 10:
        return set()
    rng = random.Random(f"{seed}:same-person")
    candidates = [i for i, p in enumerate(profiles) if p.currency == "EUR"]
    pairs = max(1, round(len(profiles) * mix.SAME_PERSON_SHARE / 2))
    chosen = rng.sample(candidates, min(2 * pairs, len(candidates) // 2 * 2))
    for first, second in zip(chosen[::2], chosen[1::2], strict=True):
        a, b = sorted((first, second), key=lambda i: (profiles[i].joined_day, i))
        if profiles[b].joined_day == profiles[a].joined_day and profiles[b].joined_day < days - 1:
            profiles[b] = dataclasses.replace(profiles[b], joined_day=profiles[a].joined_day + 1)
        profiles[a] = dataclasses.replace(profiles[a], same_person_as=profiles[b].customer_id)
        profiles[b] = dataclasses.replace(profiles[b], same_person_as=profiles[a].customer_id)
    return set(chosen)


def link_referrals(
    profiles: list[CustomerProfile], seed: int, paired: set[int]
) -> list[CustomerProfile]:
    """Let loyal customers refer some later newcomers (in place); returns ``profiles``."""
    rng = random.Random(f"{seed}:referrals")
    loyal = sorted((p.joined_day, i) for i, p in enumerate(profiles) if p.archetype == "loyal")
    loyal_days = [day for day, _ in loyal]
    lead = mix.REFERRAL_LEAD_DAYS[1] + 1  # the referrer is known before referring
    wanted = round(len(profiles) * mix.REFERRED_SHARE)
    pool = [i for i, p in enumerate(profiles) if i not in paired and p.archetype != "loyal"]
    for index in rng.sample(pool, min(wanted, len(pool))):
        referee = profiles[index]
        eligible = bisect.bisect_right(loyal_days, referee.joined_day - 1 - lead)
        if eligible:
            referrer = profiles[loyal[rng.randrange(eligible)][1]]
            profiles[index] = dataclasses.replace(referee, referred_by=referrer.customer_id)
    return profiles
