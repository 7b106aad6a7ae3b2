"""The published contract: one JSON Schema (draft 2020-12) per event type.

May import: pydantic, stdlib, schemas.
"""

from __future__ import annotations

from typing import Any

from schemas.touchpoints import EVENT_TYPES, current_version

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_file_name(event_type: str) -> str:
    """File name of an event type's schema, e.g. ``purchase_completed.v1.schema.json``."""
    return f"{event_type}.v{current_version(event_type)}.schema.json"


def event_json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema of the wire format, for every event type."""
    schemas: dict[str, dict[str, Any]] = {}
    for event_type, cls in sorted(EVENT_TYPES.items()):
        version = current_version(event_type)
        body = cls.model_json_schema(mode="validation")
        # The tag and version are constants on the wire: make them required.
        body["required"] = sorted({*body.get("required", ()), "event_type", "schema_version"})
        schemas[schema_file_name(event_type)] = {
            "$schema": DIALECT,
            "$id": f"urn:touchpoint:event:{event_type}:v{version}",
            **body,
        }
    return schemas
