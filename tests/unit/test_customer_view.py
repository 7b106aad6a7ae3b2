"""The unified customer view, fold by fold: given touchpoints, when viewed as of a time, then..."""

from __future__ import annotations

import ast
import pickle
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from projections.customer_view import (
    VIEW_COLUMNS,
    CustomerView,
    PurchaseFigures,
    ViewChanged,
    evolve,
    fold,
    initial,
    merge,
    view,
    view_row,
)
from schemas.touchpoints import TouchpointEvent
from tests.builders import (
    DEFAULT_SEALER,
    a_call,
    a_complaint,
    a_purchase,
    a_referral,
    a_registration,
    a_resolution,
    a_survey,
    a_visit,
    an_identity_link,
    days_after,
    eid,
    sealed,
)

PROJECTIONS = Path(__file__).resolve().parents[2] / "projections"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def events(*raws: dict[str, Any]) -> list[TouchpointEvent]:
    return [sealed(raw) for raw in raws]


def the_view(*raws: dict[str, Any], as_of: str, customer: str = "C1") -> CustomerView:
    return view(fold(initial(customer), events(*raws)), at(as_of))


# -- purchases and the BTYD summary ------------------------------------------------


def test_three_purchases_on_two_days_summarised_as_lifetimes_would() -> None:
    # Hand computation, lifetimes summary_data_from_transaction_data(freq="D",
    # observation_period_end=as_of, monetary_value_col="amount"): the days are
    # 03-01 (10.00 + 5.00) and 03-11 (20.00). frequency = 2 days - 1 = 1;
    # recency = 03-11 - 03-01 = 10; T = 03-31 - 03-01 = 30 (as_of's time of day
    # is dropped); monetary = mean of the repeat days' totals = 20.00.
    v = the_view(
        a_purchase(amount="10.00", at="2025-03-01T10:00:00+00:00"),
        a_purchase(amount="5.00", at="2025-03-01T18:00:00+00:00"),
        a_purchase(amount="20.00", at="2025-03-11T09:00:00+00:00"),
        as_of="2025-03-31T12:00:00+00:00",
    ).purchases

    assert (v.purchase_count, v.purchase_days) == (3, 2)
    assert (v.frequency, v.recency_days, v.t_days, v.monetary_minor) == (1, 10, 30, 2000)
    assert (v.total_spend_minor, v.avg_order_value_minor) == (3500, 1167)  # 35.00 / 3 rounds up
    assert v.first_purchase_at == at("2025-03-01T10:00:00+00:00")
    assert v.last_purchase_at == at("2025-03-11T09:00:00+00:00")


def test_btyd_over_four_purchase_days_matches_a_hand_computation() -> None:
    # Days 01-05 (30.00), 01-20 (10.00 + 20.00), 02-14 (15.00), 03-01 (45.00).
    # frequency = 4 - 1 = 3; recency = 03-01 - 01-05 = 26 (Jan) + 28 (Feb) + 1 = 55;
    # T = 04-10 - 01-05 = 55 + 31 (Mar) + 9 = 95; monetary = (30 + 15 + 45) / 3 = 30.00.
    v = the_view(
        a_purchase(amount="30.00", at="2025-01-05T12:00:00+00:00"),
        a_purchase(amount="10.00", at="2025-01-20T09:00:00+00:00"),
        a_purchase(amount="20.00", at="2025-01-20T17:00:00+00:00"),
        a_purchase(amount="15.00", at="2025-02-14T12:00:00+00:00"),
        a_purchase(amount="45.00", at="2025-03-01T12:00:00+00:00"),
        as_of="2025-04-10T00:00:00+00:00",
    ).purchases

    assert (v.frequency, v.recency_days, v.t_days, v.monetary_minor) == (3, 55, 95, 3000)
    assert (v.purchase_count, v.total_spend_minor, v.avg_order_value_minor) == (5, 12000, 2400)


def test_purchase_days_are_utc_days_whatever_offset_the_event_was_written_in() -> None:
    # 01:30 at +02:00 is 23:30 UTC the day before: the same UTC day as the first purchase.
    v = the_view(
        a_purchase(at="2025-03-01T08:00:00+00:00"),
        a_purchase(at="2025-03-02T01:30:00+02:00"),
        as_of="2025-03-05T00:00:00+00:00",
    ).purchases

    assert (v.purchase_days, v.frequency, v.recency_days, v.monetary_minor) == (1, 0, 0, 0)


