"""The materializer through the real broker: customer-views records into DuckDB, exactly once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from projections.duckdb_store import DuckDBProjectionStore
from projections.ports import Logged, ProjectionStore, TopicPartition
from projections.queries import customer, open_read_model
from projections.snapshots import writer_path
from projections.view_records import ViewRecord, encode_alias_record, encode_view_record
from streams import kafka_clients
from streams.materializer import Materializer, MaterializerError
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, create_topics
from tests.builders import eid
from tests.unit.test_projection_store_contract import a_view

pytestmark = pytest.mark.broker

Item = tuple[str, bytes | None]  # (key, value)


@pytest.fixture
def topic(settings: Settings) -> str:
    create_topics(settings)
    return settings.topic(CUSTOMER_VIEWS)


def publish(settings: Settings, items: Sequence[Item]) -> None:
    producer = kafka_clients.producer(settings)
    try:
        for key, value in items:
            producer.send(settings.topic(CUSTOMER_VIEWS), key=key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()


def views(*customers: str, purchases: int = 1) -> list[Item]:
    return [(c, encode_view_record(a_view(c, purchases))) for c in customers]


def alias(alias_id: str, canonical: str) -> Item:
    return (alias_id, encode_alias_record(alias_id, canonical, eid(f"merge-{alias_id}")))


def history() -> list[Item]:
    """Sixty records: views in several versions, merges and deletions."""
    ids = [f"C{n:03d}" for n in range(20)]
    items = views(*ids) + views(*ids[::2], purchases=2)
    items += [alias("C003", "C001"), alias("C005", "C001"), ("C007", None), ("C009", None)]
    items += [*views(*ids[10:16], purchases=3), alias("C011", "C010")]
    return [*items, *views("C005", purchases=4), ("C013", None)]


def run_materializer(settings: Settings, db: Path, **run: Any) -> Materializer:
    materializer = Materializer(settings, DuckDBProjectionStore.open_writer(db))
    materializer.run_until_caught_up(timeout=60, **run)
    return materializer


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in ("customer_view", "customer_alias", "consumed_offsets")
        }


def test_views_are_materialized_and_published_for_readers(settings: Settings, topic: str) -> None:
    items = history()
    publish(settings, items)
    materializer = run_materializer(settings, settings.db, max_records=7)
    assert materializer.caught_up()
    assert materializer.stats.records == len(items)
    assert sum(materializer.store.offsets().values()) == len(items)
    materializer.close()
    with open_read_model(settings.db) as conn:
        ids = {r[0] for r in conn.execute("SELECT customer_id FROM customer_view").fetchall()}
        aliases = conn.execute("SELECT alias_id, canonical_id FROM customer_alias").fetchall()
        spend = conn.execute(
            "SELECT purchase_count FROM customer_view WHERE customer_id IN ('C005', 'C012')"
        ).fetchall()
    gone = {"C003", "C007", "C009", "C011", "C013"}  # merged or deleted; C005 has a view again
    assert ids == {f"C{n:03d}" for n in range(20)} - gone
    assert sorted(aliases) == [("C003", "C001"), ("C011", "C010")]
    assert sorted(spend) == [(3,), (4,)]


def test_a_restarted_materializer_resumes_where_it_stopped(settings: Settings, topic: str) -> None:
    publish(settings, views("C1", "C2", "C3"))
    run_materializer(settings, settings.db).close()

    again = run_materializer(settings, settings.db)
    assert again.stats.records == 0, "nothing is read twice"
    publish(settings, views("C2", purchases=5) + views("C4"))
    again.run_until_caught_up(timeout=60)
    assert again.stats.records == 2
    again.close()
    with open_read_model(settings.db) as conn:
        assert conn.execute("SELECT count(*) FROM customer_view").fetchone() == (4,)
        found = customer(conn, "C2")
        assert found is not None and found.row is not None
        assert found.row["purchase_count"] == 5


class CrashingStore:
    """A DuckDB store whose ``crash_at``-th batch fails inside its transaction."""

    def __init__(self, inner: DuckDBProjectionStore, crash_at: int) -> None:
        self.inner, self.crash_at, self.batches = inner, crash_at, 0

    def apply(self, batch: Sequence[Logged], offsets: Mapping[TopicPartition, int]) -> None:
        self.batches += 1
        if self.batches == self.crash_at:
            good = next(b.record for b in batch if isinstance(b.record, ViewRecord))
            bad = ViewRecord("C999", {**good.row, "event_count": "many"}, {})
            batch = [*batch, Logged(batch[-1].topic, batch[-1].partition, 10**9, bad)]
        self.inner.apply(batch, offsets)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def crashing_run(settings: Settings, path: Path, crash_at: int) -> Materializer:
    store: ProjectionStore = CrashingStore(DuckDBProjectionStore(path), crash_at)  # type: ignore[assignment]
    materializer = Materializer(settings, store)
    with pytest.raises(duckdb.Error):
        materializer.run_until_caught_up(timeout=60, max_records=7)
    return materializer


def test_after_a_crash_a_restart_gives_the_tables_of_an_uninterrupted_run(
    settings: Settings, topic: str, tmp_path: Path
) -> None:
    publish(settings, history())
    run_materializer(settings, settings.db, max_records=7).close()

    crashed = tmp_path / "crashed.duckdb"
    crashing_run(settings, crashed, crash_at=4).close()  # dies after three batches
    partial = tables(crashed)
    assert partial["customer_view"], "three batches were applied"
    assert sum(o[2] for o in partial["consumed_offsets"]) < len(history())

    with Materializer(settings, DuckDBProjectionStore(crashed)) as restarted:
        restarted.run_until_caught_up(timeout=60, max_records=7)
    assert tables(crashed) == tables(settings.db)


def test_a_failed_batch_is_read_again_by_the_same_materializer(
    settings: Settings, topic: str, tmp_path: Path
) -> None:
    publish(settings, history())
    run_materializer(settings, settings.db, max_records=7).close()
    retried = tmp_path / "retried.duckdb"
    materializer = crashing_run(settings, retried, crash_at=2)
    materializer.run_until_caught_up(timeout=60, max_records=7)  # the store works again
    materializer.close()
    assert tables(retried) == tables(settings.db)


def test_aliases_and_tombstones(settings: Settings, topic: str) -> None:
    publish(settings, [*views("C1", "C2", "C3"), alias("C2", "C1"), ("C3", None)])
    run_materializer(settings, settings.db).close()
    with open_read_model(settings.db) as conn:
        assert conn.execute("SELECT customer_id FROM customer_view").fetchall() == [("C1",)]
        aliases = conn.execute("SELECT alias_id, canonical_id, caused_by FROM customer_alias")
        assert aliases.fetchall() == [("C2", "C1", eid("merge-C2"))]
        found = customer(conn, "C2")
        assert found is not None and found.via_alias and found.customer_id == "C1"


def test_undecodable_records_are_skipped_counted_and_stepped_over(
    settings: Settings, topic: str
) -> None:
    junk = [("C5", b"{not json"), ("C6", b'{"type": "customer_mood", "version": 1}')]
    publish(settings, junk + views("C7"))
    materializer = run_materializer(settings, settings.db)
    assert (materializer.stats.skipped, materializer.stats.applied) == (2, 1)
    assert sum(materializer.store.offsets().values()) == 3
    materializer.close()


def test_an_empty_topic_is_caught_up_at_once(settings: Settings, topic: str) -> None:
    materializer = run_materializer(settings, settings.db)
    assert materializer.stats.records == 0
    materializer.close()


def test_a_missing_topic_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(MaterializerError, match="touchpoint topics create"):
        Materializer(settings)


READ = "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
COUNT = READ + "print(c.execute('SELECT count(*) FROM customer_view').fetchone()[0])"


@pytest.fixture
def open_materializer(settings: Settings, topic: str) -> Iterator[Materializer]:
    publish(settings, views("C1", "C2"))
    materializer = run_materializer(settings, settings.db)
    yield materializer
    materializer.close()


def test_other_processes_read_the_snapshot_while_the_materializer_writes(
    settings: Settings, open_materializer: Materializer
) -> None:
    reader = subprocess.run(
        [sys.executable, "-c", COUNT, str(settings.db)], capture_output=True, text=True
    )
    assert reader.returncode == 0, reader.stderr
    assert reader.stdout.strip() == "2"
    # The writer's own file is locked: that is why snapshots exist.
    locked = subprocess.run(
        [sys.executable, "-c", COUNT, str(writer_path(settings.db))], capture_output=True, text=True
    )
    assert locked.returncode != 0 and "lock" in locked.stderr.lower()
