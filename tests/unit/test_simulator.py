"""The synthetic touchpoint generator: valid input, deterministic, and true to the domain.

Expected figures come from /work/shared/DOMAIN.md (15% churn a year, 95% of
the dissatisfied never complain, 20% of customers bring most of the value)
or from the records themselves, never from numbers the generator printed.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import decode_obj, seal_input
from schemas.pii import InMemoryKeyVault, PiiSealer
from simulator import DEFAULT_START, CustomerProfile, generate, population
from simulator.clock import iso

Record = dict[str, Any]

SEED = 20250101
CUSTOMERS = 2000
DAYS = 365
END = DEFAULT_START + timedelta(days=DAYS)

# The channel/source pairs the brief names: pos/store, web-shop/web, app,
# call-centre/phone, crm/email, field.
CHANNEL_SOURCES = {
    ("store", "pos"),
    ("web", "web-shop"),
    ("app", "app"),
    ("phone", "call-centre"),
    ("email", "crm"),
    ("field", "field"),
}


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def year() -> list[Record]:
    """One year of 2000 customers: the behaviour-mix sample."""
    return list(generate(CUSTOMERS, DAYS, SEED))


@pytest.fixture(scope="module")
def truth() -> dict[str, CustomerProfile]:
    return {p.customer_id: p for p in population(CUSTOMERS, SEED, days=DAYS)}


@pytest.fixture(scope="module")
def by_customer(year: list[Record]) -> dict[str, list[Record]]:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in year:
        grouped[record["customer_id"]].append(record)
    return grouped


def of_type(records: list[Record], event_type: str) -> list[Record]:
    return [r for r in records if r["event_type"] == event_type]


# --- contract -------------------------------------------------------------------


def check_accepted(records: list[Record]) -> None:
    sealer = PiiSealer(InMemoryKeyVault(), b"test-pepper-123")
    for record in records:
        json.dumps(record)  # JSON-serialisable as is
        event = decode_obj(seal_input(record, sealer))
        assert str(event.event_id) == record["event_id"]
        assert event.occurred_at == when(record["occurred_at"])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_record_is_accepted_by_the_codec(seed: int) -> None:
    check_accepted(list(generate(80, 400, seed)))


@settings(max_examples=8, deadline=None)
@given(
    customers=st.integers(0, 40),
    days=st.integers(0, 120),
    seed=st.integers(-(2**40), 2**40),
    start=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2040, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=8))]),
    ),
)
def test_any_run_is_valid_ordered_and_inside_its_window(
    customers: int, days: int, seed: int, start: datetime
) -> None:
    records = list(generate(customers, days, seed, start))
    check_accepted(records)
    times = [when(r["occurred_at"]) for r in records]
    assert times == sorted(times)
    assert all(start <= t <= start + timedelta(days=days) for t in times)
    assert all(r["occurred_at"].endswith("+00:00") for r in records)
    assert len({r["event_id"] for r in records}) == len(records)


def test_personal_data_is_clear_text_for_seal_input(year: list[Record]) -> None:
    registered = of_type(year, "customer_registered")
    assert all(isinstance(r["name"], str) and " " in r["name"] for r in registered)
    emails = [r["email"] for r in registered if "email" in r]
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@example\.com", e) for e in emails)
    phones = [r["phone"] for r in registered if "phone" in r]
    assert all(re.fullmatch(r"\+(49 151|86 138) \d{4} \d{4}", p) for p in phones)
    comments = [r["comment"] for r in of_type(year, "survey_answered") if "comment" in r]
    assert comments and all(isinstance(c, str) for c in comments)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        list(generate(5, 5, 1, datetime(2025, 1, 1)))


@settings(max_examples=50, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
    seconds=st.integers(0, 20 * 365 * 86_400),
)
def test_fast_iso_matches_isoformat(start: datetime, seconds: int) -> None:
    start = start.replace(tzinfo=UTC)
    assert iso(start, seconds) == (start + timedelta(seconds=seconds)).isoformat()


# --- determinism ------------------------------------------------------------------


def test_same_arguments_give_identical_bytes() -> None:
    first = json.dumps(list(generate(150, 200, 42)), sort_keys=True)
    again = json.dumps(list(generate(150, 200, 42)), sort_keys=True)
    assert first == again


def test_another_seed_or_start_gives_other_records() -> None:
    base = list(generate(50, 60, 42))
    assert base != list(generate(50, 60, 43))
    later = list(generate(50, 60, 42, DEFAULT_START + timedelta(days=1)))
    assert [r["occurred_at"] for r in base] != [r["occurred_at"] for r in later]


def test_population_is_deterministic_and_matches_the_records(
    truth: dict[str, CustomerProfile], by_customer: dict[str, list[Record]]
) -> None:
    assert population(300, 9) == population(300, 9)
    assert population(300, 9) != population(300, 10)
    assert set(by_customer) == set(truth)
    assert all(re.fullmatch(r"C\d{6}", cid) for cid in truth)


def test_generation_is_lazy() -> None:
    first = list(islice(generate(20_000, DAYS, SEED), 100))
    assert all(when(r["occurred_at"]) < DEFAULT_START + timedelta(days=2) for r in first)


# --- stream shape ---------------------------------------------------------------


def test_year_is_ordered_unique_and_inside_the_window(year: list[Record]) -> None:
    times = [when(r["occurred_at"]) for r in year]
    assert times == sorted(times)
    assert times[0] >= DEFAULT_START and times[-1] <= END
    assert len({r["event_id"] for r in year}) == len(year)


def test_each_customer_starts_by_registering_once(by_customer: dict[str, list[Record]]) -> None:
    for records in by_customer.values():
        assert records[0]["event_type"] == "customer_registered"
        assert len(of_type(records, "customer_registered")) == 1
    segments = Counter(r[0]["segment"] for r in by_customer.values())
    assert 0 < segments["business"] < segments["consumer"] / 5


def test_about_one_percent_is_recorded_late(year: list[Record]) -> None:
    delays = [when(r["recorded_at"]) - when(r["occurred_at"]) for r in year]
    assert all(d >= timedelta(0) for d in delays)
    late = [d for d in delays if d >= timedelta(hours=1)]
    assert 0.005 < len(late) / len(year) < 0.02
    assert max(late) > timedelta(days=1)
    assert statistics.median(d.total_seconds() for d in delays) < 30


def test_channels_and_sources_are_realistic(year: list[Record]) -> None:
    pairs = {(r["channel"], r["source"]) for r in year}
    assert pairs <= CHANNEL_SOURCES
    assert {"store", "web", "app", "phone", "email", "field"} <= {c for c, _ in pairs}


def test_events_per_customer_year(year: list[Record]) -> None:
    assert 50 <= len(year) / CUSTOMERS <= 200


def test_money_is_minor_units_in_one_currency_per_customer(
    by_customer: dict[str, list[Record]],
) -> None:
    for records in by_customer.values():
        purchases = of_type(records, "purchase_completed")
        assert len({p["currency"] for p in purchases}) <= 1
        for purchase in purchases:
            assert purchase["currency"] in ("EUR", "CNY")
            assert isinstance(purchase["amount_minor"], int) and purchase["amount_minor"] > 0
            if "lines" in purchase:
                total = sum(
                    line["quantity"] * line["unit_price_minor"] for line in purchase["lines"]
                )
                assert total == purchase["amount_minor"]


# --- behaviour mix (DOMAIN.md) -------------------------------------------------------


def spend_by_customer(year: list[Record]) -> Counter[str]:
    spend: Counter[str] = Counter()
    for purchase in of_type(year, "purchase_completed"):
        spend[purchase["customer_id"]] += purchase["amount_minor"]
    return spend


def test_value_pyramid_top_fifth_brings_most_spend(
    year: list[Record], by_customer: dict[str, list[Record]]
) -> None:
    # DOMAIN.md: roughly 20% of customers bring 80% of the value. Compared
    # within one currency (EUR), counting non-buyers as zero.
    spend = spend_by_customer(year)
    eur = sorted(
        (spend[cid] for cid, records in by_customer.items() if _currency(records) == "EUR"),
        reverse=True,
    )
    top = eur[: len(eur) // 5]
    assert 0.6 <= sum(top) / sum(eur) <= 0.9


def _currency(records: list[Record]) -> str | None:
    purchases = of_type(records, "purchase_completed")
    return purchases[0]["currency"] if purchases else "EUR"


def test_prospects_never_buy_and_are_a_tenth_to_a_fifth(
    year: list[Record], by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    buyers = set(spend_by_customer(year))
    never_bought = [cid for cid in by_customer if cid not in buyers]
    assert 0.08 <= len(never_bought) / CUSTOMERS <= 0.22  # brief: about 10-20% prospects
    prospects = [cid for cid, p in truth.items() if p.archetype == "prospect"]
    assert not buyers & set(prospects)
    engaged = [cid for cid in prospects if len(by_customer[cid]) > 1]
    assert len(engaged) >= 0.9 * len(prospects)
    kinds = {r["event_type"] for cid in prospects for r in by_customer[cid]}
    assert {"visit_recorded", "call_handled"} <= kinds
    assert not kinds & {"purchase_completed", "complaint_filed", "referral_made"}


def test_one_time_buyers_buy_exactly_once(
    by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    counts = [
        len(of_type(by_customer[cid], "purchase_completed"))
        for cid, p in truth.items()
        if p.archetype == "one_time"
    ]
    assert counts and max(counts) == 1
    assert sum(counts) >= 0.9 * len(counts)


def leavers(truth: dict[str, CustomerProfile]) -> list[CustomerProfile]:
    """Customers who stop buying inside the run and do not come back in it."""
    return [
        p
        for p in truth.values()
        if p.churn_day is not None
        and p.churn_day < DAYS
        and (p.return_day is None or p.return_day >= DAYS)
    ]


def test_about_fifteen_percent_leave_in_a_year(truth: dict[str, CustomerProfile]) -> None:
    # DOMAIN.md: a typical business loses about 15% of its customers a year.
    assert 0.10 <= len(leavers(truth)) / CUSTOMERS <= 0.20


def test_leavers_stop_buying_and_some_went_quiet_long_ago(
    by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    quiet_for_long = 0
    for profile in leavers(truth):
        purchases = of_type(by_customer[profile.customer_id], "purchase_completed")
        churn = DEFAULT_START + timedelta(days=profile.churn_day or 0)
        assert all(when(p["occurred_at"]) < churn for p in purchases)
        if purchases and END - when(purchases[-1]["occurred_at"]) > timedelta(days=120):
            quiet_for_long += 1
    assert quiet_for_long >= 20


def test_silent_leavers_are_visible_in_the_records(
    year: list[Record], by_customer: dict[str, list[Record]]
) -> None:
    # Without the truth: repeat buyers silent for more than three of their own
    # average gaps (and two months). DOMAIN.md's 15% a year, give or take.
    silent, repeat = 0, 0
    for records in by_customer.values():
        times = [when(p["occurred_at"]) for p in of_type(records, "purchase_completed")]
        if len(times) < 3:
            continue
        repeat += 1
        gap = (times[-1] - times[0]) / (len(times) - 1)
        if END - times[-1] > max(3 * gap, timedelta(days=60)):
            silent += 1
    assert 0.08 <= silent / repeat <= 0.30


def test_most_leavers_never_complained(
    year: list[Record], truth: dict[str, CustomerProfile]
) -> None:
    # DOMAIN.md: about 95% of dissatisfied customers never complain; they just leave.
    complained = {r["customer_id"] for r in of_type(year, "complaint_filed")}
    gone = leavers(truth)
    silent = [p for p in gone if p.customer_id not in complained]
    assert len(silent) / len(gone) > 0.8
    assert len(silent) < len(gone)  # and a few complainers do leave


def complaint_outcomes(year: list[Record]) -> dict[str, str]:
    """complaint id -> "fast" (resolved by the promise), "late", "open", or "no_promise"."""
    resolved = {
        r["complaint_id"]: when(r["occurred_at"]) for r in of_type(year, "complaint_resolved")
    }
    outcomes = {}
    for filed in of_type(year, "complaint_filed"):
        cid = filed["complaint_id"]
        if cid not in resolved:
            outcomes[cid] = "open"
        elif "promised_by" not in filed:
            outcomes[cid] = "no_promise"
        else:
            outcomes[cid] = "fast" if resolved[cid] <= when(filed["promised_by"]) else "late"
    return outcomes


def test_complaints_are_resolved_fast_late_or_never(year: list[Record]) -> None:
    outcomes = Counter(complaint_outcomes(year).values())
    assert outcomes["fast"] and outcomes["late"] and outcomes["open"]
    filed = {r["complaint_id"]: r for r in of_type(year, "complaint_filed")}
    for event in of_type(year, "complaint_resolved") + of_type(year, "call_handled"):
        if "complaint_id" in event:
            complaint = filed[event["complaint_id"]]
            assert event["customer_id"] == complaint["customer_id"]
            assert when(event["occurred_at"]) > when(complaint["occurred_at"])
    promised = [r for r in filed.values() if "promised_by" in r]
    assert len(promised) > len(filed) / 2
    deadlines = [when(r["promised_by"]) - when(r["occurred_at"]) for r in promised]
    assert all(timedelta(days=1) <= d <= timedelta(days=14) for d in deadlines)
    calls = [c for c in of_type(year, "call_handled") if "complaint_id" in c]
    assert calls and all(c["direction"] == "inbound" for c in calls)


def test_fast_resolution_keeps_customers_buying(
    year: list[Record], by_customer: dict[str, list[Record]]
) -> None:
    # DOMAIN.md: ~95% of quickly resolved complainers buy again; the brief:
    # unresolved ones mostly leave.
    outcomes = complaint_outcomes(year)

    def buys_again(filed: Record) -> bool:
        purchases = of_type(by_customer[filed["customer_id"]], "purchase_completed")
        return any(when(p["occurred_at"]) > when(filed["occurred_at"]) for p in purchases)

    kept: dict[str, list[bool]] = defaultdict(list)
    for filed in of_type(year, "complaint_filed"):
        kept[outcomes[filed["complaint_id"]]].append(buys_again(filed))
    fast, still_open = kept["fast"], kept["open"]
    assert sum(fast) / len(fast) > sum(still_open) / len(still_open)
    assert sum(fast) / len(fast) > 0.5


def test_surveys_mix_versions_and_scales(year: list[Record]) -> None:
    surveys = of_type(year, "survey_answered")
    legacy = [s for s in surveys if s["schema_version"] == 1]
    current = [s for s in surveys if s["schema_version"] == 2]
    assert legacy and len(legacy) < len(surveys) / 5
    assert all("scale_min" not in s and "scale_max" not in s for s in legacy)
    assert all(0 <= s["score"] <= 10 for s in legacy)
    assert {(s["scale_min"], s["scale_max"]) for s in current} == {(1, 5), (0, 10)}
    assert any("expectation" in s and "perceived_quality" in s for s in current)


def test_loyal_customers_are_happier_than_leavers(
    year: list[Record], truth: dict[str, CustomerProfile]
) -> None:
    scores: dict[str, list[float]] = defaultdict(list)
    for survey in of_type(year, "survey_answered"):
        low, high = survey.get("scale_min", 0), survey.get("scale_max", 10)
        archetype = truth[survey["customer_id"]].archetype
        scores[archetype].append((survey["score"] - low) / (high - low))
    unhappy = scores["churner"] + scores["complainer_never"] + scores["complainer_late"]
    assert statistics.mean(scores["loyal"]) > statistics.mean(unhappy) + 0.2


def test_purchase_rhythm_follows_each_customers_own_interval(
    by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    ratios = []
    for cid, profile in truth.items():
        times = [when(p["occurred_at"]) for p in of_type(by_customer[cid], "purchase_completed")]
        if profile.archetype == "regular" and len(times) >= 6 and profile.rhythm_days:
            mean_gap = (times[-1] - times[0]) / (len(times) - 1)
            ratios.append(mean_gap / timedelta(days=profile.rhythm_days))
    assert len(ratios) > 100
    assert 0.7 <= statistics.median(ratios) <= 1.4
    rhythms = [p.rhythm_days for p in truth.values() if p.rhythm_days is not None]
    assert min(rhythms) >= 7 and max(rhythms) <= 120


def test_win_back_customers_pause_then_return(
    by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    returned = 0
    for cid, profile in truth.items():
        if profile.archetype != "win_back" or profile.churn_day is None:
            continue
        assert profile.return_day is not None
        pause = (profile.churn_day, profile.return_day)
        days = [
            (when(p["occurred_at"]) - DEFAULT_START).days
            for p in of_type(by_customer[cid], "purchase_completed")
        ]
        assert not [d for d in days if pause[0] <= d < pause[1]]
        returned += any(d >= pause[1] for d in days)
    assert returned >= 3


def test_loyal_customers_refer_later_newcomers(
    year: list[Record], by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    referrals = of_type(year, "referral_made")
    assert referrals
    for referral in referrals:
        referrer, referee = referral["customer_id"], referral["referred_customer_id"]
        assert referee in truth and referee != referrer
        assert truth[referee].referred_by == referrer
        assert truth[referrer].archetype == "loyal"
        made = when(referral["occurred_at"])
        assert when(by_customer[referrer][0]["occurred_at"]) < made
        assert made < when(by_customer[referee][0]["occurred_at"])


def test_one_person_under_two_ids_is_linked(
    by_customer: dict[str, list[Record]], truth: dict[str, CustomerProfile]
) -> None:
    pairs = {(p.customer_id, p.same_person_as) for p in truth.values() if p.same_person_as}
    assert pairs and all((b, a) in pairs for a, b in pairs)
    fully_linked = 0
    for a, b in pairs:
        contacts_a = _contacts(by_customer[a][0])
        contacts_b = _contacts(by_customer[b][0])
        assert contacts_a & contacts_b  # registered with the same e-mail or phone
        links = of_type(by_customer[b], "identity_linked")
        by_id = any(link.get("linked_customer_id") == a for link in links)
        by_contact = any(
            link["identifier_kind"] in ("email", "phone") and link["identifier"] in contacts_a
            for link in links
        )
        fully_linked += by_id and by_contact
    assert fully_linked >= 1


def _contacts(registration: Record) -> set[str]:
    return {registration[k] for k in ("email", "phone") if k in registration}


def test_pairs_exist_from_ten_customers_on() -> None:
    for customers in (10, 11, 57):
        assert any(p.same_person_as for p in population(customers, 3))
    assert not any(p.same_person_as for p in population(9, 3))


def test_cards_and_new_emails_are_linked_too(year: list[Record]) -> None:
    kinds = Counter(r["identifier_kind"] for r in of_type(year, "identity_linked"))
    assert kinds["card"] and kinds["email"] and kinds["phone"] and kinds["customer_id"]
