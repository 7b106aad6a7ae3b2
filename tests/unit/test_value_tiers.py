"""Value tiers: given customers and their values, when values change, then ranks and tiers.

Rounding (projections/value_tiers.py): among n ranked customers (value > 0),
ranks 1 .. floor(0.01 n) are vip, .. floor(0.05 n) key, .. floor(0.20 n)
regular, the rest small; ties go to the smaller id; value <= 0 is small and
unranked. The brute force below re-ranks everything from scratch with those
rules, independently of the book's incremental bookkeeping.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.value_tiers import (
    Tier,
    TierBook,
    TierRules,
    ValueTierChanged,
)

PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHARES = (Fraction(1, 100), Fraction(5, 100), Fraction(20, 100))


def cid(i: int) -> str:
    return f"C{i:06d}"


def brute_tiers(values: dict[str, int], shares: Iterable[Fraction] = SHARES) -> dict[str, Tier]:
    ranked = sorted((c for c, v in values.items() if v > 0), key=lambda c: (-values[c], c))
    n = len(ranked)
    cuts = [math.floor(s * n) for s in shares]
    out = {c: Tier.SMALL for c, v in values.items() if v <= 0}
    for rank, c in enumerate(ranked, start=1):
        out[c] = next(
            (
                t
                for t, cut in zip((Tier.VIP, Tier.KEY, Tier.REGULAR), cuts, strict=True)
                if rank <= cut
            ),
            Tier.SMALL,
        )
    return out


def brute_pareto(values: dict[str, int], top: Fraction) -> float:
    ranked = sorted((v for v in values.values() if v > 0), reverse=True)
    total = sum(ranked)
    return sum(ranked[: math.floor(top * len(ranked))]) / total if total else 0.0


def counts(book: TierBook) -> dict[Tier, int]:
    tiers = list(book.tiers().values())
    return {t: tiers.count(t) for t in Tier}


def apply(seen: dict[str, Tier], changes: Iterable[ValueTierChanged]) -> None:
    for change in changes:
        assert seen.get(change.customer_id) == change.from_tier
        if change.to_tier is None:
            del seen[change.customer_id]
        else:
            seen[change.customer_id] = change.to_tier


def hundred() -> TierBook:
    """C000001 .. C000100 with value = 100 × id: C000100 is rank 1."""
    return TierBook.from_values({cid(i): 100 * i for i in range(1, 101)})


# -- scenarios -------------------------------------------------------------------


def test_given_100_distinct_values_then_1_vip_4_key_15_regular_80_small() -> None:
    book = TierBook()
    seen: dict[str, Tier] = {}
    for i in random.Random(5).sample(range(1, 101), 100):
        apply(seen, book.update(cid(i), 100 * i))
    assert counts(book) == {Tier.VIP: 1, Tier.KEY: 4, Tier.REGULAR: 15, Tier.SMALL: 80}
    assert seen == book.tiers() == hundred().tiers()
    assert book.tier_of(cid(100)) is Tier.VIP and book.rank_of(cid(100)) == 1
    assert [book.tier_of(cid(i)) for i in (96, 95, 81, 80)] == [
        Tier.KEY,
        Tier.REGULAR,
        Tier.REGULAR,
        Tier.SMALL,
    ]
    assert book.rank_of(cid(1)) == 100 and book.population == 100 == len(book)


def test_when_a_value_rises_then_the_promoted_and_the_displaced_change() -> None:
    book = hundred()
    # C000099 (rank 2, key) overtakes C000100 (rank 1, vip).
    changes = book.update(cid(99), 100_000)
    assert changes == (
        ValueTierChanged(cid(99), Tier.KEY, Tier.VIP, 100_000, 1, 100),
        ValueTierChanged(cid(100), Tier.VIP, Tier.KEY, 10_000, 2, 100),
    )
    # C000050 (rank 51, small) climbs to rank 6: it and everyone from rank 6 to 20
    # moves down one; only the old rank 20 (C000081) falls out of regular.
    changes = book.update(cid(50), 9_550)
    assert changes == (
        ValueTierChanged(cid(50), Tier.SMALL, Tier.REGULAR, 9_550, 6, 100),
        ValueTierChanged(cid(81), Tier.REGULAR, Tier.SMALL, 8_100, 21, 100),
    )
    assert book.update(cid(50), 9_550) == ()  # the same value again: nothing
    assert book.update(cid(50), 9_560) == ()  # a rank up, within regular


def test_when_n_grows_then_exactly_the_boundary_changes() -> None:
    book = TierBook.from_values({cid(i): 100 * i for i in range(1, 105)})  # n = 104
    assert book.update(cid(1000), 1) == (  # n = 101..104 keep the cutoffs 1, 5, 20
        ValueTierChanged(cid(1000), None, Tier.SMALL, 1, 105, 105),
        # n = 105: floor(0.20 × 105) = 21, so rank 21 (C000084) becomes regular
        ValueTierChanged(cid(84), Tier.SMALL, Tier.REGULAR, 8_400, 21, 105),
    )
    assert counts(book)[Tier.REGULAR] == 16


def test_when_the_101st_customer_tops_the_list_then_every_boundary_moves_one_down() -> None:
    book = hundred()
    assert book.update(cid(101), 1_000_000) == (
        ValueTierChanged(cid(101), None, Tier.VIP, 1_000_000, 1, 101),
        ValueTierChanged(cid(100), Tier.VIP, Tier.KEY, 10_000, 2, 101),
        ValueTierChanged(cid(96), Tier.KEY, Tier.REGULAR, 9_600, 6, 101),
        ValueTierChanged(cid(81), Tier.REGULAR, Tier.SMALL, 8_100, 21, 101),
    )


def test_when_the_200th_customer_arrives_then_a_second_vip() -> None:
    book = TierBook.from_values({cid(i): 100 * i for i in range(1, 200)})
    assert counts(book)[Tier.VIP] == 1
    changes = book.update(cid(999), 5)
    assert (cid(198), Tier.KEY, Tier.VIP) in {
        (c.customer_id, c.from_tier, c.to_tier) for c in changes
    }
    assert counts(book) == {Tier.VIP: 2, Tier.KEY: 8, Tier.REGULAR: 30, Tier.SMALL: 160}


def test_ties_go_to_the_smaller_id() -> None:
    book = TierBook()
    for i in (7, 3, 5):
        book.update(cid(i), 500)
    assert [book.rank_of(cid(i)) for i in (3, 5, 7)] == [1, 2, 3]
    late_but_smaller = TierBook.from_values({cid(i): 500 for i in range(2, 101)})
    late_but_smaller.update(cid(1), 500)
    assert late_but_smaller.tier_of(cid(1)) is Tier.VIP
    assert late_but_smaller.tier_of(cid(2)) is Tier.KEY


def test_when_a_customer_is_removed_then_they_leave_and_the_rest_move_up() -> None:
    book = TierBook.from_values({cid(i): 100 * i for i in range(1, 102)})  # n = 101
    assert book.remove(cid(101)) == (
        ValueTierChanged(cid(101), Tier.VIP, None, 10_100, None, 100),
        ValueTierChanged(cid(100), Tier.KEY, Tier.VIP, 10_000, 1, 100),
        ValueTierChanged(cid(96), Tier.REGULAR, Tier.KEY, 9_600, 5, 100),
        ValueTierChanged(cid(81), Tier.SMALL, Tier.REGULAR, 8_100, 20, 100),
    )
    assert cid(101) not in book and book.tier_of(cid(101)) is None
    assert book.rank_of(cid(101)) is None and book.remove(cid(101)) == ()


def test_customers_without_value_are_small_and_unranked() -> None:
    book = hundred()
    assert book.update(cid(500), 0) == (ValueTierChanged(cid(500), None, Tier.SMALL, 0, None, 100),)
    assert book.rank_of(cid(500)) is None and book.population == 100 and len(book) == 101
    # The top customer's refunds take them to 0: out of the ranking, n = 99 (no vip).
    changes = book.update(cid(100), 0)
    assert changes[0] == ValueTierChanged(cid(100), Tier.VIP, Tier.SMALL, 0, None, 99)
    assert counts(book) == {Tier.VIP: 0, Tier.KEY: 4, Tier.REGULAR: 15, Tier.SMALL: 82}
    assert book.remove(cid(500))[0].to_tier is None
    assert book.summary().unranked == 1


def test_pareto_share_and_summary() -> None:
    # 10 customers: 2 hold 80 of 100; the rest 20 / 8 = 2.5 each.
    values = {cid(1): 50, cid(2): 30} | {cid(i): 2 if i % 2 else 3 for i in range(3, 11)}
    book = TierBook.from_values(values)
    assert book.pareto_share() == 0.8 and book.pareto_share(0.2) == 0.8
    assert book.pareto_share(0.1) == 0.5 and book.pareto_share(1.0) == 1.0
    assert book.pareto_share(0) == 0.0
    summary = book.summary()
    assert (summary.population, summary.total_value_minor, summary.pareto_share) == (10, 100, 0.8)
    # n = 10: no vip, no key (floor 0.5), 2 regular, 8 small
    assert [(s.tier, s.customers, s.value_minor) for s in summary.tiers] == [
        (Tier.VIP, 0, 0),
        (Tier.KEY, 0, 0),
        (Tier.REGULAR, 2, 80),
        (Tier.SMALL, 8, 20),
    ]
    assert [s.value_share for s in summary.tiers] == [0, 0, 0.8, 0.2]
    assert TierBook().pareto_share() == 0.0 and TierBook().summary().population == 0
    with pytest.raises(ValueError):
        book.pareto_share(1.5)


def test_rules_are_exact_and_checked() -> None:
    rules = TierRules()
    assert rules.cutoffs(100) == (1, 5, 20) and rules.cutoffs(99) == (0, 4, 19)
    assert rules.cutoffs(300) == (3, 15, 60)  # 0.05 × 300 is 15.000000000000002 in floats
    assert [rules.tier_at(r, 100) for r in (1, 2, 5, 6, 20, 21)] == [
        Tier.VIP,
        Tier.KEY,
        Tier.KEY,
        Tier.REGULAR,
        Tier.REGULAR,
        Tier.SMALL,
    ]
    book = TierBook.from_values({cid(i): i for i in range(1, 11)}, TierRules(0.1, 0.3, 0.5))
    assert counts(book) == {Tier.VIP: 1, Tier.KEY: 2, Tier.REGULAR: 2, Tier.SMALL: 5}
    with pytest.raises(ValueError):
        TierRules(vip_share=0.1, key_share=0.05)
    with pytest.raises(ValueError):
        rules.tier_at(0, 10)


def test_values_are_whole_minor_units_within_reason() -> None:
    book = hundred()
    book.update("BIG", 10**20 - 1)
    assert book.rank_of("BIG") == 1 and book.value_of("BIG") == 10**20 - 1
    assert book.summary().total_value_minor == 10**20 - 1 + 100 * 5_050
    with pytest.raises(ValueError):
        book.update("HUGE", 10**20)
    with pytest.raises(TypeError):
        book.update("FLOAT", 12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TierBook.from_values({"BOOL": True})
    assert "HUGE" not in book and "FLOAT" not in book


def test_the_change_event_round_trips_through_json() -> None:
    for change in (
        ValueTierChanged("C1", None, Tier.SMALL, 0, None, 0),
        ValueTierChanged("C2", Tier.KEY, Tier.VIP, 123_456, 1, 1_000_000),
        ValueTierChanged("C3", Tier.VIP, None, 9, None, 7),
    ):
        assert ValueTierChanged.from_json(change.to_json()) == change
    body = ValueTierChanged("C2", Tier.KEY, Tier.VIP, 5, 1, 100).to_dict()
    assert body["type"] == "value_tier_changed" and body["version"] == 1
    with pytest.raises(ValueError):
        ValueTierChanged.from_json(b'{"type": "loyalty_stage_changed", "version": 1}')
    with pytest.raises(TypeError):
        ValueTierChanged.from_json(
            b'{"type":"value_tier_changed","version":1,"customer_id":"C","from_tier":null,'
            b'"to_tier":"vip","value_minor":"5","rank":1,"population":1}'
        )


# -- properties ------------------------------------------------------------------

# Few ids and few values: plenty of ties, moves across boundaries and re-entries.
ids = st.integers(0, 60).map(cid)
values = st.one_of(st.integers(0, 40), st.integers(-5, 10_000), st.just(0))
Op = tuple[str, int | None]  # value None: remove
ops = st.lists(st.tuples(ids, st.one_of(values, st.none())), max_size=250)


def run(book: TierBook, history: Iterable[Op], check: bool = False) -> dict[str, Tier]:
    """Apply the history to the book; the tiers its initial tiers and the emitted
    changes give. ``check``: after every step, against a full re-rank."""
    seen = book.tiers()
    latest = {c: book.value_of(c) or 0 for c in seen}
    shares = [Fraction(str(s)) for s in book.rules.shares]
    for customer, value in history:
        if value is None:
            apply(seen, book.remove(customer))
            latest.pop(customer, None)
        else:
            apply(seen, book.update(customer, value))
            latest[customer] = value
        if check:
            assert book.tiers() == brute_tiers(latest, shares)
            assert seen == book.tiers()
    return seen


def final_values(history: Iterable[Op], start: dict[str, int] | None = None) -> dict[str, int]:
    latest = dict(start or {})
    for customer, value in history:
        if value is None:
            latest.pop(customer, None)
        else:
            latest[customer] = value
    return latest


rules = st.sampled_from(
    [
        TierRules(),
        TierRules(0.1, 0.3, 0.6),
        TierRules(0.05, 0.05, 0.5),  # two boundaries at the same rank
        TierRules(0, 0.5, 1),  # no vip ever, no small among the ranked
        TierRules(0.333, 0.667, 0.999),
    ]
)


@PROPERTY
@given(ops, rules)
def test_tiers_always_equal_a_full_re_rank_and_the_changes_reproduce_them(
    history: list[Op], tier_rules: TierRules
) -> None:
    book = TierBook(tier_rules)
    seen = run(book, history, check=True)
    latest = final_values(history)
    assert seen == book.tiers() == TierBook.from_values(latest, tier_rules).tiers()
    ranked = sorted((-v, c) for c, v in latest.items() if v > 0)
    for customer, value in latest.items():
        expected = ranked.index((-value, customer)) + 1 if value > 0 else None
        assert book.rank_of(customer) == expected and book.value_of(customer) == value
    assert book.summary() == TierBook.from_values(latest, tier_rules).summary()


@PROPERTY
@given(
    st.integers(90, 300),
    st.randoms(use_true_random=False),
    st.lists(
        st.tuples(
            st.integers(0, 280).map(cid),
            st.one_of(st.integers(-1, 300), st.integers(0, 30_000), st.none()),
        ),
        max_size=120,
    ),
)
def test_around_the_vip_boundaries_of_a_larger_book(
    size: int, rnd: random.Random, history: list[Op]
) -> None:
    """n crosses 100 and 200 (a vip more or less), with every boundary busy."""
    start = {
        cid(i): rnd.choice([0, rnd.randint(1, 300), rnd.randint(1, 30_000), rnd.randint(1, 30_000)])
        for i in range(size)
    }
    book = TierBook.from_values(start)
    seen = run(book, history, check=True)
    assert seen == TierBook.from_values(final_values(history, start)).tiers()


@PROPERTY
@given(
    st.dictionaries(ids, st.one_of(values, st.none()), min_size=1, max_size=60),
    st.lists(st.tuples(st.integers(0, 59), st.one_of(values, st.none())), max_size=120),
    st.randoms(use_true_random=False),
)
def test_any_order_of_the_same_final_updates_gives_the_same_tiers(
    final: dict[str, int | None], noise: list[tuple[int, int | None]], rnd: random.Random
) -> None:
    """Two histories with different intermediate values (or removals) in different
    interleavings, the same last value (None: removal) per customer."""
    customers = sorted(final)

    def history() -> list[Op]:
        tokens: list[tuple[str, int | None, bool]] = [
            (customers[i % len(customers)], v if rnd.random() < 0.5 else rnd.randint(0, 99), False)
            for i, v in noise
        ]
        tokens += [(c, final[c], True) for c in customers]
        rnd.shuffle(tokens)
        last = {c: i for i, (c, _, _) in enumerate(tokens)}
        out: list[Op] = []
        for i, (customer, value, is_final) in enumerate(tokens):
            if not is_final:
                out.append((customer, value))
            if last[customer] == i:  # the customer's final update comes after their noise
                out.append((customer, final[customer]))
        return out

    first, second = TierBook(), TierBook()
    seen_first, seen_second = run(first, history()), run(second, history())
    latest = {c: v for c, v in final.items() if v is not None}
    assert seen_first == first.tiers() == second.tiers() == seen_second == brute_tiers(latest)
    assert first.summary() == second.summary()


@PROPERTY
@given(st.dictionaries(ids, values, max_size=60), st.permutations(range(61)))
def test_insertion_order_never_changes_the_tiers(final: dict[str, int], order: list[int]) -> None:
    book = TierBook()
    seen: dict[str, Tier] = {}
    for i in order:
        if cid(i) in final:
            apply(seen, book.update(cid(i), final[cid(i)]))
    assert seen == book.tiers() == brute_tiers(final) == TierBook.from_values(final).tiers()


@PROPERTY
@given(ops, st.lists(st.fractions(0, 1, max_denominator=100), min_size=1, max_size=5))
def test_pareto_share_equals_a_brute_force(history: list[Op], tops: list[Fraction]) -> None:
    book = TierBook()
    run(book, history)
    latest = {c: book.value_of(c) or 0 for c in book.tiers()}
    for top in [*tops, Fraction(1, 5), Fraction(1, 100), Fraction(1, 20)]:
        assert book.pareto_share(float(top)) == brute_pareto(latest, Fraction(str(float(top))))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 3_000),
    st.sampled_from(["lognormal", "pareto", "flat"]),
    st.integers(0, 2**32),
)
def test_tier_shares_on_heavy_tailed_populations(n: int, shape: str, seed: int) -> None:
    rnd = random.Random(seed)
    draws: dict[str, Callable[[], float]] = {
        "lognormal": lambda: rnd.lognormvariate(8, 1.5),
        "pareto": lambda: 500 * rnd.paretovariate(1.16),  # alpha 1.16: the 80/20 law
        "flat": lambda: rnd.uniform(1, 10),
    }
    draw = draws[shape]
    population = {cid(i): max(1, round(draw())) for i in range(n)}
    book = TierBook()
    for customer, value in population.items():  # built one update at a time
        book.update(customer, value)
    summary = book.summary()
    cumulative = 0
    for top, row in zip(SHARES, summary.tiers[:3], strict=True):
        cumulative += row.customers  # vip, key, regular together: at most the share, < 1 short
        assert top * n - 1 < cumulative <= top * n
    cumulative += summary.tiers[3].customers
    assert cumulative == n
    assert sum(row.value_minor for row in summary.tiers) == summary.total_value_minor
    assert math.isclose(sum(row.value_share for row in summary.tiers), 1.0)
    assert summary.pareto_share == brute_pareto(population, SHARES[2])
    # Ranked by value: a tier's average is at least the next tier's.
    means = [r.value_minor / r.customers for r in summary.tiers if r.customers]
    assert means == sorted(means, reverse=True)
    # The top 20% hold at least 20% of the value (and most of it on a heavy tail).
    assert summary.pareto_share >= Fraction(math.floor(n * 0.2), n) - 1e-12
    assert book.tiers() == brute_tiers(population)
