"""Simulated time: seconds since the run's start, opening hours, ISO strings.

Inside the simulator a moment is an ``int`` number of seconds after the run's
``start`` (never the wall clock). Events happen during the opening hours of
their channel; each one reaches a system a few seconds later, or, for about
1% of events, hours to days later (a batch upload).

May import: the stdlib, schemas and this package only (no numpy, no Kafka).
"""

from __future__ import annotations

import functools
import math
import random
from datetime import UTC, date, datetime, timedelta

from simulator import mix

DAY = 86_400
HOUR = 3_600

# channel -> (first hour, last hour) when contacts on it happen
OPENING_HOURS: dict[str, tuple[int, int]] = {
    "store": (9, 20),
    "web": (6, 24),
    "app": (6, 24),
    "phone": (8, 18),
    "email": (7, 21),
    "field": (9, 17),
}


def on_day(rng: random.Random, day: float, channel: str) -> int:
    """A moment during the opening hours of ``channel`` on day ``floor(day)``."""
    first, last = OPENING_HOURS[channel]
    return math.floor(day) * DAY + first * HOUR + int(rng.random() * (last - first) * HOUR)


def later(rng: random.Random, at: int, days: tuple[float, float], channel: str) -> int:
    """A moment ``days`` (low, high) after ``at``, in opening hours when that is later."""
    moment = on_day(rng, at / DAY + rng.uniform(*days), channel)
    return max(moment, at + 60)


def recording_delay(rng: random.Random) -> int:
    """Seconds from occurring to being recorded: a few, or hours to days for ~1%."""
    if rng.random() < mix.LATE_RECORDED_SHARE:
        low, high = mix.LATE_DELAY_HOURS
        hours = math.exp(rng.uniform(math.log(low), math.log(high)))
        return round(hours * HOUR)
    low, high = mix.RECORDING_DELAY_SECONDS
    return low + int(rng.random() * (high - low + 1))


def utc_start(start: datetime) -> datetime:
    """``start`` in UTC; refuses a naive datetime (times always carry a zone)."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware, e.g. datetime(2025, 1, 1, tzinfo=UTC)")
    return start.astimezone(UTC)


def iso(start: datetime, seconds: int) -> str:
    """The ISO 8601 string (``+00:00``) of ``seconds`` after a UTC ``start``.

    Same text as ``(start + timedelta(seconds=seconds)).isoformat()``, about
    three times faster for whole-second starts (the common case).
    """
    if start.microsecond:
        return (start + timedelta(seconds=seconds)).isoformat()
    since_midnight = start.hour * HOUR + start.minute * 60 + start.second + seconds
    day, rest = divmod(since_midnight, DAY)
    hour, rest = divmod(rest, HOUR)
    return f"{_date(start.date(), day)}T{hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00:00"


@functools.lru_cache(maxsize=4096)
def _date(first: date, days: int) -> str:
    return (first + timedelta(days=days)).isoformat()
