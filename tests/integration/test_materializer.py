"""The materializer through the real broker: customer-views, loyalty-stages,
loyalty-stage-changes, value-tiers, value-tier-changes, clv-scores and clv-fits records
into DuckDB, exactly once."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest

from projections.duckdb_store import DuckDBProjectionStore
from projections.loyalty import LADDER, LoyaltyStageChanged, Stage
from projections.ports import Logged, ProjectionStore, TopicPartition
from projections.queries import clv_of, customer, funnel, open_read_model, stage_history, tiers
from projections.snapshots import writer_path
from projections.value_tiers import Tier, TierBook, ValueTierChanged
from projections.view_records import ViewRecord, encode_alias_record, encode_view_record
from streams import kafka_clients
from streams.materializer import Materializer, MaterializerError
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, LOYALTY_CHANGES, LOYALTY_STAGES, create_topics
from tests.builders import eid
from tests.unit.test_projection_store_contract import (
    a_change,
    a_fit,
    a_score,
    a_view,
    view_record,
)

pytestmark = pytest.mark.broker

Item = tuple[str, bytes | None]  # (key, value)


def read_new(materializer: Materializer, at_least: int, timeout_s: float = 60) -> None:
    """Read records sent after the materializer last caught up. Its fetch high-water marks
    predate those sends, so caught_up() alone could say yes before they arrive: read until
    at least ``at_least`` came, then until two polls in a row bring nothing."""
    deadline, quiet = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline and (materializer.stats.records < at_least or quiet < 2):
        quiet = 0 if materializer.run_once(timeout_ms=200) else quiet + 1
    assert materializer.stats.records >= at_least, "the new records did not arrive in time"


@pytest.fixture
def topic(settings: Settings) -> str:
    create_topics(settings)
    return settings.topic(CUSTOMER_VIEWS)


def publish(settings: Settings, items: Sequence[Item], topic: str = CUSTOMER_VIEWS) -> None:
    producer = kafka_clients.producer(settings)
    try:
        for key, value in items:
            producer.send(settings.topic(topic), key=key.encode(), value=value)
        producer.flush()
    finally:
        producer.close()


def publish_changes(settings: Settings, changes: Sequence[LoyaltyStageChanged]) -> None:
    """As the worker does: each change to the history, and, per customer, the latest one
    of each step to the compacted current stages."""
    publish(settings, [(c.customer_id, c.to_json()) for c in changes], LOYALTY_CHANGES)
    latest = {c.customer_id: c for c in changes}
    publish(settings, [(c, change.to_json()) for c, change in latest.items()], LOYALTY_STAGES)


def ladder(customer: str, steps: int) -> list[LoyaltyStageChanged]:
    """The customer's first ``steps`` changes up the ladder (1 to 5)."""
    return [
        a_change(customer, 10 * n, LADDER[n], LADDER[n - 1] if n else None) for n in range(steps)
    ]


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


def loyalty_history() -> list[tuple[str, Item]]:
    """(topic, record): changes of ten customers on both topics, a redelivered change, and
    the stage tombstone of C003 (merged into C001 in ``history()``)."""
    items: list[tuple[str, Item]] = []
    for n in range(10):
        for change in ladder(f"C{n:03d}", 1 + n % 5):
            item = (change.customer_id, change.to_json())
            items += [(LOYALTY_CHANGES, item), (LOYALTY_STAGES, item)]
    again = ladder("C004", 5)[-1]
    items += [(LOYALTY_CHANGES, ("C004", again.to_json())), (LOYALTY_STAGES, ("C003", None))]
    return items


TIERS_TOPIC, TIER_CHANGES, SCORES, FITS = (
    "value-tiers",
    "value-tier-changes",
    "clv-scores",
    "clv-fits",
)


def publish_tiers(settings: Settings, changes: Sequence[ValueTierChanged]) -> None:
    """As the worker does: every change to the history; per customer the latest one to the
    compacted current tiers (a tombstone when it left the ranking)."""
    publish(settings, [(c.customer_id, c.to_json()) for c in changes], TIER_CHANGES)
    latest = {c.customer_id: c for c in changes}
    publish(
        settings,
        [(c, None if ch.to_tier is None else ch.to_json()) for c, ch in latest.items()],
        TIERS_TOPIC,
    )


