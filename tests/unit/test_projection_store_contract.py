"""One contract, every ProjectionStore: given a store, when batches are applied, then...

The same tests run against the DuckDB store and the in-memory double; a few
DuckDB-only checks (reopening, snapshots, schema versions) follow at the end.
Records go to the topic their kind is read from (``logged``): views, aliases and
their tombstones to ``customer-views``, current stages and their tombstones to
``loyalty-stages``, stage changes to ``loyalty-stage-changes``, current tiers to
``value-tiers``, tier changes to ``value-tier-changes``, scores to ``clv-scores``
and fits to ``clv-fits``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.clv import BgNbdFit, BgNbdParams, FittedModels, GammaGammaFit, GammaGammaParams
from projections.customer_view import CustomerView, fold, initial, view
from projections.duckdb_store import (
    SCHEMA_VERSION,
    DuckDBProjectionStore,
    ReadModelSchemaError,
)
from projections.loyalty import LoyaltyStageChanged, Stage
from projections.loyalty_records import (
    CurrentStage,
    StageCleared,
    StageTransition,
    decode_stage_record,
    decode_transition_record,
)
from projections.ports import InMemoryProjectionStore, Logged, ProjectionStore, StoreRecord
from projections.snapshots import SnapshotSchedule, writer_path
from projections.value_records import (
    ClvFit,
    ClvScore,
    CurrentTier,
    ScoreCleared,
    TierChange,
    TierCleared,
    decode_clv_fit_record,
    decode_clv_record,
    decode_tier_change_record,
    decode_tier_record,
)
from projections.value_tiers import Tier, ValueTierChanged
from projections.view_records import (
    AliasRecord,
    Tombstone,
    ViewRecord,
    decode_view_record,
    encode_alias_record,
    encode_view_record,
)
from tests.builders import a_complaint, a_purchase, a_survey, days_after, eid, sealed

TOPIC = "customer-views"
STAGES = "loyalty-stages"
CHANGES = "loyalty-stage-changes"
TIERS_TOPIC = "value-tiers"
TIER_CHANGES = "value-tier-changes"
SCORES = "clv-scores"
FITS = "clv-fits"


def a_view(customer: str = "C1", purchases: int = 1, as_of_day: int = 30) -> CustomerView:
    events = [
        sealed(a_purchase(customer, 1000 + i, days_after(i), event_id=eid(f"{customer}-p{i}")))
        for i in range(purchases)
    ]
    events.append(sealed(a_complaint(customer, days_after(1), event_id=eid(f"{customer}-k"))))
    events.append(sealed(a_survey(customer, 8, days_after(2), event_id=eid(f"{customer}-s"))))
    return view(fold(initial(customer), events), datetime.fromisoformat(days_after(as_of_day)))


def view_record(customer: str = "C1", purchases: int = 1, as_of_day: int = 30) -> ViewRecord:
    record = decode_view_record(encode_view_record(a_view(customer, purchases, as_of_day)))
    assert isinstance(record, ViewRecord)
    return record


def alias_record(alias: str, canonical: str) -> AliasRecord:
    record = decode_view_record(encode_alias_record(alias, canonical, eid(f"link-{alias}")))
    assert isinstance(record, AliasRecord)
    return record


def a_change(
    customer: str = "C1",
    day: float = 1,
    to_stage: Stage = Stage.FIRST_TIME_BUYER,
    from_stage: Stage | None = Stage.PROSPECT,
    trigger: str | None = "purchase",
) -> LoyaltyStageChanged:
    return LoyaltyStageChanged(
        customer_id=customer,
        from_stage=from_stage,
        to_stage=to_stage,
        reason=f"{to_stage.value} on day {day}",
        occurred_at=datetime.fromisoformat(days_after(day)),
        trigger_event_id=None if trigger is None else UUID(eid(f"{customer}-{trigger}-{day}")),
    )


def current(change: LoyaltyStageChanged) -> CurrentStage:
    """The ``loyalty-stages`` record of ``change``, through its wire format."""
    record = decode_stage_record(change.to_json(), change.customer_id.encode())
    assert isinstance(record, CurrentStage)
    return record


def transition(change: LoyaltyStageChanged) -> StageTransition:
    """The ``loyalty-stage-changes`` record of ``change``, through its wire format."""
    return decode_transition_record(change.to_json(), change.customer_id.encode())


def a_tier_change(
    customer: str = "C1",
    to_tier: Tier | None = Tier.SMALL,
    value: int = 1000,
    rank: int | None = 1,
    population: int = 10,
    from_tier: Tier | None = None,
) -> ValueTierChanged:
    return ValueTierChanged(customer, from_tier, to_tier, value, rank, population)


def current_tier(change: ValueTierChanged) -> CurrentTier | TierCleared:
    """The ``value-tiers`` record of ``change``, through its wire format."""
    return decode_tier_record(change.to_json(), change.customer_id.encode())


def tier_history(change: ValueTierChanged) -> TierChange:
    """The ``value-tier-changes`` record of ``change``, through its wire format."""
    return decode_tier_change_record(change.to_json(), change.customer_id.encode())


def a_score(customer: str = "C1", clv: float | None = 12345.5, day: int = 30) -> ClvScore:
    """A ``clv-scores`` record, through its wire format."""
    score = ClvScore(
        customer_id=customer,
        fitted_at=datetime.fromisoformat(days_after(day)),
        p_alive=0.8125,
        expected_purchases_90d=1.25,
        expected_spend_minor=None if clv is None else 2500.0,
        clv_minor=clv,
        currency="EUR",
        horizon_months=12,
        monthly_discount_rate=0.01,
    )
    found = decode_clv_record(score.to_json(), customer.encode())
    assert isinstance(found, ClvScore)
    return found


def a_fit(day: int = 30, r: float = 0.25) -> ClvFit:
    """A ``clv-fits`` record, through its wire format."""
    models = FittedModels(
        bgnbd=BgNbdFit(BgNbdParams(r=r, alpha=4.5, a=0.8, b=2.4), -9876.5, 2357, True),
        gamma_gamma=GammaGammaFit(GammaGammaParams(p=6.2, q=3.9, v=15.4), -4321.0, 946, True),
        fitted_at=datetime.fromisoformat(days_after(day)),
        penalizer_coef=0.001,
    )
    return decode_clv_fit_record(models.to_json().encode(), b"clv")


VALUE_TOPICS = {
    CurrentTier: TIERS_TOPIC,
    TierCleared: TIERS_TOPIC,
    TierChange: TIER_CHANGES,
    ClvScore: SCORES,
    ScoreCleared: SCORES,
    ClvFit: FITS,
}


def topic_of(record: StoreRecord) -> str:
    if type(record) in VALUE_TOPICS:
        return VALUE_TOPICS[type(record)]
    if isinstance(record, CurrentStage | StageCleared):
        return STAGES
    return CHANGES if isinstance(record, StageTransition) else TOPIC


def logged(*records: StoreRecord, start: int = 0, partition: int = 0) -> list[Logged]:
    return [Logged(topic_of(r), partition, start + i, r) for i, r in enumerate(records)]


def next_offsets(batch: list[Logged]) -> dict[tuple[str, int], int]:
    return {(b.topic, b.partition): b.offset + 1 for b in batch}


def apply(store: ProjectionStore, batch: list[Logged]) -> None:
    store.apply(batch, next_offsets(batch))


def purchases_of(store: ProjectionStore, customer: str) -> object:
    stored = store.view_of(customer)
    return None if stored is None else stored.row["purchase_count"]


StoreFactory = Callable[[], ProjectionStore]


@pytest.fixture(params=["in-memory", "duckdb"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[ProjectionStore] = []

    def make() -> ProjectionStore:
        if request.param == "in-memory":
            store: ProjectionStore = InMemoryProjectionStore()
        else:
            store = DuckDBProjectionStore(tmp_path / f"store{len(opened)}.duckdb")
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> ProjectionStore:
    return make_store()


# -- the contract ---------------------------------------------------------------------


def test_a_view_is_stored_with_its_row_whole_view_and_offset(store: ProjectionStore) -> None:
    record = view_record("C1", purchases=2)
    apply(store, logged(record, start=7))
    stored = store.view_of("C1")
    assert stored is not None
    assert stored.row == record.row
    assert stored.view == record.view
    assert stored.offset == 7
    assert store.view_of("C2") is None


def test_a_newer_view_replaces_the_row(store: ProjectionStore) -> None:
    apply(store, logged(view_record("C1", purchases=1)))
    apply(store, logged(view_record("C1", purchases=3), start=1))
    assert purchases_of(store, "C1") == 3


def test_within_a_batch_the_last_record_of_a_customer_wins(store: ProjectionStore) -> None:
    batch = logged(view_record("C1", 1), view_record("C2", 2), view_record("C1", 3))
    apply(store, batch)
    assert (purchases_of(store, "C1"), purchases_of(store, "C2")) == (3, 2)


def test_an_alias_deletes_the_row_of_the_merged_id(store: ProjectionStore) -> None:
    apply(store, logged(view_record("C1"), view_record("C2")))
    apply(store, logged(alias_record("C2", "C1"), start=2))
    assert store.view_of("C2") is None
    assert store.view_of("C1") is not None
    assert store.alias_of("C2") == AliasRecord("C2", "C1", eid("link-C2"))


def test_a_view_after_an_alias_undoes_the_alias(store: ProjectionStore) -> None:
    """The latest record of a key is its state, as compaction would leave it."""
    apply(store, logged(alias_record("C2", "C1"), view_record("C2")))
    assert store.alias_of("C2") is None
    assert store.view_of("C2") is not None


def test_a_tombstone_deletes_the_row_and_the_alias(store: ProjectionStore) -> None:
    apply(store, logged(view_record("C1"), alias_record("C3", "C2")))
    apply(store, logged(Tombstone("C1"), Tombstone("C3"), start=2))
    assert store.view_of("C1") is None
    assert store.alias_of("C3") is None


def test_offsets_are_stored_with_the_rows_and_never_go_back(store: ProjectionStore) -> None:
    assert store.offsets() == {}
    apply(store, logged(view_record("C1"), start=4, partition=0))
    apply(store, logged(view_record("C2"), start=9, partition=2))
    assert store.offsets() == {(TOPIC, 0): 5, (TOPIC, 2): 10}
    store.apply([], {(TOPIC, 0): 3})
    assert store.offsets()[(TOPIC, 0)] == 5


def test_a_batch_that_fails_midway_leaves_neither_rows_nor_offsets(
    store: ProjectionStore,
) -> None:
    apply(store, logged(view_record("C9")))
    good = view_record("C1")
    bad = dataclasses.replace(view_record("C4"), row={**good.row, "event_count": "many"})
    batch = logged(Tombstone("C9"), alias_record("C3", "C1"), good, bad, start=1)
    with pytest.raises((ValueError, duckdb.Error)):
        apply(store, batch)
    assert store.view_of("C9") is not None, "the tombstone was rolled back"
    assert store.view_of("C1") is None
    assert store.alias_of("C3") is None
    assert store.offsets() == {(TOPIC, 0): 1}
    apply(store, batch[:3])  # and the store goes on working
    assert store.view_of("C1") is not None
    assert store.offsets() == {(TOPIC, 0): 4}


def test_reapplying_a_batch_changes_nothing(store: ProjectionStore) -> None:
    first = logged(view_record("C1", 1), alias_record("C2", "C1"))
    apply(store, first)
    apply(store, logged(view_record("C1", 2), Tombstone("C2"), start=2))
    before = contents(store, ["C1", "C2"])
    apply(store, first)
    assert contents(store, ["C1", "C2"]) == before
    assert purchases_of(store, "C1") == 2


def test_the_watermark_is_the_largest_as_of_applied(store: ProjectionStore) -> None:
    assert store.watermark() is None
    apply(store, logged(view_record("C1", as_of_day=40), view_record("C2", as_of_day=30)))
    apply(store, logged(view_record("C3", as_of_day=35), start=2))
    assert store.watermark() == datetime.fromisoformat(days_after(40))


# -- loyalty stages and their history ------------------------------------------------


def test_the_current_stage_is_stored_with_reason_since_trigger_and_offset(
    store: ProjectionStore,
) -> None:
    change = a_change("C1", day=3, to_stage=Stage.REPEAT_BUYER)
    apply(store, logged(current(change), start=5))
    stored = store.stage_of("C1")
    assert stored is not None
    assert (stored.stage, stored.reason, stored.since) == (
        Stage.REPEAT_BUYER,
        change.reason,
        change.occurred_at,
    )
    assert (stored.trigger_event_id, stored.offset) == (change.trigger_event_id, 5)
    assert store.stage_of("C2") is None


def test_the_latest_stage_record_of_a_customer_is_its_stage(store: ProjectionStore) -> None:
    first = a_change("C1", 1, Stage.PROSPECT, from_stage=None)
    second = a_change("C1", 2, Stage.LOYAL)
    third = a_change("C1", 3, Stage.AT_RISK, from_stage=Stage.LOYAL)
    apply(store, logged(current(first), current(second)))
    stored = store.stage_of("C1")
    assert stored is not None and stored.stage == Stage.LOYAL
    apply(store, logged(current(dataclasses.replace(third, trigger_event_id=None)), start=2))
    stored = store.stage_of("C1")
    assert stored is not None and stored.stage == Stage.AT_RISK
    assert stored.trigger_event_id is None


def test_stage_changes_are_kept_once_per_customer_and_instant(store: ProjectionStore) -> None:
    """A redelivered change (the same record again, at a new offset) is the same row."""
    entry = a_change("C1", day=0, to_stage=Stage.PROSPECT, from_stage=None)
    bought = a_change("C1", day=2)
    other = a_change("C2", day=1)
    apply(store, logged(transition(bought), transition(entry), transition(other)))
    apply(store, logged(transition(bought), transition(entry), start=3))
    assert store.transitions_of("C1") == [entry, bought], "oldest first, each once"
    assert store.transitions_of("C2") == [other]
    assert store.transitions_of("C3") == []


def test_every_change_of_a_batch_is_kept_not_only_the_latest(store: ProjectionStore) -> None:
    changes = [a_change("C1", day, stage) for day, stage in enumerate(Stage, start=1)]
    apply(store, logged(*(transition(c) for c in changes)))
    assert store.transitions_of("C1") == changes


def test_a_stage_tombstone_deletes_the_stage_and_keeps_the_history(
    store: ProjectionStore,
) -> None:
    change = a_change("C2")
    apply(store, logged(view_record("C2"), current(change), transition(change)))
    apply(store, logged(StageCleared("C2"), start=3))
    assert store.stage_of("C2") is None
    assert store.transitions_of("C2") == [change], "the history stays"
    assert store.view_of("C2") is not None, "a stage tombstone does not touch the view"


def test_views_and_stages_of_one_customer_are_independent(store: ProjectionStore) -> None:
    """Each topic's latest record decides only its own tables."""
    change = a_change("C1")
    apply(store, logged(current(change), view_record("C1"), Tombstone("C1"), transition(change)))
    assert store.view_of("C1") is None
    assert store.stage_of("C1") is not None
    apply(store, logged(StageCleared("C1"), current(change), start=4))
    assert store.stage_of("C1") is not None, "a stage after a tombstone is the stage again"