def test_trailing_spend_counts_only_its_window_up_to_as_of() -> None:
    as_of = "2025-12-31T12:00:00+00:00"
    v = the_view(
        a_purchase(amount_minor=1, at=days_after(-400, as_of)),
        a_purchase(amount_minor=10, at=days_after(-200, as_of)),
        a_purchase(amount_minor=100, at=days_after(-90, as_of)),  # window is (as_of - 90d, as_of]
        a_purchase(amount_minor=1000, at=days_after(-30, as_of)),
        a_purchase(amount_minor=10000, at=as_of),
        a_purchase(amount_minor=100000, at=days_after(1, as_of)),  # after as_of: not yet
        as_of=as_of,
    ).purchases

    assert v.spend_90d_minor == 11000
    assert v.spend_365d_minor == 11110
    assert (v.total_spend_minor, v.purchase_count) == (11111, 5)


def test_money_figures_are_in_the_currency_of_most_purchases() -> None:
    v = the_view(
        a_purchase(amount_minor=1000, currency="EUR", at=days_after(1)),
        a_purchase(amount_minor=3000, currency="EUR", at=days_after(2)),
        a_purchase(amount_minor=99999, currency="USD", at=days_after(3)),
        as_of=days_after(10),
    ).purchases

    assert (v.currency, v.total_spend_minor, v.avg_order_value_minor) == ("EUR", 4000, 2000)
    assert (v.purchase_count, v.other_currency_purchases, v.purchase_days) == (3, 1, 3)
    assert v.monetary_minor == 1500  # repeat days 2 and 3; the USD day adds no EUR


def test_a_customer_without_purchases_has_empty_purchase_figures() -> None:
    assert the_view(a_visit(), as_of=days_after(1)).purchases == PurchaseFigures()


# -- complaints --------------------------------------------------------------------


def test_an_open_complaint_ages_and_turns_overdue_past_its_promise() -> None:
    state = fold(initial("C1"), events(a_complaint(at=days_after(0), promised_by=days_after(3))))

    early, late = view(state, at(days_after(2.5))), view(state, at(days_after(5.5)))

    assert [(c.complaint_id, c.age_days, c.overdue) for c in early.complaints.open] == [
        ("K1", 2, False)
    ]
    assert [(c.age_days, c.overdue) for c in late.complaints.open] == [(5, True)]
    assert late.complaints.open[0].promised_by == at(days_after(3))
    assert (early.complaints.complaints_overdue, late.complaints.complaints_overdue) == (0, 1)


def test_a_resolution_folded_before_its_filing_still_resolves_it() -> None:
    filed = a_complaint(at=days_after(0), promised_by=days_after(2))
    resolved = a_resolution(at=days_after(1), accepted=True)

    v = the_view(resolved, filed, as_of=days_after(10)).complaints

    assert v.open == ()
    assert (v.complaints_filed, v.complaints_resolved, v.complaints_overdue) == (1, 1, 0)


def test_a_resolution_without_its_filing_yet_counts_as_resolved() -> None:
    v = the_view(a_resolution(complaint_id="K9"), as_of=days_after(1)).complaints

    assert (v.complaints_filed, v.complaints_resolved, v.open) == (0, 1, ())


def test_a_rejected_resolution_is_counted_and_leaves_the_complaint_open() -> None:
    given = [
        a_complaint(at=days_after(0), promised_by=days_after(5)),
        a_resolution(at=days_after(1), accepted=False),
        a_resolution(at=days_after(7), accepted=True),
    ]
    state = fold(initial("C1"), events(*given))

    before, after = view(state, at(days_after(3))), view(state, at(days_after(8)))

    assert [c.complaint_id for c in before.complaints.open] == ["K1"]
    assert before.complaints.resolutions_rejected == 1
    assert (after.complaints.open, after.complaints.complaints_resolved) == ((), 1)
    assert after.complaints.complaints_overdue == 1  # resolved on day 7, promised by day 5


# -- satisfaction ------------------------------------------------------------------


