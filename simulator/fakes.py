"""Fake but plausible personal data and the small catalogues events draw from.

Names come from short lists; e-mail addresses, phone and card numbers embed
the customer number (scrambled for phones and cards), so two different
people never share one by accident, and the same person (same customer id
as key) always gets the same ones. Everything here is a pure function of its
arguments: no clock, no global random state.

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST_NAMES_EU = (
    "Anna", "Lukas", "Marie", "Felix", "Sophie", "Jonas", "Laura", "Paul", "Lea", "Leon",
    "Emma", "Noah", "Clara", "Elias", "Mia", "David", "Sara", "Tom", "Julia", "Jan",
)  # fmt: skip
LAST_NAMES_EU = (
    "Schmidt", "Mueller", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz", "Braun",
)  # fmt: skip
FIRST_NAMES_CN = ("Wei", "Fang", "Na", "Min", "Jing", "Lei", "Yang", "Jun", "Li", "Hui")
LAST_NAMES_CN = ("Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu")

# Multipliers coprime with 10**8 and 10**12 make the scrambles bijections.
_PHONE_MULTIPLIER = 48_271_117
_CARD_MULTIPLIER = 6_364_136_223

REGIONS = {"EUR": ("DE-BE", "DE-HH", "DE-BY", "DE-NW"), "CNY": ("CN-SH", "CN-BJ", "CN-GD")}
STORES = {
    "EUR": ("BER-01", "BER-02", "HAM-01", "MUC-01", "KOE-01"),
    "CNY": ("SHA-01", "SHA-02", "BJS-01", "CAN-01"),
}

# category -> (sku prefix, typical unit price in EUR minor units)
CATALOGUE: dict[str, tuple[str, int]] = {
    "grocery": ("GRC", 450),
    "apparel": ("APP", 3_900),
    "shoes": ("SHO", 6_500),
    "electronics": ("ELC", 12_000),
    "home": ("HOM", 2_500),
    "beauty": ("BTY", 1_800),
    "services": ("SRV", 4_000),
}
CATEGORIES = tuple(CATALOGUE)

WEB_PAGES = (
    "/", "/offers", "/products/shoes", "/products/apparel", "/products/electronics",
    "/products/home", "/cart", "/account", "/account/orders", "/help/returns", "/stores",
)  # fmt: skip
APP_PAGES = ("/app/home", "/app/offers", "/app/scan", "/app/orders", "/app/loyalty-card")

INBOUND_REASONS = ("order_status", "billing", "product_info", "delivery", "returns", "account")
OUTBOUND_REASONS = ("follow_up", "offer", "survey_invite", "appointment")
CALL_OUTCOMES = ("resolved", "unresolved", "callback_scheduled", "transferred", "no_answer")

COMPLAINT_CATEGORIES = ("product", "price", "staff", "delay", "billing", "delivery")
RESOLUTIONS = ("refund", "replacement", "explanation", "gift", "repair", "apology")

HAPPY_COMMENTS = (
    "Friendly staff, will come again.",
    "Quick delivery and good quality.",
    "Great advice in the store.",
    "Easy to order in the app.",
)
UNHAPPY_COMMENTS = (
    "Waited far too long for my delivery.",
    "Nobody answered my e-mails.",
    "The product broke after a week.",
    "Prices went up and the service went down.",
)


@dataclass(frozen=True, slots=True)
class Person:
    """The clear-text personal data of one person (shared by all their ids)."""

    name: str
    email: str
    phone: str
    card: str
    alt_email: str


def customer_number(customer_id: str) -> int:
    """The running number inside a customer id such as ``C000042`` (42)."""
    return int(customer_id[1:])


def person_for(customer_id: str, currency: str, seed: int) -> Person:
    """The fake person behind ``customer_id``; pass the first id of a same-person pair."""
    number = customer_number(customer_id)
    rng = random.Random(f"{seed}:{customer_id}:person")
    chinese = currency == "CNY"
    first = rng.choice(FIRST_NAMES_CN if chinese else FIRST_NAMES_EU)
    last = rng.choice(LAST_NAMES_CN if chinese else LAST_NAMES_EU)
    name = f"{last} {first}" if chinese else f"{first} {last}"
    local = f"{first.lower()}.{last.lower()}{number}"
    scrambled = (number * _PHONE_MULTIPLIER + seed) % 10**8
    prefix = "+86 138" if chinese else "+49 151"
    card = (number * _CARD_MULTIPLIER + seed) % 10**12
    return Person(
        name=name,
        email=f"{local}@example.com",
        phone=f"{prefix} {scrambled // 10_000:04d} {scrambled % 10_000:04d}",
        card=f"6270 {card // 10**8:04d} {card // 10**4 % 10**4:04d} {card % 10**4:04d}",
        alt_email=f"{local}@mail.example.net",
    )
