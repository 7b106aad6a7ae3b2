"""Churn warnings: given touchpoints, when time passes, then the warning's life.

Expected values are worked out by hand from the default rules (docs/churn.md),
e.g. the "monthly buyer" (purchases on days 0, 30, 60, 90): personal rhythm =
median gap 30 days, so overdue (warning) at day 90 + 2 x 30 = 150 and critical
at day 90 + 3 x 30 = 180.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.churn import ChurnRules, ChurnWarningEvent, OpenWarning, advance
from projections.complaint_sla import complaint_records
from projections.customer_facts import CustomerFacts, initial, micros, to_datetime
from projections.customer_fold import fold
from tests.builders import (
    T0,
    a_call,
    a_complaint,
    a_purchase,
    a_resolution,
    a_survey,
    a_visit,
    sealed,
)

START = datetime.fromisoformat(T0)
RULES = ChurnRules()
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def facts_of(*raws: dict[str, Any]) -> CustomerFacts:
    return fold(initial("C1"), [sealed(raw) for raw in raws])


def history(
    facts: CustomerFacts, until: float, rules: ChurnRules = RULES
) -> list[ChurnWarningEvent]:
    return list(advance(facts, None, None, day(until), rules).events)


def brief(events: list[ChurnWarningEvent]) -> list[tuple[str, float, tuple[str, ...], str]]:
    return [
        (e.kind, round((e.occurred_at - START) / timedelta(days=1), 3), e.reasons, e.severity)
        for e in events
    ]


MONTHLY = [a_purchase(at=day(d), amount_minor=5000) for d in (0, 30, 60, 90)]


def test_a_silent_churner_is_warned_at_twice_their_rhythm_then_critical_with_no_new_event() -> None:
    events = history(facts_of(*MONTHLY), until=200)
    overdue = [e for e in events if "overdue_purchase" in e.reasons]
    assert (overdue[0].kind, overdue[0].occurred_at) == ("raised", day(150))
    assert overdue[0].evidence["overdue_purchase"]["rhythm_days"] == 30.0
    assert overdue[0].evidence["overdue_purchase"]["personal_rhythm"] is True
    assert any(e.kind == "updated" and e.severity == "critical" and e.occurred_at == day(180)
               for e in events)  # fmt: skip
    assert all(e.kind != "cleared" for e in events)


def test_a_purchase_clears_the_warning_with_why() -> None:
    events = history(facts_of(*MONTHLY, a_purchase(at=day(160), amount_minor=5000)), until=170)
    assert [(e.kind, e.occurred_at) for e in events] == [
        ("raised", day(150)),
        ("cleared", day(160)),
    ]
    assert events[1].why == f"overdue_purchase: purchase resumed on {day(160).date()}"
    assert events[1].warning_id == events[0].warning_id


def test_clear_and_raise_again_gives_a_new_warning_id() -> None:
    buys = [*MONTHLY, a_purchase(at=day(160), amount_minor=5000)]
    events = [e for e in history(facts_of(*buys), until=400) if e.kind != "updated"]
    kinds = [e.kind for e in events]
    assert kinds[:3] == ["raised", "cleared", "raised"]
    assert events[2].warning_id != events[0].warning_id
    # median gap of (30, 30, 30, 70) stays 30: overdue again at 160 + 60
    assert events[2].occurred_at == day(220)


def test_a_one_time_buyer_gets_no_overdue_warning() -> None:
    assert history(facts_of(a_purchase(at=day(0))), until=400) == []


def test_default_rhythm_for_a_customer_with_two_purchase_days() -> None:
    events = history(facts_of(a_purchase(at=day(0)), a_purchase(at=day(5))), until=100)
    assert (events[0].kind, events[0].occurred_at) == ("raised", day(65))  # 5 + 2 x 30
    assert events[0].evidence["overdue_purchase"]["personal_rhythm"] is False


def test_a_lost_customer_is_given_up_after_a_year() -> None:
    events = history(facts_of(*MONTHLY), until=500)
    assert events[-1].kind == "cleared" and events[-1].occurred_at == day(90 + 365)
    assert "given up as lost" in (events[-1].why or "")


def test_no_event_is_emitted_twice_while_open() -> None:
    events = history(facts_of(*MONTHLY), until=300)
    raised = [e for e in events if e.kind == "raised"]
    assert len(raised) == 1


def test_complaint_overdue_by_severity_deadline_then_resolved() -> None:
    facts = facts_of(
        a_purchase(at=day(0)),
        a_complaint(at=day(1), severity="high", complaint_id="K9"),  # deadline: 2 days
        a_resolution(at=day(10), complaint_id="K9", accepted=True),
    )
    events = history(facts, until=20)
    assert brief(events)[0][:3] == ("raised", 3.0, ("complaint_overdue",))
    assert events[0].occurred_at == day(3) + timedelta(microseconds=1)
    assert [e.severity for e in events if e.kind == "updated"] == ["critical"]  # 3 + 4 days
    assert events[-1].kind == "cleared" and events[-1].occurred_at == day(10)
    assert events[-1].why == "complaint_overdue: complaint K9 resolved"


def test_a_complaint_resolved_fast_raises_nothing() -> None:
    facts = facts_of(
        a_purchase(at=day(0)),
        a_complaint(at=day(1)),
        a_resolution(at=day(2), accepted=True),
        a_purchase(at=day(3)),
    )
    assert history(facts, until=30) == []


def test_promised_by_and_category_deadlines_override_the_severity_default() -> None:
    promised = facts_of(a_complaint(at=day(0), promised_by=day(10)))
    assert history(promised, until=12)[0].occurred_at == day(10) + timedelta(microseconds=1)
    rules = ChurnRules(category_deadline_days={"billing": 1})
    by_category = facts_of(a_complaint(at=day(0), category="billing"))
    assert history(by_category, 5, rules)[0].occurred_at == day(1) + timedelta(microseconds=1)


def test_vip_customers_get_halved_deadlines() -> None:
    rules = ChurnRules(vip_spend_minor=100_000)
    big = facts_of(a_purchase(at=day(0), amount_minor=200_000), a_complaint(at=day(1)))
    small = facts_of(a_purchase(at=day(0), amount_minor=2_000), a_complaint(at=day(1)))
    assert history(big, 10, rules)[0].occurred_at == day(2.5) + timedelta(microseconds=1)
    assert history(small, 10, rules)[0].occurred_at == day(4) + timedelta(microseconds=1)


def test_a_rejected_resolution_warns_until_resolved_after_all() -> None:
    facts = facts_of(
        a_complaint(at=day(0)),
        a_resolution(at=day(1), accepted=False, resolution="explanation"),
        a_resolution(at=day(2), accepted=True, resolution="refund"),
    )
    events = history(facts, until=10)
    assert brief(events) == [
        ("raised", 1.0, ("resolution_rejected",), "warning"),
        ("cleared", 2.0, ("resolution_rejected",), "warning"),
    ]
    assert "resolved after all" in (events[1].why or "")


def test_a_poor_follow_up_score_after_a_resolution_counts_as_rejected() -> None:
    facts = facts_of(
        a_complaint(at=day(0)),
        a_resolution(at=day(1), accepted=True),
        a_survey(score=1, scale=(1, 5), at=day(5)),  # 0% of the scale: also low satisfaction
    )
    events = history(facts, until=6)
    assert events[0].reasons == ("low_satisfaction", "resolution_rejected")


def test_low_satisfaction_and_a_drop_of_two_points() -> None:
    low = history(facts_of(a_survey(score=3, at=day(0))), until=1)
    assert brief(low) == [("raised", 0.0, ("low_satisfaction",), "warning")]
    drop = history(facts_of(a_survey(score=9, at=day(0)), a_survey(score=7, at=day(10))), 11)
    assert brief(drop) == [("raised", 10.0, ("low_satisfaction",), "warning")]
    steady = history(facts_of(a_survey(score=9, at=day(0)), a_survey(score=8, at=day(10))), 11)
    assert steady == []


def test_low_satisfaction_expires_or_clears_with_a_better_answer() -> None:
    expired = history(facts_of(a_survey(score=2, at=day(0))), until=200)
    assert [(e.kind, e.occurred_at) for e in expired][-1] == ("cleared", day(180))
    better = history(facts_of(a_survey(score=2, at=day(0)), a_survey(score=8, at=day(20))), 30)
    assert [(e.kind, e.occurred_at) for e in better] == [("raised", day(0)), ("cleared", day(20))]


def test_silent_dissatisfaction_repeat_calls_without_a_complaint() -> None:
    calls = [a_call(at=day(d), reason="delivery", outcome="unresolved") for d in (0, 5, 8)]
    events = history(facts_of(*calls), until=100)
    assert brief(events) == [
        ("raised", 8.0, ("silent_dissatisfaction",), "warning"),
        ("cleared", 90.0, ("silent_dissatisfaction",), "warning"),  # the day-0 call left the window
    ]
    assert history(facts_of(*calls[:2]), until=100) == []  # two calls are not yet a pattern
    assert events[0].evidence["silent_dissatisfaction"]["repeated_reason"] == "delivery"


def test_repeat_calls_that_were_resolved_or_about_a_complaint_are_not_silent() -> None:
    resolved = [a_call(at=day(d), reason="delivery", outcome="resolved") for d in (0, 5, 8)]
    assert history(facts_of(*resolved), until=20) == []
    chased = [
        a_complaint(at=day(0)),
        a_resolution(at=day(1), accepted=True),
        *[a_call(at=day(d), reason="delivery", outcome="unresolved") for d in (2, 3, 4)],
    ]
    assert history(facts_of(*chased), until=20) == []  # they complained: not silent


def test_returns_are_a_silent_signal() -> None:
    calls = [a_call(at=day(d), reason="return", outcome="resolved") for d in (0, 3)]
    assert brief(history(facts_of(*calls), until=4))[0][:3] == (
        "raised", 3.0, ("silent_dissatisfaction",)
    )  # fmt: skip


WEEKLY_YEAR = [a_purchase(at=day(7 * w), amount_minor=2000) for w in range(52)]


def test_falling_frequency_and_spend_against_the_customers_own_year() -> None:
    # weekly for a year, then every third week: 90-day count drops from 13 to ~4-5
    later = [a_purchase(at=day(364 + 21 * w), amount_minor=2000) for w in range(1, 12)]
    events = history(facts_of(*WEEKLY_YEAR, *later), until=600)
    raised = [e for e in events if e.kind in ("raised", "updated")]
    reasons = {code for e in raised for code in e.reasons}
    assert {"falling_frequency", "falling_spend"} <= reasons
    # rhythm: median gap 7 days, floored at 14; overdue at 28 days, never reached by 21-day gaps
    assert "overdue_purchase" not in reasons
    evidence = next(e for e in raised if "falling_frequency" in e.reasons).evidence
    assert evidence["falling_frequency"]["ratio"] < 0.5
    severities = [e.severity for e in raised]
    assert severities == sorted(severities, key=["warning", "critical"].index)  # never back down


def test_the_ratio_rules_do_not_flap_around_their_threshold() -> None:
    # purchases every two weeks after a weekly year: the ratios hover around their limits
    later = [a_purchase(at=day(364 + d), amount_minor=2000) for d in (14, 30, 44, 60, 74, 90)]
    facts = facts_of(*WEEKLY_YEAR, *later)
    kinds = [e.kind for e in history(facts, until=364 + 95)]
    assert kinds.count("raised") == 1 and "cleared" not in kinds
    # the same history with no gap between raising and clearing limits does flap
    flat = ChurnRules(frequency_recover_ratio=0.5, spend_recover_ratio=0.6)
    flapping = [e.kind for e in history(facts, until=364 + 95, rules=flat)]
    assert flapping.count("raised") > 1 and "cleared" in flapping


def test_steady_customers_get_no_warning() -> None:
    assert history(facts_of(*WEEKLY_YEAR), until=364) == []
    monthly_year = [a_purchase(at=day(30 * m), amount_minor=5000) for m in range(13)]
    assert history(facts_of(*monthly_year, a_visit(at=day(100))), until=360) == []


def test_a_late_event_revises_the_published_warning_once() -> None:
    early = facts_of(*MONTHLY)
    first = advance(early, None, None, day(170), RULES)
    assert first.open is not None
    revised = facts_of(*MONTHLY, a_purchase(at=day(155), amount_minor=5000))
    second = advance(revised, first.open, day(170), day(175), RULES)
    assert [e.kind for e in second.events] == ["cleared"]
    assert second.events[0].occurred_at == day(170) + timedelta(microseconds=1)
    assert (second.events[0].why or "").startswith("revised by late events")
    assert second.open is None


def test_due_is_the_next_time_driven_change() -> None:
    progress = advance(facts_of(*MONTHLY), None, None, day(100), RULES)
    assert progress.events == () and progress.due == micros(day(150))
    progress = advance(facts_of(*MONTHLY), None, None, day(150), RULES)
    assert progress.due == micros(day(180))


def test_records_round_trip() -> None:
    event = history(facts_of(*MONTHLY), until=200)[0]
    assert ChurnWarningEvent.from_json(event.to_json()) == event
    with pytest.raises(ValueError, match="not a churn warning event"):
        ChurnWarningEvent.from_json(b'{"type": "x", "version": 1}')


def test_rules_refuse_inconsistent_thresholds() -> None:
    with pytest.raises(ValueError, match="overdue_multiplier"):
        ChurnRules(overdue_multiplier=4)
    with pytest.raises(ValueError, match="recover"):
        ChurnRules(frequency_recover_ratio=0.3)
    with pytest.raises(ValueError, match="lacks"):
        ChurnRules(complaint_deadline_days={"low": 1})


def test_complaint_records_outcomes_and_repurchase() -> None:
    facts = facts_of(
        a_complaint(at=day(0), complaint_id="FAST"),
        a_resolution(at=day(1), complaint_id="FAST", accepted=True),
        a_complaint(at=day(10), complaint_id="SLOW", severity="critical"),
        a_resolution(at=day(15), complaint_id="SLOW"),
        a_complaint(at=day(20), complaint_id="NEVER"),
        a_purchase(at=day(12)),
    )
    rows = {r.complaint_id: r for r in complaint_records(facts, RULES)}
    assert rows["FAST"].outcome == "on_time" and rows["FAST"].hours_to_resolve == 24.0
    assert rows["FAST"].repurchased_at == day(12)
    assert rows["SLOW"].outcome == "late" and rows["SLOW"].deadline == day(11)
    assert rows["SLOW"].repurchased_at is None  # bought on day 12, before the resolution
    assert rows["NEVER"].outcome == "open" and rows["NEVER"].resolved_at is None


# -- properties: batching and order can't change the published history --

EVENTS = st.lists(
    st.one_of(
        st.builds(lambda d, a: a_purchase(at=day(d), amount_minor=a),
                  st.integers(0, 400), st.integers(100, 20_000)),
        st.builds(lambda d, s: a_survey(score=s, at=day(d)),
                  st.integers(0, 400), st.integers(0, 10)),
        st.builds(lambda d, r, o: a_call(at=day(d), reason=r, outcome=o), st.integers(0, 400),
                  st.sampled_from(["delivery", "return", "billing"]),
                  st.sampled_from(["resolved", "unresolved"])),
        st.builds(lambda d, k: a_complaint(at=day(d), complaint_id=f"K{k}"),
                  st.integers(0, 400), st.integers(0, 3)),
        st.builds(lambda d, k, a: a_resolution(at=day(d), complaint_id=f"K{k}", accepted=a),
                  st.integers(0, 400), st.integers(0, 3), st.sampled_from([True, False, None])),
    ),
    max_size=25,
)  # fmt: skip


@PROPERTY
@given(EVENTS, st.lists(st.integers(1, 500), max_size=6))
def test_advancing_in_any_steps_publishes_the_history_of_one_step(
    raws: list[dict[str, Any]], cuts: list[int]
) -> None:
    facts = facts_of(*raws)
    whole = advance(facts, None, None, day(520), RULES).events
    steps: list[ChurnWarningEvent] = []
    since: datetime | None = None
    open_: OpenWarning | None = None
    for cut in [*sorted(set(cuts)), 520]:
        progress = advance(facts, open_, since, day(cut), RULES)
        steps.extend(progress.events)
        since, open_ = day(cut), progress.open
    assert steps == list(whole)


@PROPERTY
@given(EVENTS)
def test_the_lifecycle_is_well_formed(raws: list[dict[str, Any]]) -> None:
    open_ids: set[str] = set()
    last: datetime | None = None
    for event in advance(facts_of(*raws), None, None, day(800), RULES).events:
        assert last is None or event.occurred_at > last
        last = event.occurred_at
        if event.kind == "raised":
            assert not open_ids and event.reasons
            open_ids.add(event.warning_id)
        else:
            assert open_ids == {event.warning_id}
            if event.kind == "cleared":
                open_ids.clear()


def test_due_matches_the_first_time_driven_event() -> None:
    facts = facts_of(*MONTHLY, a_complaint(at=day(95)))
    progress = advance(facts, None, None, day(96), RULES)
    nxt = advance(facts, progress.open, day(96), day(400), RULES).events[0]
    assert progress.due is not None and to_datetime(progress.due) == nxt.occurred_at
