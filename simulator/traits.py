"""Per-customer habits the timeline needs: channels, home store, contact rates.

Traits are drawn once per customer, when its timeline starts, from the
timeline's own ``Random``; they are not part of the profile because nothing
outside the simulator needs them.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulator import mix
from simulator.fakes import APP_PAGES, CATEGORIES, REGIONS, STORES, WEB_PAGES
from simulator.profiles import CustomerProfile

CONSUMER_CHANNELS = (("store", "web", "app"), (45, 35, 20))
BUSINESS_CHANNELS = (("field", "web", "phone"), (50, 35, 15))
PROSPECT_FIRST_CHANNELS = (("web", "store", "app", "phone"), (50, 30, 10, 10))


@dataclass(frozen=True, slots=True)
class Traits:
    """How one customer tends to reach us."""

    region: str
    store: str
    favourite: str  # product category bought most
    first_channel: str  # where they registered
    channels: tuple[str, ...]  # purchase channels, the preferred one first
    visit_days: float  # mean days between visits
    call_days: float  # mean days between (non-complaint) calls
    satisfaction: float  # latent, 0..1
    gives_email: bool
    gives_phone: bool
    buys_at_registration: bool
    links_card: bool
    changes_email: bool

    def purchase_channel(self, rng: random.Random) -> str:
        """Mostly the preferred channel, sometimes another one."""
        return self.channels[0] if rng.random() < 0.7 else rng.choice(self.channels)

    def visit_channel(self, rng: random.Random) -> str:
        """A channel a visit can happen on (stores, sites, web, app; not the phone)."""
        channel = self.purchase_channel(rng)
        return "web" if channel == "phone" else channel

    def pages(self, channel: str) -> tuple[str, ...]:
        """The pages a web or app visit lands on."""
        return APP_PAGES if channel == "app" else WEB_PAGES


def draw_traits(rng: random.Random, profile: CustomerProfile, pair_role: str | None) -> Traits:
    """The habits of ``profile``; ``pair_role`` is "first"/"second" for a same-person pair."""
    options, weights = BUSINESS_CHANNELS if profile.segment == "business" else CONSUMER_CHANNELS
    preferred = rng.choices(options, weights)[0]
    buys_now = profile.archetype not in mix.NON_BUYERS and rng.random() < mix.BUY_AT_REGISTRATION
    first = preferred
    if profile.archetype in mix.NON_BUYERS:
        first = rng.choices(*PROSPECT_FIRST_CHANNELS)[0]
    email, phone = _contacts_given(rng, pair_role)
    return Traits(
        region=rng.choice(REGIONS[profile.currency]),
        store=rng.choice(STORES[profile.currency]),
        favourite=rng.choice(CATEGORIES),
        first_channel=first,
        channels=(preferred, *(c for c in options if c != preferred)),
        visit_days=_visit_days(rng, profile),
        call_days=_log_uniform(rng, *mix.CALL_INTERVAL_DAYS),
        satisfaction=min(1.0, max(0.0, rng.gauss(mix.SATISFACTION[profile.archetype], 0.08))),
        gives_email=email,
        gives_phone=phone,
        buys_at_registration=buys_now,
        links_card=rng.random() < mix.CARD_LINK_SHARE,
        changes_email=rng.random() < mix.NEW_CONTACT_SHARE,
    )


def _contacts_given(rng: random.Random, pair_role: str | None) -> tuple[bool, bool]:
    """(email, phone) given at registration; the second id of a person shares one."""
    if pair_role == "first":
        return True, True
    if pair_role == "second":
        shares_email = rng.random() < 0.5
        return shares_email, not shares_email
    return rng.random() < mix.EMAIL_GIVEN_SHARE, rng.random() < mix.PHONE_GIVEN_SHARE


def _visit_days(rng: random.Random, profile: CustomerProfile) -> float:
    if profile.archetype in mix.NON_BUYERS:
        return _log_uniform(rng, *mix.PROSPECT_VISIT_DAYS)
    if profile.rhythm_days is None:
        return _log_uniform(rng, *mix.ONE_TIME_VISIT_DAYS)
    return profile.rhythm_days / mix.VISITS_PER_PURCHASE * rng.lognormvariate(0.0, 0.3)


def _log_uniform(rng: random.Random, low: float, high: float) -> float:
    return math.exp(rng.uniform(math.log(low), math.log(high)))
