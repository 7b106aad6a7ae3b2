"""Cell values of an imported table -> event field values: times, money, integers, booleans.

The reader hands every cell over as text (it casts each column to VARCHAR), so
every file format goes through the same parsers. Each parser returns the value
or raises ``ValueError`` with a reason that shows the bad value.

May import: stdlib.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Literal

AmountUnit = Literal["major", "minor"]

# ISO 4217 currencies whose minor unit is not 1/100 (every other code has 2 decimals).
MINOR_UNIT_DECIMALS: dict[str, int] = {
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG"), 0),
    **dict.fromkeys(("RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

_MAX_DIGITS = 30
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def decimals_of(currency: str | None) -> int:
    """Decimals of the currency's minor unit (2 for codes not in the ISO exceptions)."""
    return MINOR_UNIT_DECIMALS.get(currency or "", 2)


def to_minor_units(text: str, currency: str | None, unit: AmountUnit) -> int:
    """An amount as integer minor units: '12.50' EUR major is 1250; '1250' minor is 1250.

    A major amount with more decimals than the currency has is refused, never
    rounded; so is a negative amount (refunds are not purchases or compensation).
    """
    minor = parse_int(text) if unit == "minor" else _major_to_minor(text, currency)
    if minor < 0:
        raise ValueError(f"must not be negative (got {text!r})")
    return minor


def _major_to_minor(text: str, currency: str | None) -> int:
    amount = _decimal(text, "a decimal number")
    decimals = decimals_of(currency)
    minor = amount.scaleb(decimals)
    if minor != minor.to_integral_value():
        raise ValueError(f"{text} has more decimals than {currency or 'the currency'} ({decimals})")
    return int(minor)


def parse_int(text: str) -> int:
    """A whole number; '12.0' (how some exports write integers) is 12, '12.5' is refused."""
    number = _decimal(text, "a whole number")
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number (got {text!r})")
    return int(number)


def _decimal(text: str, what: str) -> Decimal:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not {what} (got {text!r})") from None
    if not number.is_finite() or "_" in text:  # Decimal takes '1_000'; an export never means it
        raise ValueError(f"not {what} (got {text!r})")
    if number and number.adjusted() > _MAX_DIGITS:  # far beyond any field's range
        raise ValueError(f"too large (got {text!r})")
    return number


def parse_bool(text: str) -> bool:
    """true/false, t/f, yes/no, y/n, 1/0 (any case)."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"not a boolean: use true/false, yes/no or 1/0 (got {text!r})")


def parse_time(text: str, zone: tzinfo, time_format: str | None = None) -> datetime:
    """An instant from an ISO 8601 date or date-time (or ``time_format``, strptime style).

    A time without offset is wall-clock time in ``zone``; a date is its midnight
    there. A wall-clock time that a daylight-saving change skips is refused; one
    that happens twice (clocks going back) is taken as the first of the two.
    """
    try:
        if time_format is None:
            parsed = datetime.fromisoformat(text)
        else:
            parsed = datetime.strptime(text, time_format)
    except ValueError:
        expected = f"format {time_format!r}" if time_format else "an ISO 8601 date or date-time"
        raise ValueError(f"not {expected} (got {text!r})") from None
    if parsed.tzinfo is not None:
        return parsed
    if zone is UTC:
        return parsed.replace(tzinfo=UTC)
    local = parsed.replace(tzinfo=zone)
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != parsed:
        raise ValueError(f"{text} does not exist in {zone} (skipped by a daylight-saving change)")
    return local
