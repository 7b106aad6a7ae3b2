"""One frozen model per touchpoint kind, and the discriminated union of them.

Class names are past tense, ``event_type`` tags snake_case. Tags and field
names are a wire contract: never rename one; add a version and an upcaster
(schemas/upcasters.py). Each class's ``schema_version`` literal is its
current version: folds only ever see that one.

May import: pydantic, schemas.envelope, schemas.pii.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, TypeAdapter, model_validator

from schemas.envelope import (
    Code,
    CurrencyCode,
    CustomerId,
    Envelope,
    Frozen,
    MinorUnits,
    Timestamp,
    cross_field_error,
)
from schemas.pii import IdentifierKind, Sealed

ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Seconds = Annotated[
    int, Field(ge=0, le=7 * 24 * 3600, strict=True, description="Duration in seconds.")
]


class Touchpoint(Envelope):
    """Base of the concrete events. ``pii_fields`` names the fields that hold
    personal data and, for identifiers, the kind used to fingerprint them."""

    pii_fields: ClassVar[dict[str, IdentifierKind | None]] = {}


class CustomerRegistered(Touchpoint):
    """A customer became known: sign-up, card issued, account opened."""

    event_type: Literal["customer_registered"] = "customer_registered"
    schema_version: Literal[1] = 1
    segment: Literal["consumer", "business"] = Field(
        "consumer", description="Consumer or business account."
    )
    name: Sealed | None = Field(None, description="Full name (sealed PII).")
    email: Sealed | None = Field(None, description="E-mail address (sealed PII, fingerprinted).")
    phone: Sealed | None = Field(None, description="Phone number (sealed PII, fingerprinted).")
    region: Code | None = Field(None, description="Region or owning branch.")

    pii_fields: ClassVar[dict[str, IdentifierKind | None]] = {
        "name": None,
        "email": "email",
        "phone": "phone",
    }


class OrderLine(Frozen):
    """One line of an order."""

    sku: Code = Field(description="Product or service code.")
    category: Code | None = Field(None, description="Product category.")
    quantity: int = Field(gt=0, le=1_000_000, strict=True, description="Units bought.")
    unit_price_minor: MinorUnits


class PurchaseCompleted(Touchpoint):
    """The customer paid for an order."""

    event_type: Literal["purchase_completed"] = "purchase_completed"
    schema_version: Literal[1] = 1
    order_id: Code = Field(description="Order id in the selling system.")
    amount_minor: MinorUnits
    currency: CurrencyCode
    lines: tuple[OrderLine, ...] = Field((), description="Order lines, when known.")
    store_id: Code | None = Field(None, description="Store, branch or site of the sale.")


class VisitRecorded(Touchpoint):
    """The customer visited a store, branch, site or page without it being a sale."""

    event_type: Literal["visit_recorded"] = "visit_recorded"
    schema_version: Literal[1] = 1
    location: Code | None = Field(None, description="Store or branch visited.")
    page: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        None, description="Web or app page (path, no query string)."
    )
    duration_seconds: Seconds | None = Field(None, description="How long the visit lasted.")

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.location is None and self.page is None:
            raise cross_field_error("location", "a visit needs a location or a page")
        return self


class CallHandled(Touchpoint):
    """A phone call with the customer, either way."""

    event_type: Literal["call_handled"] = "call_handled"
    schema_version: Literal[1] = 1
    direction: Literal["inbound", "outbound"] = Field(description="Who called whom.")
    reason: Code = Field(description="Why, e.g. 'billing', 'delivery', 'follow_up'.")
    duration_seconds: Seconds
    outcome: Literal["resolved", "unresolved", "callback_scheduled", "transferred", "no_answer"] = (
        Field(description="How the call ended.")
    )
    complaint_id: Code | None = Field(None, description="The complaint this call is about, if any.")


class ComplaintFiled(Touchpoint):
    """The customer complained."""

    event_type: Literal["complaint_filed"] = "complaint_filed"
    schema_version: Literal[1] = 1
    complaint_id: Code = Field(description="Id that links the complaint to its resolution.")
    category: Code = Field(description="e.g. 'product', 'price', 'staff', 'delay', 'billing'.")
    severity: Literal["low", "medium", "high", "critical"] = Field(
        description="How serious the customer's problem is."
    )
    promised_by: Timestamp | None = Field(
        None, description="Resolution deadline promised to the customer, if one was given."
    )

    @model_validator(mode="after")
    def _deadline_after_filing(self) -> Self:
        if self.promised_by is not None and self.promised_by < self.occurred_at:
            raise cross_field_error("promised_by", "promised_by is before occurred_at")
        return self


class Money(Frozen):
    """An amount of money."""

    amount_minor: MinorUnits
    currency: CurrencyCode


class ComplaintResolved(Touchpoint):
    """A complaint was answered with a resolution."""

    event_type: Literal["complaint_resolved"] = "complaint_resolved"
    schema_version: Literal[1] = 1
    complaint_id: Code = Field(description="The complaint this resolves.")
    resolution: Code = Field(description="e.g. 'refund', 'replacement', 'explanation', 'gift'.")
    accepted: bool | None = Field(
        None,
        strict=True,
        description="Whether the customer accepted the resolution; null when not asked.",
    )
    compensation: Money | None = Field(None, description="Compensation given, if any.")


Score = Annotated[int, Field(ge=-100, le=100, strict=True)]


class SurveyAnswered(Touchpoint):
    """The customer answered a satisfaction survey (version 2: explicit scale).

    Version 1 had no scale: its scores were 0-10 (NPS style). The upcaster
    ``survey_answered`` 1 -> 2 adds ``scale_min=0, scale_max=10``.
    """

    event_type: Literal["survey_answered"] = "survey_answered"
    schema_version: Literal[2] = 2
    survey_id: Code | None = Field(None, description="Which survey or campaign.")
    score: Score = Field(description="Overall satisfaction on the given scale.")
    scale_min: Score = Field(description="Lowest possible score, e.g. 0 or 1.")
    scale_max: Score = Field(description="Highest possible score, e.g. 5 or 10.")
    expectation: Score | None = Field(None, description="Expectation before (ACSI), same scale.")
    perceived_quality: Score | None = Field(None, description="Perceived quality, same scale.")
    perceived_value: Score | None = Field(None, description="Perceived value, same scale.")
    comment: Sealed | None = Field(None, description="Free text (sealed: it may hold PII).")

    pii_fields: ClassVar[dict[str, IdentifierKind | None]] = {"comment": None}

    @model_validator(mode="after")
    def _on_scale(self) -> Self:
        if self.scale_min >= self.scale_max:
            raise cross_field_error("scale_max", "scale_min must be below scale_max")
        for name in ("score", "expectation", "perceived_quality", "perceived_value"):
            value = getattr(self, name)
            if value is not None and not self.scale_min <= value <= self.scale_max:
                reason = f"{name}={value} is outside {self.scale_min}..{self.scale_max}"
                raise cross_field_error(name, reason)
        return self


class ReferralMade(Touchpoint):
    """The customer recommended someone who became known to us."""

    event_type: Literal["referral_made"] = "referral_made"
    schema_version: Literal[1] = 1
    referred_customer_id: CustomerId

    @model_validator(mode="after")
    def _not_self(self) -> Self:
        if self.referred_customer_id == self.customer_id:
            raise cross_field_error(
                "referred_customer_id", "referred_customer_id equals customer_id"
            )
        return self


class IdentityLinked(Touchpoint):
    """Another identifier of the same person: an e-mail, phone, card, or customer id."""

    event_type: Literal["identity_linked"] = "identity_linked"
    schema_version: Literal[1] = 1
    identifier_kind: Literal["email", "phone", "card", "customer_id"] = Field(
        description="What kind of identifier is linked."
    )
    identifier: Sealed | None = Field(
        None, description="The e-mail, phone or card (sealed PII, fingerprinted)."
    )
    linked_customer_id: CustomerId | None = Field(
        None, description="The other customer id, when identifier_kind is customer_id."
    )

    pii_fields: ClassVar[dict[str, IdentifierKind | None]] = {"identifier": None}

    @model_validator(mode="after")
    def _one_identifier(self) -> Self:
        kind = self.identifier_kind
        needs, forbidden = ("identifier", "linked_customer_id")
        if kind == "customer_id":
            needs, forbidden = forbidden, needs
        if getattr(self, needs) is None:
            raise cross_field_error(needs, f"identifier_kind {kind} needs {needs}")
        if getattr(self, forbidden) is not None:
            raise cross_field_error(forbidden, f"identifier_kind {kind} takes no {forbidden}")
        if self.linked_customer_id == self.customer_id:
            raise cross_field_error("linked_customer_id", "linked_customer_id equals customer_id")
        if self.identifier is not None and self.identifier.fingerprint is None:
            raise cross_field_error("identifier", "identifier needs a fingerprint")
        return self


TouchpointEvent = Annotated[
    CustomerRegistered
    | PurchaseCompleted
    | VisitRecorded
    | CallHandled
    | ComplaintFiled
    | ComplaintResolved
    | SurveyAnswered
    | ReferralMade
    | IdentityLinked,
    Field(discriminator="event_type"),
]

EVENT_CLASSES: tuple[type[Touchpoint], ...] = (
    CustomerRegistered,
    PurchaseCompleted,
    VisitRecorded,
    CallHandled,
    ComplaintFiled,
    ComplaintResolved,
    SurveyAnswered,
    ReferralMade,
    IdentityLinked,
)

# tag -> model class
EVENT_TYPES: dict[str, type[Touchpoint]] = {
    cls.model_fields["event_type"].default: cls for cls in EVENT_CLASSES
}

EVENT_ADAPTER: TypeAdapter[TouchpointEvent] = TypeAdapter(TouchpointEvent)


def current_version(event_type: str) -> int:
    """The schema version this code reads and writes for ``event_type``."""
    version = EVENT_TYPES[event_type].model_fields["schema_version"].default
    assert isinstance(version, int)
    return version