def publish_everything(settings: Settings) -> int:
    """Publish ``history()`` and ``loyalty_history()``: the number of records."""
    publish(settings, history())
    loyalty = loyalty_history()
    for topic in (LOYALTY_CHANGES, LOYALTY_STAGES):
        publish(settings, [item for t, item in loyalty if t == topic], topic)
    book, changes = TierBook(), list[ValueTierChanged]()
    for n in range(12):
        changes += book.update(f"C{n:03d}", 50 * n)
    changes += book.remove("C003")
    publish_tiers(settings, changes)
    scores = [(f"C{n:03d}", a_score(f"C{n:03d}", clv=10.0 * n).to_json()) for n in range(8)]
    publish(settings, [*scores, ("C003", None)], SCORES)
    publish(settings, [("clv", a_fit(day).models.to_json().encode()) for day in (30, 40)], FITS)
    tiered = len({c.customer_id for c in changes})
    return len(history()) + len(loyalty) + len(changes) + tiered + len(scores) + 1 + 2


def run_materializer(settings: Settings, db: Path, **run: Any) -> Materializer:
    materializer = Materializer(settings, DuckDBProjectionStore.open_writer(db))
    materializer.run_until_caught_up(timeout=60, **run)
    return materializer


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in (
                "customer_view",
                "customer_alias",
                "loyalty_stage",
                "loyalty_transitions",
                "value_tier",
                "value_tier_changes",
                "clv",
                "clv_fits",
                "consumed_offsets",
            )
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
    read_new(again, at_least=2)
    assert again.stats.records == 2
    again.close()
    with open_read_model(settings.db) as conn:
        assert conn.execute("SELECT count(*) FROM customer_view").fetchone() == (4,)
        found = customer(conn, "C2")
        assert found is not None and found.row is not None
        assert found.row["purchase_count"] == 5


GOOD = view_record("C999")


class CrashingStore:
    """A DuckDB store whose ``crash_at``-th batch fails inside its transaction."""

    def __init__(self, inner: DuckDBProjectionStore, crash_at: int) -> None:
        self.inner, self.crash_at, self.batches = inner, crash_at, 0

    def apply(self, batch: Sequence[Logged], offsets: Mapping[TopicPartition, int]) -> None:
        self.batches += 1
        if self.batches == self.crash_at:
            bad = ViewRecord("C999", {**GOOD.row, "event_count": "many"}, {})
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
    total = publish_everything(settings)
    run_materializer(settings, settings.db, max_records=7).close()
    assert tables(settings.db)["loyalty_transitions"], "the loyalty topics were read too"
    assert tables(settings.db)["value_tier_changes"], "and the value topics"

    crashed = tmp_path / "crashed.duckdb"
    crashing_run(settings, crashed, crash_at=4).close()  # dies after three batches
    partial = tables(crashed)
    assert partial["consumed_offsets"], "three batches were applied"
    assert sum(o[2] for o in partial["consumed_offsets"]) < total

    with Materializer(settings, DuckDBProjectionStore(crashed)) as restarted:
        restarted.run_until_caught_up(timeout=60, max_records=7)
    assert tables(crashed) == tables(settings.db)


def test_a_failed_batch_is_read_again_by_the_same_materializer(
    settings: Settings, topic: str, tmp_path: Path
) -> None:
    publish_everything(settings)
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