def test_scores_on_different_scales_are_rescaled_and_the_trend_signed() -> None:
    rising = the_view(
        a_survey(score=4, scale=(1, 5), at=days_after(1)),
        a_survey(score=9, scale=(0, 10), at=days_after(2)),
        as_of=days_after(3),
    ).satisfaction
    falling = the_view(
        a_survey(score=9, scale=(0, 10), at=days_after(1)),
        a_survey(score=2, scale=(1, 5), at=days_after(2)),
        as_of=days_after(3),
    ).satisfaction

    assert (rising.last_score, rising.last_score_raw, rising.last_score_scale) == (0.9, 9, (0, 10))
    assert rising.trend == pytest.approx(0.9 - 0.75)
    assert (falling.last_score, falling.last_score_scale) == (0.25, (1, 5))
    assert falling.trend == pytest.approx(0.25 - 0.9)
    assert falling.surveys_answered == 2


def test_one_survey_has_no_trend() -> None:
    v = the_view(a_survey(score=3, scale=(1, 5)), as_of=days_after(1)).satisfaction
    assert (v.last_score, v.trend) == (0.5, None)


def test_surveys_at_the_same_instant_are_ordered_by_event_id() -> None:
    ids = sorted([eid("s-a"), eid("s-b")], key=UUID)
    given = [a_survey(score=1, event_id=ids[1]), a_survey(score=10, event_id=ids[0])]

    v = the_view(*given, as_of=days_after(1)).satisfaction

    assert v.last_score_raw == 1  # the larger event id is the later one


# -- referrals, identifiers, activity ------------------------------------------------


def test_referrals_count_distinct_referred_customers() -> None:
    given = [a_referral(referred="C2"), a_referral(referred="C3"), a_referral(referred="C2")]
    v = the_view(*given, as_of=days_after(1))
    assert (v.referrals_made, v.referred_customer_ids) == (2, ("C2", "C3"))


def test_identifiers_are_fingerprints_from_registration_and_links_never_clear_text() -> None:
    v = the_view(
        a_registration(email="alice@example.com", phone="+49 151 2345678"),
        an_identity_link(identifier="4111 1111 1111 1111", kind="card", at=days_after(1)),
        an_identity_link(identifier="ALICE@example.com ", kind="email", at=days_after(2)),
        an_identity_link(identifier="C7", kind="customer_id", at=days_after(3)),
        as_of=days_after(5),
    )

    fingerprint = DEFAULT_SEALER.fingerprint
    assert v.identifiers.email == (fingerprint("email", "alice@example.com"),)  # one, normalized
    assert v.identifiers.phone == (fingerprint("phone", "+49 151 2345678"),)
    assert v.identifiers.card == (fingerprint("card", "4111111111111111"),)
    assert v.linked_customer_ids == ("C7",)
    assert "alice" not in repr(v).lower() and "2345678" not in repr(v)


def test_counts_per_kind_and_channel_and_first_and_last_contact() -> None:
    v = the_view(
        a_visit(at=days_after(1)),
        a_visit(at=days_after(2), location=None, page="/shoes"),
        a_call(at=days_after(3)),
        a_purchase(at=days_after(4)),
        as_of=days_after(9),
    )

    assert v.counts_by_kind == {"call_handled": 1, "purchase_completed": 1, "visit_recorded": 2}
    assert v.counts_by_channel == {"phone": 1, "store": 2, "web": 1}
    assert v.channels == ("phone", "store", "web")
    assert (v.first_seen_at, v.last_seen_at) == (at(days_after(1)), at(days_after(4)))
    assert v.event_count == 4


def test_events_after_as_of_count_in_no_figure() -> None:
    v = the_view(a_visit(at=days_after(1)), a_purchase(at=days_after(3)), as_of=days_after(2))

    assert (v.event_count, v.purchases.purchase_count, v.last_seen_at) == (1, 0, at(days_after(1)))
    assert [item.event_type for item in v.timeline] == ["visit_recorded"]


def test_as_of_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        view(initial("C1"), datetime(2025, 1, 1))


# -- the timeline ------------------------------------------------------------------


def test_the_timeline_keeps_the_newest_n_touchpoints_newest_first() -> None:
    visits = [a_visit(at=days_after(day)) for day in range(25)]
    v = the_view(
        *reversed(visits),
        a_purchase(amount="45.99", at=days_after(30)),
        as_of="2026-01-01T00:00:00+00:00",
    )

    assert len(v.timeline) == 20
    assert v.timeline[0].summary == "purchase 45.99 EUR"
    assert [item.occurred_at for item in v.timeline[1:]] == [
        at(days_after(day)) for day in range(24, 5, -1)
    ]
    assert v.timeline[1].event_id == UUID(visits[24]["event_id"])
    assert (v.timeline[1].event_type, v.timeline[1].channel) == ("visit_recorded", "store")


