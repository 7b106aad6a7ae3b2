"""Upcasting: old records on the log decode to the newest version of their event."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from schemas.codec import EventDecodeError, decode, encode
from schemas.touchpoints import SurveyAnswered, current_version
from schemas.upcasters import UPCASTERS, upcast, upcaster

# Records exactly as an old producer wrote them. Kept as literal text: never
# regenerate them from today's models, or they stop proving anything.
SURVEY_V1 = """{"event_id": "0b6a6c1e-2f0a-4c55-9a39-0d7c2b1f5e01", "event_type": "survey_answered",
"schema_version": 1, "customer_id": "C1", "occurred_at": "2024-06-01T09:30:00+02:00",
"recorded_at": "2024-06-01T09:31:12+02:00", "channel": "email", "source": "survey-tool",
"survey_id": "nps-2024-q2", "score": 7}"""

OLD_FIXTURES: dict[tuple[str, int], str] = {
    ("survey_answered", 1): SURVEY_V1,
}


def test_a_v1_survey_decodes_as_v2_on_the_nps_scale_with_the_same_score() -> None:
    event = decode(SURVEY_V1)
    assert isinstance(event, SurveyAnswered)
    assert event.schema_version == 2
    assert (event.scale_min, event.scale_max) == (0, 10)
    assert event.score == 7
    assert (event.customer_id, event.survey_id) == ("C1", "nps-2024-q2")
    assert event.occurred_at.isoformat() == "2024-06-01T09:30:00+02:00"


def test_a_v1_survey_re_encodes_as_v2() -> None:
    wire = json.loads(encode(decode(SURVEY_V1)))
    assert wire["schema_version"] == 2
    assert (wire["scale_min"], wire["scale_max"], wire["score"]) == (0, 10, 7)


def test_every_registered_upcaster_hop_has_an_old_fixture() -> None:
    assert set(UPCASTERS) <= set(OLD_FIXTURES)


@pytest.mark.parametrize(("hop", "fixture"), OLD_FIXTURES.items(), ids=str)
def test_every_old_fixture_decodes_to_the_current_version(
    hop: tuple[str, int], fixture: str
) -> None:
    event_type, _ = hop
    event = decode(fixture)
    assert event.event_type == event_type
    assert event.schema_version == current_version(event_type)


@pytest.mark.parametrize(("hop", "fixture"), OLD_FIXTURES.items(), ids=str)
def test_each_hop_lifts_one_version_and_leaves_its_input_alone(
    hop: tuple[str, int], fixture: str
) -> None:
    _, from_version = hop
    raw = json.loads(fixture)
    assert raw["schema_version"] == from_version
    before = copy.deepcopy(raw)
    lifted = upcast(raw, from_version + 1)
    assert lifted["schema_version"] == from_version + 1
    assert raw == before  # pure: the caller's record is untouched


@pytest.mark.parametrize("score", [0, 10])
def test_v1_scores_at_the_ends_of_the_nps_scale_are_kept(score: int) -> None:
    raw = json.loads(SURVEY_V1) | {"score": score}
    assert decode(json.dumps(raw)).score == score  # type: ignore[union-attr]


@pytest.mark.parametrize("score", [11, -1])
def test_a_v1_score_outside_0_to_10_is_refused_naming_score(score: int) -> None:
    raw = json.loads(SURVEY_V1) | {"score": score}
    with pytest.raises(EventDecodeError) as caught:
        decode(json.dumps(raw))
    assert [e.field for e in caught.value.errors] == ["score"]
    assert str(score) in caught.value.errors[0].reason


def test_a_current_version_record_is_not_touched() -> None:
    raw = {"event_type": "purchase_completed", "schema_version": 1, "amount_minor": 5}
    assert upcast(dict(raw), 1) == raw


def test_hops_chain_from_any_old_version_to_the_newest(monkeypatch: pytest.MonkeyPatch) -> None:
    def v1_to_v2(raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "steps": [*raw.get("steps", []), "1->2"]}

    def v2_to_v3(raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "steps": [*raw.get("steps", []), "2->3"]}

    monkeypatch.setitem(UPCASTERS, ("widget_seen", 1), v1_to_v2)
    monkeypatch.setitem(UPCASTERS, ("widget_seen", 2), v2_to_v3)
    lifted = upcast({"event_type": "widget_seen", "schema_version": 1}, 3)
    assert lifted == {"event_type": "widget_seen", "schema_version": 3, "steps": ["1->2", "2->3"]}
    from_v2 = upcast({"event_type": "widget_seen", "schema_version": 2}, 3)
    assert from_v2["steps"] == ["2->3"]


def test_a_missing_hop_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(LookupError, match="purchase_completed v1"):
        upcast({"event_type": "purchase_completed", "schema_version": 1}, 2)


def test_a_second_upcaster_for_the_same_hop_is_refused() -> None:
    with pytest.raises(ValueError, match="two upcasters"):
        upcaster("survey_answered", 1)(lambda raw: raw)
    assert UPCASTERS[("survey_answered", 1)].__name__ == "survey_answered_v1_to_v2"


def test_an_upcaster_that_fails_is_reported_against_schema_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(raw: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("score")

    monkeypatch.setitem(UPCASTERS, ("survey_answered", 1), broken)
    with pytest.raises(EventDecodeError) as caught:
        decode(SURVEY_V1)
    assert [e.field for e in caught.value.errors] == ["schema_version"]
