"""The published JSON Schemas: valid, complete, and in agreement with the decoder."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from schemas.codec import EventDecodeError, decode, encode, seal_input
from schemas.jsonschema import DIALECT, event_json_schemas, schema_file_name
from schemas.touchpoints import EVENT_TYPES, current_version
from tests.builders import DEFAULT_SEALER, a_call, a_complaint, a_purchase, a_survey, an_event
from tests.strategies import STRATEGIES

# RFC 3339 date-time, offset required (jsonschema only checks it when the optional
# rfc3339-validator is installed; this keeps the check on either way).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", re.ASCII
)
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
def _is_rfc3339(value: object) -> bool:
    if not isinstance(value, str):
        return True  # formats only constrain strings
    if not _RFC3339.match(value):
        return False
    datetime.fromisoformat(value.upper().replace("Z", "+00:00"))  # real calendar date
    return True


SCHEMAS = event_json_schemas()
VALIDATORS = {
    tag: Draft202012Validator(SCHEMAS[schema_file_name(tag)], format_checker=FORMATS)
    for tag in EVENT_TYPES
}


def wire(event_raw: dict[str, Any]) -> Any:
    return seal_input(event_raw, DEFAULT_SEALER)


def test_one_schema_per_event_type_named_by_tag_and_version() -> None:
    expected = {f"{tag}.v{current_version(tag)}.schema.json" for tag in EVENT_TYPES}
    assert set(SCHEMAS) == expected


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_schema_is_a_valid_draft_2020_12_schema(tag: str) -> None:
    schema = SCHEMAS[schema_file_name(tag)]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == DIALECT
    assert schema["$id"] == f"urn:touchpoint:event:{tag}:v{current_version(tag)}"


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_schema_pins_its_tag_and_version_and_forbids_extras(tag: str) -> None:
    schema = SCHEMAS[schema_file_name(tag)]
    assert {"event_id", "event_type", "schema_version", "customer_id"} <= set(schema["required"])
    assert {"occurred_at", "recorded_at", "channel", "source"} <= set(schema["required"])
    assert schema["properties"]["event_type"]["const"] == tag
    assert schema["properties"]["schema_version"]["const"] == current_version(tag)
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_every_field_is_described(tag: str) -> None:
    schema = SCHEMAS[schema_file_name(tag)]
    tagged = {"event_type", "schema_version"}  # constants: the tag says it all
    models = [("", schema)] + [(f"{name}.", sub) for name, sub in schema.get("$defs", {}).items()]
    for prefix, model in models:
        for name, prop in model.get("properties", {}).items():
            if name not in tagged:
                assert prop.get("description"), f"{tag}: {prefix}{name} has no description"


def test_the_format_checker_is_really_on() -> None:
    raw = wire(a_purchase())
    for field, bad in [
        ("occurred_at", "2025-03-01T10:00:00"),
        ("occurred_at", "2025-02-30T10:00:00Z"),
        ("event_id", "not-a-uuid"),
    ]:
        assert not VALIDATORS["purchase_completed"].is_valid(raw | {field: bad}), (field, bad)


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_every_encoded_event_validates_against_its_schema(tag: str, data: st.DataObject) -> None:
    event = data.draw(STRATEGIES[tag])
    VALIDATORS[tag].validate(json.loads(encode(event)))


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_the_builders_input_format_is_valid_once_sealed(tag: str) -> None:
    VALIDATORS[tag].validate(wire(an_event(tag)))


# Field-level breakage: the schema and the decoder must both refuse it.
# (Rules over several fields live only in the models; the schema cannot say them.)
BROKEN: list[tuple[dict[str, Any], str, Any]] = [
    (a_purchase(), "amount_minor", True),
    (a_purchase(), "amount_minor", "1250"),
    (a_purchase(), "amount_minor", -1),
    (a_purchase(), "currency", "eur"),
    (a_purchase(), "customer_id", "alice@example.com"),
    (a_purchase(), "occurred_at", "2025-03-01T10:00:00"),
    (a_purchase(), "occurred_at", 1740823200),
    (a_purchase(), "schema_version", 2),
    (a_purchase(), "channel", "pigeon"),
    (a_purchase(), "extra_field", "x"),
    (a_call(), "duration_seconds", 1.5),
    (a_complaint(), "severity", "apocalyptic"),
    (a_survey(), "score", "9"),
    (a_survey(), "scale_max", 101),
]


@pytest.mark.parametrize(
    ("raw", "field", "value"), BROKEN, ids=[f"{f}={v!r}" for _, f, v in BROKEN]
)
def test_schema_and_decoder_refuse_the_same_broken_field(
    raw: dict[str, Any], field: str, value: Any
) -> None:
    record = wire(raw) | {field: value}
    assert not VALIDATORS[raw["event_type"]].is_valid(record)
    with pytest.raises(EventDecodeError):
        decode(json.dumps(record))


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_schema_and_decoder_both_require_the_version(tag: str) -> None:
    record = {k: v for k, v in wire(an_event(tag)).items() if k != "schema_version"}
    assert not VALIDATORS[tag].is_valid(record)
    with pytest.raises(EventDecodeError):
        decode(json.dumps(record))