def test_one_batch_stores_the_offsets_of_every_topic(store: ProjectionStore) -> None:
    change = a_change("C1")
    batch = logged(view_record("C1"), current(change), transition(change), start=10)
    apply(store, batch)
    assert store.offsets() == {(TOPIC, 0): 11, (STAGES, 0): 12, (CHANGES, 0): 13}


def test_a_failing_batch_applies_no_stage_no_change_and_no_offset(
    store: ProjectionStore,
) -> None:
    kept = a_change("C9", day=1)
    apply(store, logged(current(kept)))
    change = a_change("C1", day=2, to_stage=Stage.LOYAL)
    good = view_record("C1")
    bad = dataclasses.replace(view_record("C4"), row={**good.row, "event_count": "many"})
    batch = logged(StageCleared("C9"), current(change), transition(change), good, bad, start=1)
    with pytest.raises((ValueError, duckdb.Error)):
        apply(store, batch)
    assert store.stage_of("C9") is not None, "the stage tombstone was rolled back"
    assert store.stage_of("C1") is None
    assert store.transitions_of("C1") == []
    assert store.offsets() == {(STAGES, 0): 1}
    apply(store, batch[:4])
    assert store.stage_of("C9") is None
    assert store.transitions_of("C1") == [change]


# -- value tiers, CLV scores and fits -------------------------------------------------