def test_the_timeline_size_is_a_setting() -> None:
    state = fold(
        initial("C1", timeline_size=3), events(*(a_visit(at=days_after(d)) for d in range(5)))
    )
    assert [item.occurred_at for item in view(state, at(days_after(9))).timeline] == [
        at(days_after(d)) for d in (4, 3, 2)
    ]


@pytest.mark.parametrize(
    ("raw", "summary"),
    [
        (a_purchase(amount_minor=4599, currency="EUR"), "purchase 45.99 EUR"),
        (a_purchase(amount_minor=4599, currency="JPY"), "purchase 4599 JPY"),
        (a_purchase(amount_minor=1005, currency="KWD"), "purchase 1.005 KWD"),
        (a_complaint(severity="high"), "complaint K1 product (high)"),
        (a_resolution(accepted=False), "resolution K1 refund (rejected)"),
        (a_survey(score=4, scale=(1, 5)), "survey 4 on 1..5"),
        (a_call(outcome="unresolved"), "call inbound billing: unresolved"),
        (a_registration(), "registered (consumer)"),
    ],
)
def test_timeline_summaries(raw: dict[str, Any], summary: str) -> None:
    assert the_view(raw, as_of=days_after(1)).timeline[0].summary == summary


# -- the fold itself ---------------------------------------------------------------


def test_a_new_event_emits_view_changed_and_a_redelivery_nothing() -> None:
    purchase = sealed(a_purchase(event_id=eid("p1")))

    once, emitted = evolve(initial("C1"), purchase)
    twice, again = evolve(once, sealed(a_purchase(event_id=eid("p1"))))

    assert emitted == (ViewChanged("C1", UUID(eid("p1"))),)
    assert (twice, again) == (once, ())
    assert twice is once


def test_a_redelivered_event_counts_once() -> None:
    purchase = a_purchase(amount_minor=500, event_id=eid("p1"))
    v = the_view(purchase, purchase, purchase, as_of=days_after(1))
    assert (v.event_count, v.purchases.purchase_count, v.purchases.total_spend_minor) == (1, 1, 500)


def test_a_state_survives_a_pickle_round_trip() -> None:
    state = fold(initial("C1"), events(a_registration(), a_purchase(), a_complaint(), a_survey()))
    assert pickle.loads(pickle.dumps(state)) == state


def test_another_customers_event_is_refused() -> None:
    with pytest.raises(ValueError, match="C2"):
        evolve(initial("C1"), sealed(a_visit(customer="C2")))


def test_merging_two_customers_keeps_the_smallest_id_and_the_other_as_alias() -> None:
    c1 = fold(initial("C1"), events(a_purchase(customer="C1", at=days_after(1))))
    c2 = fold(initial("C2"), events(a_purchase(customer="C2", at=days_after(2))))

    merged = merge(c2, c1)
    v = view(merged, at(days_after(3)))

    assert (v.customer_id, v.aliases) == ("C1", ("C2",))
    assert (v.purchases.purchase_count, v.purchases.frequency) == (2, 1)
    assert evolve(merged, sealed(a_visit(customer="C2")))[0].customer_id == "C1"


# -- the table row -----------------------------------------------------------------


def test_the_row_has_exactly_the_described_columns_in_order() -> None:
    v = the_view(a_purchase(), a_complaint(), as_of=days_after(1))

    row = view_row(v)

    assert list(row) == [name for name, _, _ in VIEW_COLUMNS]
    assert all(sql_type and doc for _, sql_type, doc in VIEW_COLUMNS)
    assert (row["customer_id"], row["purchase_count"], row["open_complaints"]) == ("C1", 1, 1)
    assert row["oldest_open_complaint_days"] == 1


# -- purity ------------------------------------------------------------------------


@pytest.mark.parametrize("module", sorted(PROJECTIONS.glob("customer_*.py")), ids=lambda p: p.name)
def test_the_fold_modules_use_no_clock_randomness_io_or_logging(module: Path) -> None:
    tree = ast.parse(module.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    called = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not imported & {"time", "random", "logging", "os", "io", "secrets"}
    assert not called & {"now", "today", "utcnow", "uuid4", "open"}
