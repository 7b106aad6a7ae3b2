"""One contract, every ProjectionStore: given a store, when batches are applied, then...

The same tests run against the DuckDB store and the in-memory double; a few
DuckDB-only checks (reopening, snapshots, schema) follow at the end.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.customer_view import CustomerView, fold, initial, view
from projections.duckdb_store import DuckDBProjectionStore, ReadModelSchemaError
from projections.ports import InMemoryProjectionStore, Logged, ProjectionStore
from projections.snapshots import SnapshotSchedule, writer_path
from projections.view_records import (
    AliasRecord,
    Record,
    Tombstone,
    ViewRecord,
    decode_view_record,
    encode_alias_record,
    encode_view_record,
)
from tests.builders import a_complaint, a_purchase, a_survey, days_after, eid, sealed

TOPIC = "customer-views"


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


def logged(*records: Record, start: int = 0, partition: int = 0) -> list[Logged]:
    return [Logged(TOPIC, partition, start + i, r) for i, r in enumerate(records)]


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


def contents(store: ProjectionStore, ids: list[str]) -> dict[str, Any]:
    return {
        "views": {c: store.view_of(c) for c in ids},
        "aliases": {c: store.alias_of(c) for c in ids},
        "offsets": store.offsets(),
        "watermark": store.watermark(),
    }


IDS = ["C1", "C2", "C3"]
VIEWS = {(c, n): view_record(c, n) for c in IDS for n in (1, 2)}
RECORDS = st.one_of(
    st.builds(lambda c, n: VIEWS[(c, n)], st.sampled_from(IDS), st.sampled_from([1, 2])),
    st.builds(alias_record, st.sampled_from(IDS), st.just("C0")),
    st.builds(Tombstone, st.sampled_from(IDS)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(RECORDS, max_size=12), cuts=st.lists(st.integers(0, 12), max_size=4))
def test_any_chunking_gives_the_state_of_one_batch(
    make_store: StoreFactory, records: list[Record], cuts: list[int]
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