def test_the_current_tier_is_stored_with_value_rank_population_and_offset(
    store: ProjectionStore,
) -> None:
    apply(store, logged(current_tier(a_tier_change("C1", Tier.KEY, 5000, 3, 100)), start=6))
    stored = store.tier_of("C1")
    assert stored is not None
    assert (stored.tier, stored.value_minor, stored.rank, stored.population) == (
        Tier.KEY,
        5000,
        3,
        100,
    )
    assert stored.offset == 6
    assert store.tier_of("C2") is None


def test_the_latest_tier_record_decides_and_a_tombstone_deletes(store: ProjectionStore) -> None:
    first = a_tier_change("C1", Tier.SMALL, 10, None, 5)
    second = a_tier_change("C1", Tier.VIP, 9000, 1, 200, from_tier=Tier.SMALL)
    apply(store, logged(current_tier(first), current_tier(second), tier_history(second)))
    stored = store.tier_of("C1")
    assert stored is not None and stored.tier == Tier.VIP
    apply(store, logged(TierCleared("C1"), start=3))
    assert store.tier_of("C1") is None
    assert store.tier_changes_of("C1") == [second], "the history stays"


def test_a_tier_record_to_no_tier_clears_the_tier(store: ProjectionStore) -> None:
    apply(store, logged(current_tier(a_tier_change("C1", Tier.REGULAR))))
    left = a_tier_change("C1", None, 1000, None, 9, from_tier=Tier.REGULAR)
    assert current_tier(left) == TierCleared("C1")
    apply(store, logged(current_tier(left), tier_history(left), start=1))
    assert store.tier_of("C1") is None
    assert store.tier_changes_of("C1") == [left]


