"""The envelope every touchpoint event carries, and the small shared types.

May import: pydantic, stdlib.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

# Customer ids are opaque, pseudonymous keys: they become Kafka keys and DuckDB
# primary keys, which can never be erased. The pattern keeps e-mail addresses,
# names and phone numbers with spaces or "+" out of them.
CustomerId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"),
    Field(
        description="Opaque pseudonymous customer id (no PII): letters, digits, '_.:-', "
        "at most 64 characters."
    ),
]

# Short machine-readable codes (categories, reasons, outcomes, store ids).
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.:\-/ ]+$")]

CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 currency code, e.g. EUR, CNY, USD."),
]

# strict: a JSON true, "12" or 12.0 is not an amount (lax mode would take true as 1).
MinorUnits = Annotated[
    int,
    Field(
        ge=0,
        le=10**15,
        strict=True,
        description="Money in integer minor units of the currency (cents, fen), never a float.",
    ),
]


def _not_a_number(value: object) -> object:
    # Epoch numbers are ambiguous (seconds or milliseconds?) and the published
    # schema says date-time string: refuse them rather than guess.
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date-time string with offset, not a number")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]


# Validation context of records read off the wire (see Envelope._version_on_the_wire).
WIRE: dict[str, bool] = {"wire": True}


def cross_field_error(field: str, reason: str) -> PydanticCustomError:
    """A rule over several fields, blamed on the field to fix (the codec reports that name)."""
    return PydanticCustomError("cross_field", "{reason}", {"field": field, "reason": reason})


class Channel(StrEnum):
    """Where the touchpoint happened."""

    STORE = "store"
    WEB = "web"
    APP = "app"
    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    FIELD = "field"
    EVENT = "event"
    MAIL = "mail"
    OTHER = "other"


class Frozen(BaseModel):
    """Base for every contract model: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Envelope(Frozen):
    """Fields common to every touchpoint event (a fact; never mutated)."""

    event_id: UUID = Field(description="Unique id of this event; redeliveries carry the same id.")
    event_type: str = Field(description="Tag naming the kind of touchpoint (snake_case).")
    schema_version: int = Field(ge=1, description="Version of this event type's contract.")
    customer_id: CustomerId
    occurred_at: Timestamp = Field(
        description="When it happened (event time), timezone-aware ISO 8601."
    )
    recorded_at: Timestamp = Field(
        description="When a system first recorded it (timezone-aware); may be much later than "
        "occurred_at for late or imported events."
    )
    channel: Channel = Field(description="Channel of the contact.")
    source: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="System or process that emitted the event, e.g. 'pos', 'web-shop', 'crm'."
    )

    @model_validator(mode="before")
    @classmethod
    def _version_on_the_wire(cls, data: Any, info: ValidationInfo) -> Any:
        # Python code may leave schema_version to its default, but a record read off
        # the wire must state it: an old record without it would pass as the current.
        on_wire = info.context == WIRE and isinstance(data, dict)
        if on_wire and type(data.get("schema_version")) is not int:
            raise cross_field_error("schema_version", "missing or not an integer")
        return data
