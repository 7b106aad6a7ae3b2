"""docs/events.md cannot drift from the code: every tag, field, version and example is checked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from schemas.envelope import Envelope
from schemas.pii import Sealed
from schemas.touchpoints import EVENT_TYPES, Money, OrderLine, current_version
from tests.builders import sealed

DOC = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    """The text under the first heading containing ``heading``, up to the next heading."""
    match = re.search(
        rf"^#{{2,3}} [^\n]*{re.escape(heading)}[^\n]*\n(.*?)(?=^#{{2,3}} |\Z)", DOC, re.M | re.S
    )
    assert match, f"docs/events.md has no section for {heading}"
    return match.group(1)


def heading_of(tag: str) -> str:
    match = re.search(rf"^### `{tag}`[^\n]*$", DOC, re.M)
    assert match, f"docs/events.md has no '### `{tag}`' section"
    return match.group(0)


def own_fields(cls: type[Envelope]) -> list[str]:
    return [name for name in cls.model_fields if name not in Envelope.model_fields]


def json_examples(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in re.findall(r"```json\n(.*?)\n```", text, re.S)]


def test_the_envelope_section_lists_every_envelope_field() -> None:
    text = section("The envelope")
    for name in Envelope.model_fields:
        assert f"`{name}`" in text, f"envelope field {name} is not documented"


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_event_type_has_a_section_naming_class_and_version(tag: str) -> None:
    heading = heading_of(tag)
    assert EVENT_TYPES[tag].__name__ in heading, heading
    assert f"version {current_version(tag)}" in heading, heading


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_event_section_lists_every_field_of_its_model(tag: str) -> None:
    text = section(f"`{tag}`")
    for name in own_fields(EVENT_TYPES[tag]):
        assert f"| `{name}` |" in text, f"{tag}.{name} is missing from its field table"


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_the_overview_table_gives_class_and_version(tag: str) -> None:
    row = f"| `{tag}` | `{EVENT_TYPES[tag].__name__}` | {current_version(tag)} |"
    assert row in section("Event types")


@pytest.mark.parametrize(
    ("heading", "model"), [("OrderLine", OrderLine), ("Money object", Money), ("Sealed", Sealed)]
)
def test_nested_values_list_every_field(heading: str, model: type[Envelope]) -> None:
    text = section(heading)
    for name in model.model_fields:
        assert f"| `{name}` |" in text, f"{heading}.{name} is not documented"


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_each_section_has_an_example_that_decodes_to_its_type(tag: str) -> None:
    examples = json_examples(section(f"`{tag}`"))
    assert examples, f"no example line for {tag}"
    for raw in examples:
        event = sealed(raw)
        assert event.event_type == tag
        assert event.schema_version == current_version(tag)


@pytest.mark.parametrize("tag", sorted(EVENT_TYPES))
def test_personal_data_fields_are_in_the_pii_table(tag: str) -> None:
    table = section("Personal data")
    for name in EVENT_TYPES[tag].pii_fields:
        assert f"| `{tag}` | `{name}` |" in table