def test_tier_changes_are_kept_once_per_partition_and_offset_in_log_order(
    store: ProjectionStore,
) -> None:
    changes = [
        a_tier_change("C1", Tier.SMALL, 10, 5, 5),
        a_tier_change("C1", Tier.REGULAR, 500, 1, 5, from_tier=Tier.SMALL),
        a_tier_change("C1", Tier.SMALL, 500, 2, 6, from_tier=Tier.REGULAR),  # pushed down
    ]
    batch = logged(*map(tier_history, changes), start=20, partition=1)
    apply(store, batch)
    store.apply(batch, {})  # read again: the same rows
    assert store.tier_changes_of("C1") == changes
    assert store.tier_changes_of("C2") == []


def test_clv_scores_are_stored_replaced_and_deleted(store: ProjectionStore) -> None:
    apply(store, logged(a_score("C1", clv=100.0), a_score("C2", clv=None)))
    apply(store, logged(a_score("C1", clv=250.5, day=40), start=2))
    assert store.clv_of("C1") == a_score("C1", clv=250.5, day=40)
    assert store.clv_of("C2") == a_score("C2", clv=None)
    apply(store, logged(ScoreCleared("C2"), start=3))
    assert store.clv_of("C2") is None


def test_fits_are_kept_once_per_fitted_at_oldest_first(store: ProjectionStore) -> None:
    apply(store, logged(a_fit(40), a_fit(30), a_fit(40)))
    assert store.clv_fits() == [a_fit(30).models, a_fit(40).models]
    apply(store, logged(a_fit(30, r=0.5), start=3))
    assert store.clv_fits()[0].bgnbd.params.r == 0.5, "the later fit of an instant wins"


