"""Dead letters: records refused by validation, kept with the reason.

The record value is kept byte for byte (personal data sealed where it could
be); why it was refused and where it came from travel in headers, so a fixed
record can be re-driven later without re-encoding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from schemas import FieldError

REASON = "dlq.reason"
ERRORS = "dlq.errors"
ORIGIN = "dlq.origin"
ORIGIN_TOPIC = "dlq.topic"
ORIGIN_PARTITION = "dlq.partition"
ORIGIN_OFFSET = "dlq.offset"


@dataclass(frozen=True)
class DeadLetter:
    """A refused record and why."""

    value: bytes
    key: bytes | None
    reason: str
    origin: str  # e.g. "produce:events.jsonl:12" or "touchpoints/3@1042"
    errors: Sequence[FieldError] = ()
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers describing the failure."""
        fields = [{"field": e.field, "reason": e.reason} for e in self.errors]
        headers = [
            (REASON, self.reason.encode()),
            (ORIGIN, self.origin.encode()),
            (ERRORS, json.dumps(fields).encode()),
        ]
        if self.topic is not None:
            headers += [
                (ORIGIN_TOPIC, self.topic.encode()),
                (ORIGIN_PARTITION, str(self.partition).encode()),
                (ORIGIN_OFFSET, str(self.offset).encode()),
            ]
        return headers
