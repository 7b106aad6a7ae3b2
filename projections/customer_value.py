"""A customer's historical value in one reporting currency, from their facts.

The sum of every purchase, converted with fixed rates (units of the reporting
currency per unit of the purchase's currency), rounded half up to a minor
unit. Purchases in a currency without a rate count 0 (docs/value.md).
Pure: stdlib and projections only.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from projections.customer_facts import CustomerFacts


def customer_value(facts: CustomerFacts, currency: str, rates: Mapping[str, float]) -> int:
    """Historical value in minor units of ``currency`` (rates: per unit of another currency)."""
    exact = Fraction(0)
    for purchase in facts.purchases.values():
        if purchase.currency == currency:
            exact += purchase.amount_minor
        elif purchase.currency in rates:
            exact += Fraction(purchase.amount_minor) * Fraction(str(rates[purchase.currency]))
    return int(exact + Fraction(1, 2)) if exact > 0 else 0
