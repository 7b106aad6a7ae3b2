"""The loyalty ladder: given touchpoints, when time passes, then the stage.

Expected stages are worked out by hand from the default rules in
docs/loyalty.md, e.g. the "monthly buyer" (purchases on days 0, 30, 60, 90):
rhythm = median gap 30 days, so at risk after 2 × 30 = 60 quiet days and
lapsed after max(3 × 30, 180) = 180; loyal from day 90 (4 purchase days
spread over 90 days within 365).
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime, timedelta
from functools import reduce
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.customer_facts import CustomerFacts, initial, merge
from projections.customer_fold import fold
from projections.loyalty import (
    DueQueue,
    LoyaltyRules,
    LoyaltyStageChanged,
    Stage,
    assess,
    correction,
    due_at,
    transitions,
)
from schemas.touchpoints import TouchpointEvent
from tests.builders import (
    T0,
    a_complaint,
    a_purchase,
    a_referral,
    a_resolution,
    a_survey,
    a_visit,
    eid,
    sealed,
)

START = datetime.fromisoformat(T0)  # day 0, 10:00 UTC
MICRO = timedelta(microseconds=1)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Raw = dict[str, Any]


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def facts(*raws: Raw, customer: str = "C1") -> CustomerFacts:
    return fold(initial(customer), [sealed(raw) for raw in raws])


def bought(*days: float, customer: str = "C1") -> list[Raw]:
    return [a_purchase(customer, at=day(d), event_id=eid(f"{customer}-p{d}")) for d in days]


def stage(state: CustomerFacts, when: datetime) -> Stage:
    return assess(state, when).stage


def changes(state: CustomerFacts, since: datetime | None, until: datetime) -> list[tuple[Any, ...]]:
    """(from, to, when, trigger) of each change: the readable part of the events."""
    return [
        (c.from_stage, c.to_stage, c.occurred_at, c.trigger_event_id)
        for c in transitions(state, since, until)
    ]


MONTHLY = bought(0, 30, 60, 90)


# -- up the ladder ----------------------------------------------------------------------


def test_a_contact_without_purchase_is_a_prospect() -> None:
    given = facts(a_visit(at=day(0), event_id=eid("visit")))

    assert assess(given, day(-1)).since is None  # nothing known yet
    assert stage(given, day(1)) is Stage.PROSPECT
    assert assess(given, day(1)).since == day(0)
    assert changes(given, None, day(10)) == [(None, Stage.PROSPECT, day(0), UUID(eid("visit")))]


def test_a_first_purchase_day_makes_a_first_time_buyer() -> None:
    given = facts(a_visit(at=day(0)), *bought(2, 2.1))  # 10:00 and 12:24 on one day

    assessed = assess(given, day(3))

    assert assessed.stage is Stage.FIRST_TIME_BUYER
    assert assessed.since == day(2)


def test_a_purchase_on_a_second_day_makes_a_repeat_buyer() -> None:
    given = facts(*bought(0, 1))

    assert assess(given, day(1)).stage is Stage.REPEAT_BUYER
    assert assess(given, day(1)).since == day(1)
    assert stage(given, day(1) - MICRO) is Stage.FIRST_TIME_BUYER


def test_a_regular_rhythm_makes_a_loyal_customer() -> None:
    given = facts(*MONTHLY)

    assert stage(given, day(89)) is Stage.REPEAT_BUYER  # 3 purchase days
    assert assess(given, day(90)).stage is Stage.LOYAL  # 4 days over 90 days
    assert assess(given, day(100)).since == day(90)


@pytest.mark.parametrize(
    "days",
    [(0, 20, 40, 60), (0, 60, 120), (0, 30, 60, 89)],
    ids=["4 days over 60 days", "3 days", "4 days over 89 days"],
)
def test_too_few_or_too_close_purchases_are_not_loyal(days: tuple[int, ...]) -> None:
    assert stage(facts(*bought(*days)), day(days[-1])) is Stage.REPEAT_BUYER


def test_a_referral_makes_a_loyal_customer_an_advocate() -> None:
    given = facts(*MONTHLY, a_referral(at=day(95), event_id=eid("ref")))

    assert stage(given, day(95) - MICRO) is Stage.LOYAL
    assert assess(given, day(95)).stage is Stage.ADVOCATE
    assert changes(given, day(94), day(96)) == [
        (Stage.LOYAL, Stage.ADVOCATE, day(95), UUID(eid("ref")))
    ]


def test_a_referral_counts_once_the_referrer_is_loyal() -> None:
    given = facts(*bought(0, 30), a_referral(at=day(35)), *bought(60, 90))

    assert stage(given, day(40)) is Stage.REPEAT_BUYER
    assert stage(given, day(90)) is Stage.ADVOCATE


@pytest.mark.parametrize(
    ("score", "scale", "expected"),
    [
        (10, (0, 10), Stage.ADVOCATE),
        (9, (0, 10), Stage.ADVOCATE),
        (8, (0, 10), Stage.LOYAL),
        (5, (1, 5), Stage.ADVOCATE),
        (4, (1, 5), Stage.LOYAL),
    ],
)
def test_a_top_survey_score_makes_a_loyal_customer_an_advocate(
    score: int, scale: tuple[int, int], expected: Stage
) -> None:
    given = facts(*MONTHLY, a_survey(score=score, scale=scale, at=day(95)))

    assert stage(given, day(96)) is expected


def test_only_the_latest_survey_counts() -> None:
    given = facts(*MONTHLY, a_survey(score=10, at=day(92)), a_survey(score=3, at=day(95)))

    assert stage(given, day(93)) is Stage.ADVOCATE
    assert stage(given, day(96)) is Stage.LOYAL


def test_advocacy_lasts_365_days_after_the_referral() -> None:
    given = facts(*bought(*range(0, 601, 30)), a_referral(at=day(95), event_id=eid("ref")))

    assert changes(given, None, day(600)) == [
        (None, Stage.FIRST_TIME_BUYER, day(0), UUID(eid("C1-p0"))),
        (Stage.FIRST_TIME_BUYER, Stage.REPEAT_BUYER, day(30), UUID(eid("C1-p30"))),
        (Stage.REPEAT_BUYER, Stage.LOYAL, day(90), UUID(eid("C1-p90"))),
        (Stage.LOYAL, Stage.ADVOCATE, day(95), UUID(eid("ref"))),
        (Stage.ADVOCATE, Stage.LOYAL, day(460), None),  # time alone
    ]


# -- time moves stages: at risk, lapsed, win back -------------------------------------


def test_a_quiet_loyal_customer_goes_at_risk_then_lapsed_without_any_new_event() -> None:
    given = facts(*MONTHLY)

    assert stage(given, day(150) - MICRO) is Stage.LOYAL
    assert stage(given, day(150)) is Stage.AT_RISK  # 60 quiet days = 2 × 30
    assert stage(given, day(270) - MICRO) is Stage.AT_RISK
    assert stage(given, day(270)) is Stage.LAPSED  # 180 quiet days = max(3 × 30, 180)
    assert stage(given, day(5000)) is Stage.LAPSED
    assert changes(given, day(90), day(1000)) == [
        (Stage.LOYAL, Stage.AT_RISK, day(150), None),
        (Stage.AT_RISK, Stage.LAPSED, day(270), None),
    ]


def test_due_times_of_a_quiet_loyal_customer() -> None:
    given = facts(*MONTHLY)

    assert due_at(given, day(90)) == day(150)
    assert due_at(given, day(120)) == day(150)
    assert due_at(given, day(150)) == day(270)
    assert due_at(given, day(270)) is None


def test_a_quarterly_buyer_keeps_loyal_for_a_30_day_grace_then_goes_down() -> None:
    # Rhythm 100 days: at risk after 200 quiet days, lapsed after 300. On day 365
    # the purchase of day 0 leaves the 365-day window: 3 days left, not loyal,
    # but demotion waits 30 days (to day 395).
    given = facts(*bought(0, 100, 200, 300))

    assert stage(given, day(300)) is Stage.LOYAL
    assert stage(given, day(395) - MICRO) is Stage.LOYAL
    assert [due_at(given, day(d)) for d in (300, 395, 500, 600)] == [
        day(395),
        day(500),
        day(600),
        None,
    ]
    assert [c[:2] for c in changes(given, day(300), day(700))] == [
        (Stage.LOYAL, Stage.REPEAT_BUYER),
        (Stage.REPEAT_BUYER, Stage.AT_RISK),
        (Stage.AT_RISK, Stage.LAPSED),
    ]


def test_a_purchase_within_the_grace_keeps_a_customer_loyal() -> None:
    given = facts(*bought(0, 100, 200, 300, 390))  # 100, 200, 300, 390 in the window

    assert stage(given, day(400)) is Stage.LOYAL
    # Day 100's purchase leaves the window on day 465: demoted 30 days later;
    # at risk after 2 × median gap (90, 100, 100, 100 -> 100) = 200 quiet days.
    assert due_at(given, day(390)) == day(495)
    assert stage(given, day(495)) is Stage.REPEAT_BUYER
    assert due_at(given, day(495)) == day(590)


def test_a_purchase_while_at_risk_restores_the_ladder_stage() -> None:
    given = facts(*MONTHLY, *bought(200))

    assert stage(given, day(199)) is Stage.AT_RISK
    assert stage(given, day(200)) is Stage.LOYAL  # 5 days over 200 days; not a comeback


def test_a_comeback_after_lapsing_is_a_win_back_until_a_second_purchase_day() -> None:
    given = facts(*MONTHLY, *bought(300))

    assert changes(given, day(250), day(300)) == [
        (Stage.AT_RISK, Stage.LAPSED, day(270), None),
        (Stage.LAPSED, Stage.WIN_BACK, day(300), UUID(eid("C1-p300"))),
    ]
    # The comeback starts afresh: one purchase day, default rhythm 30 days.
    assert due_at(given, day(300)) == day(360)  # at risk after 60 quiet days
    assert stage(given, day(480)) is Stage.LAPSED  # and lapsed after 180
    assert stage(facts(*MONTHLY, *bought(300, 310)), day(310)) is Stage.REPEAT_BUYER


def test_a_purchase_just_before_lapsing_is_no_comeback() -> None:
    given = facts(*MONTHLY, a_purchase(at=day(270) - MICRO))  # a microsecond early

    assert stage(given, day(270)) is Stage.LOYAL


# -- complaints -------------------------------------------------------------------------


def test_a_complaint_open_past_its_deadline_puts_a_buyer_at_risk_until_resolved() -> None:
    given = facts(
        *bought(0, 10),
        a_complaint(at=day(12), promised_by=day(14)),
        a_resolution(at=day(16), event_id=eid("fixed")),
    )

    assert stage(given, day(14)) is Stage.REPEAT_BUYER
    assert changes(given, day(10), day(20)) == [
        (Stage.REPEAT_BUYER, Stage.AT_RISK, day(14) + MICRO, None),
        (Stage.AT_RISK, Stage.REPEAT_BUYER, day(16), UUID(eid("fixed"))),
    ]


def test_a_complaint_without_a_promise_is_due_in_3_days() -> None:
    given = facts(*bought(0, 10), a_complaint(at=day(12)))

    assert due_at(given, day(12)) == day(15) + MICRO
    assert stage(given, day(15) + MICRO) is Stage.AT_RISK


def test_a_rejected_resolution_leaves_the_complaint_open() -> None:
    given = facts(
        *bought(0, 10),
        a_complaint(at=day(12), promised_by=day(14)),
        a_resolution(at=day(13), accepted=False),
    )

    assert stage(given, day(15)) is Stage.AT_RISK


def test_a_prospect_with_an_overdue_complaint_stays_a_prospect() -> None:
    given = facts(a_visit(at=day(0)), a_complaint(at=day(1), promised_by=day(2)))

    assert stage(given, day(30)) is Stage.PROSPECT


# -- the emitted event, rules, late facts ------------------------------------------------


def test_a_change_round_trips_through_json() -> None:
    for change in transitions(facts(*MONTHLY), None, day(400)):
        assert LoyaltyStageChanged.from_json(change.to_json()) == change


def test_rules_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        LoyaltyRules(loyal_window_days=0)
    with pytest.raises(ValueError, match="exceed"):
        LoyaltyRules(at_risk_multiplier=4)


def test_other_rules_give_other_stages() -> None:
    strict = LoyaltyRules(loyal_min_purchase_days=5)

    assert assess(facts(*MONTHLY), day(90), strict).stage is Stage.REPEAT_BUYER


def test_a_late_fact_is_reconciled_by_a_correction() -> None:
    emitted = transitions(facts(*bought(0)), None, day(5))
    late = facts(*bought(0, 3))  # the purchase of day 3 arrived after day 5 was emitted

    fix = correction(late, emitted[-1].to_stage, day(5))

    assert fix is not None
    assert (fix.from_stage, fix.to_stage, fix.occurred_at) == (
        Stage.FIRST_TIME_BUYER,
        Stage.REPEAT_BUYER,
        day(5),
    )
    assert correction(late, Stage.REPEAT_BUYER, day(5)) is None


DOC = (Path(__file__).parents[2] / "docs" / "loyalty.md").read_text(encoding="utf-8")


def test_the_documented_defaults_are_the_rules_defaults() -> None:
    table = dict(re.findall(r"^\| `(\w+)` \| ([\d.]+) \|", DOC, re.M))

    assert table == {f.name: str(f.default) for f in fields(LoyaltyRules)}


def test_the_documented_record_is_what_a_quiet_monthly_buyer_emits() -> None:
    (example,) = re.findall(r"```json\n(.*?)\n```", DOC, re.S)
    given = facts(*bought(0, 30, 60, 90, customer="C000042"), customer="C000042")

    assert transitions(given, day(149), day(150)) == (LoyaltyStageChanged.from_json(example),)


# -- the due queue -------------------------------------------------------------------------


def test_the_due_queue_pops_in_due_order_then_customer_id() -> None:
    queue = DueQueue()
    for customer, due in [("C3", day(3)), ("C1", day(1)), ("C2", day(3)), ("C4", day(9))]:
        queue.push(customer, due)

    assert queue.pop_due(day(0)) == []
    assert queue.pop_due(day(3)) == ["C1", "C2", "C3"]
    assert len(queue) == 1
    assert queue.next_due() == day(9)


def test_the_due_queue_ignores_stale_entries() -> None:
    queue = DueQueue()
    queue.push("C1", day(1))
    queue.push("C1", day(5))  # moved later: the day-1 entry is stale
    queue.push("C2", day(2))
    queue.push("C2", None)  # no longer due

    assert queue.next_due() == day(5)
    assert queue.pop_due(day(4)) == []
    assert queue.pop_due(day(5)) == ["C1"]
    assert queue.pop_due(day(100)) == []
    assert len(queue) == 0


def test_the_due_queue_stays_small_when_due_times_move_often() -> None:
    queue = DueQueue()
    for n in range(1000):
        queue.push(f"C{n % 10}", day(n))

    assert len(queue._heap) <= 2 * len(queue) + 64
    assert queue.pop_due(day(1000)) == [f"C{n}" for n in range(10)]


# -- properties: order, batching and intervals never change the result -----------------

CUSTOMERS = ("C1", "C2", "C3")
instants = st.one_of(
    st.sampled_from([day(0), day(40), day(40) + timedelta(hours=2)]),  # ties, same days
    st.builds(
        lambda d, h: day(d) + timedelta(hours=h),
        st.integers(0, 500),
        st.sampled_from([0, 0, 5, 20]),
    ),
)


@st.composite
def raw_events(draw: st.DrawFn, customers: tuple[str, ...] = ("C1",)) -> Raw:
    customer, when = draw(st.sampled_from(customers)), draw(instants)
    kind = draw(st.sampled_from(["purchase"] * 5 + ["visit", "complaint", "resolution"] * 2))
    kind = draw(st.sampled_from([kind, "survey", "referral"])) if kind == "visit" else kind
    complaint = draw(st.sampled_from(["K1", "K2"]))
    if kind == "purchase":
        return a_purchase(customer, at=when)
    if kind == "complaint":
        promise = draw(st.none() | st.integers(0, 10).map(lambda d: when + timedelta(days=d)))
        return a_complaint(customer, at=when, complaint_id=complaint, promised_by=promise)
    if kind == "resolution":
        accepted = draw(st.sampled_from([None, True, False]))
        return a_resolution(customer, at=when, complaint_id=complaint, accepted=accepted)
    if kind == "survey":
        return a_survey(customer, score=draw(st.integers(0, 10)), at=when)
    if kind == "referral":
        return a_referral(customer, "C9", at=when)
    return a_visit(customer, at=when)


@st.composite
def rhythms(draw: st.DrawFn, customers: tuple[str, ...]) -> list[Raw]:
    """A run of regular purchases, so that loyal and advocate stages show up often."""
    customer, start = draw(st.sampled_from(customers)), draw(st.integers(0, 300))
    step, count = draw(st.integers(10, 45)), draw(st.integers(0, 8))
    return [a_purchase(customer, at=day(start + n * step)) for n in range(count)]


def histories(customers: tuple[str, ...] = ("C1",)) -> st.SearchStrategy[list[TouchpointEvent]]:
    raws = st.tuples(st.lists(raw_events(customers), max_size=25), rhythms(customers))
    return raws.map(lambda both: [sealed(r) for r in both[0] + both[1]])


END = day(1500)
FAR = day(10_000)  # past every due time the histories can have
times = st.integers(-10, 1400).map(day)


@PROPERTY
@given(st.data(), histories())
def test_event_order_and_batching_never_change_the_stage_or_the_changes(
    data: st.DataObject, events: list[TouchpointEvent]
) -> None:
    shuffled = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4)))
    batches = [fold(initial("C1"), shuffled[a:b]) for a, b in pairwise([0, *cuts, len(events)])]

    one, other = fold(initial("C1"), events), reduce(merge, batches, initial("C1"))

    assert transitions(one, None, END) == transitions(other, None, END)
    for when in data.draw(st.lists(times, min_size=1, max_size=3)):
        assert assess(one, when) == assess(other, when)
        assert due_at(one, when) == due_at(other, when)


@PROPERTY
@given(histories(), times, times, times)
def test_changes_over_a_to_c_are_those_over_a_to_b_then_b_to_c(
    events: list[TouchpointEvent], x: datetime, y: datetime, z: datetime
) -> None:
    a, b, c = sorted((x, y, z))
    state = fold(initial("C1"), events)

    assert transitions(state, a, c) == transitions(state, a, b) + transitions(state, b, c)


@PROPERTY
@given(histories(), times)
def test_the_changes_chain_and_agree_with_assess_and_due_at(
    events: list[TouchpointEvent], when: datetime
) -> None:
    state = fold(initial("C1"), events)
    known = fold(initial("C1"), [e for e in events if e.occurred_at <= when])
    history = transitions(state, None, when)

    assert history == transitions(known, None, when)  # only facts up to `when` count
    assert [c.from_stage for c in history] == [None, *(c.to_stage for c in history)][:-1]
    assert all(x.occurred_at < y.occurred_at for x, y in pairwise(history))
    assessed = assess(state, when)
    if history:
        assert (assessed.stage, assessed.since) == (history[-1].to_stage, history[-1].occurred_at)
    else:
        assert assessed.since is None
    due = due_at(state, when)
    if due is None:
        assert transitions(state, when, FAR) == ()
    else:
        assert transitions(state, when, due)[0].occurred_at == due


def run_worker(log: list[TouchpointEvent], cuts: list[int], clock: datetime) -> list[Any]:
    """A worker as streams/ would run it: batches of the log, emitting each customer's
    changes through the watermark (minus 1 µs, so that a later event at the very
    instant of the watermark is not late), revisiting customers by due time."""
    state: dict[str, CustomerFacts] = {}
    emitted_until: dict[str, datetime] = {}
    queue = DueQueue()
    out: list[LoyaltyStageChanged] = []

    def flush(customer: str, until: datetime) -> None:
        out.extend(transitions(state[customer], emitted_until.get(customer), until))
        emitted_until[customer] = until
        queue.push(customer, due_at(state[customer], until))

    watermark = START - timedelta(days=365)
    for a, b in pairwise([0, *cuts, len(log)]):
        for event in log[a:b]:
            customer = event.customer_id
            state[customer] = fold(state.get(customer) or initial(customer), [event])
            watermark = max(watermark, event.occurred_at)
        until = watermark - MICRO
        for customer in sorted({e.customer_id for e in log[a:b]} | set(queue.pop_due(until))):
            flush(customer, until)
    for customer in queue.pop_due(clock):  # an explicit clock event
        flush(customer, clock)
    return out


@PROPERTY
@given(st.data(), histories(CUSTOMERS))
def test_a_worker_emits_the_same_changes_however_the_log_is_batched(
    data: st.DataObject, events: list[TouchpointEvent]
) -> None:
    log = sorted(events, key=lambda e: e.occurred_at)  # each customer's events in time order
    cuts = sorted(data.draw(st.lists(st.integers(0, len(log)), max_size=6)))

    emitted = run_worker(log, cuts, END)

    for customer in CUSTOMERS:
        mine = [e for e in log if e.customer_id == customer]
        replay = transitions(fold(initial(customer), mine), None, END) if mine else ()
        assert [c for c in emitted if c.customer_id == customer] == list(replay)
