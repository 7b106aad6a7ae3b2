"""Touchpoint event contracts.

The wire contract of every customer touchpoint: frozen pydantic models, the
codec (bytes <-> event, upcasting old versions first), the PII sealing rules
and the JSON Schema export. Imports pydantic and cryptography only; nothing
here knows Kafka, Faust or DuckDB.
"""

from schemas.codec import EventDecodeError, FieldError, decode, decode_obj, encode
from schemas.envelope import Channel, Envelope
from schemas.pii import InMemoryKeyVault, KeyVault, PiiSealer, Sealed
from schemas.touchpoints import (
    EVENT_TYPES,
    CallHandled,
    ComplaintFiled,
    ComplaintResolved,
    CustomerRegistered,
    IdentityLinked,
    OrderLine,
    PurchaseCompleted,
    ReferralMade,
    SurveyAnswered,
    TouchpointEvent,
    VisitRecorded,
)

__all__ = [
    "EVENT_TYPES",
    "CallHandled",
    "Channel",
    "ComplaintFiled",
    "ComplaintResolved",
    "CustomerRegistered",
    "Envelope",
    "EventDecodeError",
    "FieldError",
    "IdentityLinked",
    "InMemoryKeyVault",
    "KeyVault",
    "OrderLine",
    "PiiSealer",
    "PurchaseCompleted",
    "ReferralMade",
    "Sealed",
    "SurveyAnswered",
    "TouchpointEvent",
    "VisitRecorded",
    "decode",
    "decode_obj",
    "encode",
]