def test_one_batch_stores_the_offsets_of_the_value_topics_too(store: ProjectionStore) -> None:
    change = a_tier_change("C1")
    batch = logged(view_record("C1"), current_tier(change), tier_history(change), a_score(),
                   a_fit(), start=10)  # fmt: skip
    apply(store, batch)
    assert store.offsets() == {
        (TOPIC, 0): 11,
        (TIERS_TOPIC, 0): 12,
        (TIER_CHANGES, 0): 13,
        (SCORES, 0): 14,
        (FITS, 0): 15,
    }


def test_a_failing_batch_applies_no_tier_no_score_and_no_fit(store: ProjectionStore) -> None:
    change = a_tier_change("C1")
    good = view_record("C1")
    bad = dataclasses.replace(view_record("C4"), row={**good.row, "event_count": "many"})
    batch = logged(current_tier(change), tier_history(change), a_score(), a_fit(), bad)
    with pytest.raises((ValueError, duckdb.Error)):
        apply(store, batch)
    assert (store.tier_of("C1"), store.tier_changes_of("C1")) == (None, [])
    assert (store.clv_of("C1"), store.clv_fits(), store.offsets()) == (None, [], {})


def contents(store: ProjectionStore, ids: list[str]) -> dict[str, Any]:
    return {
        "tiers": {c: store.tier_of(c) for c in ids},
        "tier_changes": {c: store.tier_changes_of(c) for c in ids},
        "scores": {c: store.clv_of(c) for c in ids},
        "fits": store.clv_fits(),
        "views": {c: store.view_of(c) for c in ids},
        "aliases": {c: store.alias_of(c) for c in ids},
        "offsets": store.offsets(),
        "watermark": store.watermark(),
        "stages": {c: store.stage_of(c) for c in ids},
        "transitions": {c: store.transitions_of(c) for c in ids},
    }