def stage_rows(path: Path) -> dict[str, tuple[Any, ...]]:
    with open_read_model(path) as conn:
        rows = conn.execute(
            "SELECT customer_id, stage, reason, since, trigger_event_id FROM loyalty_stage"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_loyalty_stages_and_their_history_are_materialized_exactly_once(
    settings: Settings, topic: str
) -> None:
    c1, c2 = ladder("C1", 4), ladder("C2", 2)
    publish_changes(settings, c1 + c2)
    publish(settings, views("C1", "C2"))
    publish(settings, [("C1", c1[-1].to_json())], LOYALTY_CHANGES)  # a redelivery
    materializer = run_materializer(settings, settings.db, max_records=3)
    assert materializer.stats.records == 6 + 2 + 2 + 1
    assert sum(materializer.store.offsets().values()) == 11, "offsets of all three topics"
    materializer.close()

    loyal = c1[-1]
    assert stage_rows(settings.db) == {
        "C1": ("loyal", loyal.reason, loyal.occurred_at, str(loyal.trigger_event_id)),
        "C2": ("first_time_buyer", c2[-1].reason, c2[-1].occurred_at, str(c2[-1].trigger_event_id)),
    }
    with open_read_model(settings.db) as conn:
        assert stage_history(conn, "C1") == c1, "each change once, oldest first"
        assert stage_history(conn, "C2") == c2
        counts = {step.stage: step.customers for step in funnel(conn)}
    assert (counts[Stage.LOYAL], counts[Stage.FIRST_TIME_BUYER], counts[Stage.PROSPECT]) == (
        1,
        1,
        0,
    )

    again = run_materializer(settings, settings.db)
    assert again.stats.records == 0, "a restart applies nothing again"
    # C2 is merged into C1: the worker tombstones C2's current stage.
    publish(settings, [("C2", None)], LOYALTY_STAGES)
    publish_changes(settings, [a_change("C1", 50, Stage.ADVOCATE, Stage.LOYAL)])
    read_new(again, at_least=3)
    assert again.stats.records == 3
    again.close()
    assert {c: row[0] for c, row in stage_rows(settings.db).items()} == {"C1": "advocate"}
    with open_read_model(settings.db) as conn:
        assert stage_history(conn, "C2") == c2, "the merged customer's history stays"
        assert len(stage_history(conn, "C1")) == 5


def test_bad_loyalty_records_are_skipped(settings: Settings, topic: str) -> None:
    good = a_change("C1")
    publish(settings, [("C1", b"{not json"), ("C2", None), ("C1", good.to_json())], LOYALTY_CHANGES)
    publish(settings, [("C3", good.to_json())], LOYALTY_STAGES)  # key is not its customer
    materializer = run_materializer(settings, settings.db)
    assert (materializer.stats.skipped, materializer.stats.applied) == (3, 1)
    materializer.close()
    assert stage_rows(settings.db) == {}
    with open_read_model(settings.db) as conn:
        assert stage_history(conn, "C1") == [good]


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


def value_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return {
            name: conn.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall()
            for name in ("value_tier", "value_tier_changes", "clv", "clv_fits")
        }


def test_value_tiers_scores_and_fits_are_materialized_exactly_once(
    settings: Settings, topic: str
) -> None:
    book, changes = TierBook(), list[ValueTierChanged]()
    for n in range(1, 11):
        changes += book.update(f"C{n:02d}", 100 * n)
    publish_tiers(settings, changes)
    publish(settings, [("C10", a_score("C10", clv=4321.5).to_json()),
                       ("C01", a_score("C01", clv=None).to_json())], SCORES)  # fmt: skip
    fit = a_fit(30)
    publish(settings, [("clv", fit.models.to_json().encode())] * 2, FITS)  # redelivered
    records = len(changes) + 10 + 2 + 2  # history, current tiers, scores, fits
    materializer = run_materializer(settings, settings.db, max_records=4)
    assert materializer.stats.records == records
    assert materializer.stats.skipped == 0
    materializer.close()

    first = value_tables(settings.db)
    assert len(first["value_tier"]) == 10
    assert len(first["value_tier_changes"]) == len(changes), "every change, once"
    assert len(first["clv_fits"]) == 1, "a redelivered fit is the same row"
    with open_read_model(settings.db) as conn:
        pyramid = tiers(conn)
        score = clv_of(conn, "C10")
    assert [(row.tier, row.customers) for row in pyramid.tiers] == [
        (Tier.VIP, 0), (Tier.KEY, 0), (Tier.REGULAR, 2), (Tier.SMALL, 8)
    ]  # fmt: skip
    assert pyramid.pareto_share == pytest.approx(1900 / 5500)
    assert score == a_score("C10", clv=4321.5)

    again = run_materializer(settings, settings.db)
    assert again.stats.records == 0, "a restart applies nothing again"
    assert value_tables(settings.db) == first
    # C09 is merged into C10: it leaves the ranking; its score goes too.
    publish_tiers(settings, book.remove("C09"))
    publish(settings, [("C09", None)], SCORES)
    read_new(again, at_least=2)
    again.close()
    after = value_tables(settings.db)
    assert "C09" not in {row[0] for row in after["value_tier"]}
    assert "C09" not in {row[0] for row in after["clv"]}
    assert len(after["value_tier_changes"]) > len(first["value_tier_changes"]), "history stays"
    assert [row for row in after["value_tier_changes"] if row[2] == "C09"][-1][4] is None


def test_bad_value_records_are_skipped(settings: Settings, topic: str) -> None:
    publish(settings, [("C1", b"{not json"), ("C2", a_score("C1").to_json())], SCORES)
    publish(settings, [("clv", b'{"format": "other"}')], FITS)
    publish(settings, [("C1", None)], TIER_CHANGES)
    materializer = run_materializer(settings, settings.db)
    assert (materializer.stats.skipped, materializer.stats.applied) == (4, 0)
    materializer.close()
    assert all(rows == [] for rows in value_tables(settings.db).values())
