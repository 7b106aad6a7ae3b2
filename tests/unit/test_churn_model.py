"""The low_p_alive warning from the lifetime-value model, refit after refit."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.churn import ChurnRules, OpenWarning
from projections.churn_model import model_warnings

RULES = ChurnRules()  # raise below 0.3, critical below 0.1, clear at 0.4 or more
FIT1 = datetime(2025, 6, 1, tzinfo=UTC)
FIT2 = datetime(2025, 7, 1, tzinfo=UTC)


def test_raised_below_the_threshold_with_its_evidence() -> None:
    events = model_warnings({"A": 0.25, "B": 0.05, "C": 0.9}, {}, FIT1, RULES)
    assert [(e.customer_id, e.kind, e.severity) for e in events] == [
        ("A", "raised", "warning"),
        ("B", "raised", "critical"),
    ]
    assert events[0].evidence == {"low_p_alive": {"p_alive": 0.25}}
    assert {e.source for e in events} == {"model"} and events[0].reasons == ("low_p_alive",)
    assert events[0].occurred_at == FIT1


def test_cleared_only_at_the_recovery_threshold_and_the_same_id_is_kept() -> None:
    first = model_warnings({"A": 0.25}, {}, FIT1, RULES)[0]
    held = {"A": OpenWarning(first.warning_id, first.reasons, first.severity)}
    assert model_warnings({"A": 0.35}, held, FIT2, RULES) == []  # hysteresis: 0.3..0.4 stays
    cleared = model_warnings({"A": 0.45}, held, FIT2, RULES)
    assert [(e.kind, e.warning_id) for e in cleared] == [("cleared", first.warning_id)]
    worse = model_warnings({"A": 0.05}, held, FIT2, RULES)
    assert [(e.kind, e.severity) for e in worse] == [("updated", "critical")]


def test_a_refit_over_the_same_scores_publishes_the_same_events() -> None:
    scores = {"A": 0.2, "B": 0.01}
    assert model_warnings(scores, {}, FIT1, RULES) == model_warnings(scores, {}, FIT1, RULES)


def test_a_customer_no_longer_scored_is_cleared() -> None:
    held = {"Z": OpenWarning("w", ("low_p_alive",), "warning")}
    events = model_warnings({}, held, FIT2, RULES)
    assert [(e.kind, e.customer_id) for e in events] == [("cleared", "Z")]
    assert "merged" in (events[0].why or "")