IDS = ["C1", "C2", "C3"]
VIEWS = {(c, n): view_record(c, n) for c in IDS for n in (1, 2)}
CHANGED = {
    (c, day): a_change(c, day, stage) for c in IDS for day, stage in enumerate(Stage, start=1)
}
RECORDS = st.one_of(
    st.builds(lambda c, n: VIEWS[(c, n)], st.sampled_from(IDS), st.sampled_from([1, 2])),
    st.builds(alias_record, st.sampled_from(IDS), st.just("C0")),
    st.builds(Tombstone, st.sampled_from(IDS)),
    st.builds(lambda key: current(CHANGED[key]), st.sampled_from(sorted(CHANGED))),
    st.builds(lambda key: transition(CHANGED[key]), st.sampled_from(sorted(CHANGED))),
    st.builds(StageCleared, st.sampled_from(IDS)),
    st.builds(
        lambda c, tier: current_tier(a_tier_change(c, tier)),
        st.sampled_from(IDS),
        st.sampled_from([*Tier, None]),
    ),
    st.builds(
        lambda c, v: tier_history(a_tier_change(c, value=v)),
        st.sampled_from(IDS),
        st.sampled_from([1, 2]),
    ),
    st.builds(TierCleared, st.sampled_from(IDS)),
    st.builds(a_score, st.sampled_from(IDS), st.sampled_from([None, 1.5])),
    st.builds(ScoreCleared, st.sampled_from(IDS)),
    st.builds(a_fit, st.sampled_from([30, 40]), st.sampled_from([0.25, 0.5])),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORDS, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=4))
def test_any_chunking_gives_the_state_of_one_batch(
    make_store: StoreFactory, records: list[StoreRecord], cuts: list[int]
) -> None:
    whole, chunked = make_store(), make_store()
    batch = logged(*records)
    apply(whole, batch)
    bounds = [0, *sorted(c for c in cuts if c <= len(batch)), len(batch)]
    for lo, hi in itertools.pairwise(bounds):
        chunked.apply(batch[lo:hi], next_offsets(batch[:hi]))
    assert contents(chunked, IDS) == contents(whole, IDS)


# -- DuckDB only ----------------------------------------------------------------------


def test_a_reopened_duckdb_store_has_its_rows_and_offsets(tmp_path: Path) -> None:
    with DuckDBProjectionStore(tmp_path / "m.duckdb") as store:
        apply(store, logged(view_record("C1"), start=41))
    with DuckDBProjectionStore(tmp_path / "m.duckdb") as store:
        assert store.offsets() == {(TOPIC, 0): 42}
        assert store.view_of("C1") is not None


def test_a_file_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE customer_view (customer_id VARCHAR PRIMARY KEY, x INTEGER)")
    with pytest.raises(ReadModelSchemaError, match="remove the file"):
        DuckDBProjectionStore(path)


V1_TABLES = ("customer_view", "customer_alias", "consumed_offsets", "pipeline_watermark")


def a_version_1_file(path: Path) -> None:
    """A read model as the materializer wrote it before loyalty stages (no version table)."""
    with DuckDBProjectionStore(path) as store:
        apply(store, logged(view_record("C1"), start=41))
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP TABLE loyalty_stage")
        conn.execute("DROP TABLE loyalty_transitions")
        conn.execute("DROP VIEW open_churn_warnings")
        for table in ("value_tier", "value_tier_changes", "clv", "clv_fits", "churn_warnings",
                      "churn_warning_events", "complaint_sla"):  # fmt: skip
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DROP TABLE read_model_schema")
        tables = conn.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    assert sorted(name for (name,) in tables) == sorted(V1_TABLES)


def test_a_version_1_file_is_migrated_and_keeps_its_rows_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "v1.duckdb"
    a_version_1_file(path)
    with DuckDBProjectionStore(path) as store:
        assert store.offsets() == {(TOPIC, 0): 42}, "customer-views resumes where it was"
        assert store.view_of("C1") is not None
        assert store.stage_of("C1") is None
        apply(store, logged(current(a_change("C1")), start=0))  # the loyalty topics start at 0
        assert store.stage_of("C1") is not None
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT version FROM read_model_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]


def test_a_version_2_file_is_migrated_and_keeps_its_rows_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "v2.duckdb"
    with DuckDBProjectionStore(path) as store:
        apply(store, logged(view_record("C1"), current(a_change("C1")), start=41))
    with duckdb.connect(str(path)) as conn:
        for table in ("value_tier", "value_tier_changes", "clv", "clv_fits"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE read_model_schema SET version = 2")
    with DuckDBProjectionStore(path) as store:
        assert store.offsets() == {(TOPIC, 0): 42, (STAGES, 0): 43}
        assert store.view_of("C1") is not None and store.stage_of("C1") is not None
        apply(store, logged(current_tier(a_tier_change("C1")), start=0))
        assert store.tier_of("C1") is not None
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT version FROM read_model_schema").fetchall() == [
            (SCHEMA_VERSION,)
        ]


def test_a_version_3_file_gets_the_churn_tables_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.duckdb"
    with DuckDBProjectionStore(path) as store:
        apply(store, logged(view_record("C1"), start=41))
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP VIEW open_churn_warnings")
        for table in ("churn_warnings", "churn_warning_events", "complaint_sla"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE read_model_schema SET version = 3")
    with DuckDBProjectionStore(path) as store:
        assert store.view_of("C1") is not None
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM open_churn_warnings").fetchall() == [(0,)]
        assert conn.execute("SELECT version FROM read_model_schema").fetchall() == [(4,)]


def test_a_file_of_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    DuckDBProjectionStore(path).close()
    with duckdb.connect(str(path)) as conn:
        conn.execute("UPDATE read_model_schema SET version = ?", [SCHEMA_VERSION + 1])
    with pytest.raises(ReadModelSchemaError, match="newer touchpoint"):
        DuckDBProjectionStore(path)


def test_a_loyalty_table_of_another_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("CREATE TABLE loyalty_stage (customer_id VARCHAR PRIMARY KEY, stage INTEGER)")
    with pytest.raises(ReadModelSchemaError, match="loyalty_stage table of another version"):
        DuckDBProjectionStore(path)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def customers_in(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as conn:
        found = conn.execute("SELECT count(*) FROM customer_view").fetchone()
    assert found is not None
    return int(found[0])


def test_snapshots_are_published_at_most_every_interval_and_on_close(tmp_path: Path) -> None:
    db, clock = tmp_path / "rm.duckdb", Clock()
    schedule = SnapshotSchedule(interval=2.0, clock=clock)
    store = DuckDBProjectionStore(writer_path(db), publish_to=db, schedule=schedule)
    apply(store, logged(view_record("C1")))
    assert customers_in(db) == 1, "the first batch is published at once"
    clock.now += 1.0
    apply(store, logged(view_record("C2"), start=1))
    assert customers_in(db) == 1, "too soon for another copy"
    clock.now += 1.5
    apply(store, logged(view_record("C3"), start=2))
    assert customers_in(db) == 3
    apply(store, logged(view_record("C4"), start=3))
    store.close()
    assert customers_in(db) == 4, "close publishes the rest"


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(tmp_path: Path) -> None:
    db = tmp_path / "rm.duckdb"
    store = DuckDBProjectionStore.open_writer(db)
    apply(store, logged(view_record("C1")))
    with duckdb.connect(str(db), read_only=True) as reader:
        apply(store, logged(view_record("C2"), start=1))
        store.publish_snapshot()
        assert reader.execute("SELECT count(*) FROM customer_view").fetchone() == (1,)
    # (DuckDB shares one open database per path within a process: hence the close.)
    assert customers_in(db) == 2, "a reader that opens now sees the new snapshot"
    store.close()


def test_open_writer_starts_from_the_writer_file_else_from_the_snapshot(tmp_path: Path) -> None:
    db = tmp_path / "rm.duckdb"
    with DuckDBProjectionStore.open_writer(db) as store:
        apply(store, logged(view_record("C1"), start=10))
    writer_path(db).unlink()  # e.g. moved to a new machine with the snapshot only
    with DuckDBProjectionStore.open_writer(db) as store:
        assert store.offsets() == {(TOPIC, 0): 11}, "the snapshot carries its offsets"
        apply(store, logged(view_record("C2"), start=11))
    with DuckDBProjectionStore.open_writer(db) as store:
        assert store.offsets() == {(TOPIC, 0): 12}
