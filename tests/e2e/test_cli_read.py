"""`touchpoint customer`, `funnel`, `tiers`, `query` and `materialize` as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from projections.duckdb_store import DuckDBProjectionStore
from projections.loyalty import LoyaltyStageChanged, Stage
from projections.loyalty_records import StageCleared
from projections.ports import StoreRecord
from projections.value_tiers import TierBook, ValueTierChanged
from projections.view_records import encode_view_record
from streams import kafka_clients
from streams.cli import main
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, create_topics
from tests.builders import eid
from tests.unit.test_projection_store_contract import (
    a_change,
    a_score,
    a_version_1_file,
    a_view,
    alias_record,
    current,
    current_tier,
    logged,
    tier_history,
    transition,
    view_record,
)

C1_CHANGES = [
    a_change("C1", 0, Stage.PROSPECT, from_stage=None),
    a_change("C1", 10, Stage.FIRST_TIME_BUYER, Stage.PROSPECT),
    a_change("C1", 20, Stage.REPEAT_BUYER, Stage.FIRST_TIME_BUYER),
]


def a_read_model(path: Path, records: list[StoreRecord]) -> Path:
    """Records applied to a new read model at ``path``, published for readers."""
    with DuckDBProjectionStore.open_writer(path) as store:
        store.apply(logged(*records), {})
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A read model with C1 (two purchases, an open complaint, repeat_buyer after three
    stage changes), C2, and C3 merged into C1."""
    records: list[StoreRecord] = [
        view_record("C1", purchases=2),
        view_record("C2"),
        alias_record("C3", "C1"),
        current(C1_CHANGES[-1]),
        *(transition(change) for change in C1_CHANGES),
    ]
    return a_read_model(tmp_path / "touchpoint.duckdb", records)


def touchpoint(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)


def test_customer_shows_the_unified_view(db: Path) -> None:
    result = touchpoint("customer", "C1", "--db", str(db))
    assert result.exit_code == 0, result.output
    for title in ("identity", "purchases and BTYD", "complaints", "open complaints", "timeline"):
        assert title in result.stdout
    assert "20.01 EUR" in result.stdout  # 10.00 + 10.01
    assert "complaint_filed" in result.stdout


def test_customer_follows_a_merged_id_and_says_so(db: Path) -> None:
    result = touchpoint("customer", "C3", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert f"C3 is an alias of C1 (merged by event {eid('link-C3')})" in result.stderr
    assert "identity" in result.stdout


def test_customer_as_json(db: Path) -> None:
    result = touchpoint("customer", "C3", "--json", "--db", str(db))
    body = json.loads(result.stdout)
    assert body["customer_id"] == "C1"
    assert body["alias_path"] == [
        {"customer_id": "C3", "canonical_id": "C1", "caused_by": eid("link-C3")}
    ]
    assert body["view"]["purchases"]["purchase_count"] == 2
    assert body["row"]["open_complaints"] == 1


def test_customer_shows_the_loyalty_stage_and_the_last_changes(db: Path) -> None:
    result = touchpoint("customer", "C3", "--db", str(db))  # an alias: C1's stage
    assert result.exit_code == 0, result.output
    assert "loyalty stage" in result.stdout and "stage changes (newest first)" in result.stdout
    latest = C1_CHANGES[-1]
    assert latest.reason in result.stdout
    assert latest.occurred_at.isoformat() in result.stdout
    assert result.stdout.index("repeat_buyer") < result.stdout.index("first_time_buyer")


def test_customer_without_a_stage_shows_no_loyalty_tables(db: Path) -> None:
    result = touchpoint("customer", "C2", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "identity" in result.stdout and "loyalty stage" not in result.stdout


def test_customer_as_json_has_the_stage_and_changes(db: Path) -> None:
    body = json.loads(touchpoint("customer", "C1", "--json", "--db", str(db)).stdout)
    latest = C1_CHANGES[-1]
    assert body["loyalty_stage"] == {
        "stage": "repeat_buyer",
        "reason": latest.reason,
        "since": latest.occurred_at.isoformat(),
        "trigger_event_id": str(latest.trigger_event_id),
    }
    assert [c["to_stage"] for c in body["stage_changes"]] == [
        "prospect",
        "first_time_buyer",
        "repeat_buyer",
    ]
    other = json.loads(touchpoint("customer", "C2", "--json", "--db", str(db)).stdout)
    assert (other["loyalty_stage"], other["stage_changes"]) == (None, [])


def test_customer_shows_only_the_latest_changes(tmp_path: Path) -> None:
    changes = [a_change("C1", day, stage) for day, stage in enumerate(Stage)]
    db = a_read_model(tmp_path / "rm.duckdb", [view_record("C1"), *map(transition, changes)])
    body = json.loads(touchpoint("customer", "C1", "--json", "--db", str(db)).stdout)
    assert [c["to_stage"] for c in body["stage_changes"]] == [c.to_stage for c in changes[-5:]]


FUNNEL = {
    Stage.PROSPECT: 2,
    Stage.FIRST_TIME_BUYER: 3,
    Stage.REPEAT_BUYER: 2,
    Stage.LOYAL: 1,
    Stage.ADVOCATE: 1,
    Stage.AT_RISK: 1,
}


@pytest.fixture
def funnel_db(tmp_path: Path) -> Path:
    """Ten customers with a current stage (FUNNEL), one more whose stage was tombstoned."""
    stages: list[LoyaltyStageChanged] = [
        a_change(f"{stage.value}-{n}", 1, stage) for stage, count in FUNNEL.items()
        for n in range(count)
    ]  # fmt: skip
    merged = a_change("merged", 1, Stage.LOYAL)
    records: list[StoreRecord] = [*map(current, stages), current(merged)]
    with DuckDBProjectionStore.open_writer(tmp_path / "rm.duckdb") as store:
        store.apply(logged(*records), {})
        store.apply(logged(StageCleared("merged"), start=len(records)), {})
    return tmp_path / "rm.duckdb"


def test_funnel_as_json(funnel_db: Path) -> None:
    result = touchpoint("funnel", "--json", "--db", str(funnel_db))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["customers"] == 10
    assert body["stages"] == [
        {"stage": "prospect", "customers": 2, "share": 0.2, "conversion": None},
        {"stage": "first_time_buyer", "customers": 3, "share": 0.3, "conversion": 7 / 9},
        {"stage": "repeat_buyer", "customers": 2, "share": 0.2, "conversion": 4 / 7},
        {"stage": "loyal", "customers": 1, "share": 0.1, "conversion": 2 / 4},
        {"stage": "advocate", "customers": 1, "share": 0.1, "conversion": 1 / 2},
        {"stage": "at_risk", "customers": 1, "share": 0.1, "conversion": None},
        {"stage": "lapsed", "customers": 0, "share": 0.0, "conversion": None},
        {"stage": "win_back", "customers": 0, "share": 0.0, "conversion": None},
    ]


def test_funnel_prints_a_table(funnel_db: Path) -> None:
    result = touchpoint("funnel", "--db", str(funnel_db))
    assert result.exit_code == 0, result.output
    assert "loyalty funnel" in result.stdout
    assert "77.8%" in result.stdout  # into first_time_buyer: 7 of 9
    assert "10 customers with a loyalty stage" in result.stderr


def test_funnel_of_an_empty_read_model_has_no_ratios(tmp_path: Path) -> None:
    db = a_read_model(tmp_path / "rm.duckdb", [view_record("C1")])
    body = json.loads(touchpoint("funnel", "--json", "--db", str(db)).stdout)
    assert body["customers"] == 0
    assert {(s["share"], s["conversion"]) for s in body["stages"]} == {(None, None)}


def test_a_read_model_without_loyalty_tables_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    a_version_1_file(db)  # a snapshot published before loyalty stages
    result = touchpoint("funnel", "--db", str(db))
    assert result.exit_code == 1
    assert "touchpoint materialize" in result.output
    shown = touchpoint("customer", "C1", "--db", str(db))
    assert shown.exit_code == 0, shown.output
    assert "identity" in shown.stdout and "loyalty stage" not in shown.stdout


def test_an_unknown_customer_is_an_error(db: Path) -> None:
    result = touchpoint("customer", "C404", "--db", str(db))
    assert result.exit_code == 1
    assert "no customer C404" in result.output


def test_query_prints_a_table_json_or_csv(db: Path) -> None:
    sql = "SELECT customer_id, purchase_count FROM customer_view ORDER BY customer_id"
    table = touchpoint("query", sql, "--db", str(db))
    assert table.exit_code == 0, table.output
    assert "customer_id" in table.stdout and "2 rows" in table.stderr
    as_json = touchpoint("query", sql, "--json", "--db", str(db))
    assert json.loads(as_json.stdout) == [
        {"customer_id": "C1", "purchase_count": 2},
        {"customer_id": "C2", "purchase_count": 1},
    ]
    as_csv = touchpoint("query", sql, "--csv", "--db", str(db))
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["customer_id", "purchase_count"],
        ["C1", "2"],
        ["C2", "1"],
    ]


def test_query_refuses_to_write(db: Path) -> None:
    result = touchpoint("query", "DELETE FROM customer_view", "--db", str(db))
    assert result.exit_code == 1
    assert "read-only" in result.output
    assert touchpoint("query", "SELECT count(*) FROM customer_view", "--db", str(db)).exit_code == 0


def test_bad_sql_is_reported(db: Path) -> None:
    result = touchpoint("query", "SELECT shoe_size FROM customer_view", "--db", str(db))
    assert result.exit_code == 1
    assert "shoe_size" in result.output


def test_without_a_read_model_the_user_is_told_what_to_run(tmp_path: Path) -> None:
    result = touchpoint("customer", "C1", "--db", str(tmp_path / "none.duckdb"))
    assert result.exit_code == 1
    assert "run `touchpoint worker --until-idle` first" in result.output


@pytest.mark.broker
def test_materialize_until_idle_then_query(settings: Settings, cli_env: dict[str, str]) -> None:
    create_topics(settings)
    producer = kafka_clients.producer(settings)
    for customer in ("C1", "C2", "C3"):
        producer.send(
            settings.topic(CUSTOMER_VIEWS),
            key=customer.encode(),
            value=encode_view_record(a_view(customer)),
        )
    producer.send(settings.topic(CUSTOMER_VIEWS), key=b"C2", value=None)
    producer.flush()
    producer.close()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streams", *args],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    done = run("materialize", "--until-idle")
    assert done.returncode == 0, done.stderr
    assert "read 4 records" in done.stderr
    listed = run("query", "SELECT customer_id FROM customer_view ORDER BY 1", "--csv")
    assert listed.stdout.split() == ["customer_id", "C1", "C3"]


VALUES = {f"V{k:02d}": 100 * k for k in range(1, 11)} | {"V00": 0}  # ten ranked, one not


@pytest.fixture
def tiers_db(tmp_path: Path) -> Path:
    """The tier changes a TierBook emits for VALUES, on both value topics (the latest per
    customer on value-tiers), and V10's CLV scores."""
    book, changes = TierBook(), list[ValueTierChanged]()
    for customer, value in VALUES.items():
        changes += book.update(customer, value)
    latest: dict[str, ValueTierChanged] = {c.customer_id: c for c in changes}
    records: list[StoreRecord] = [
        *map(tier_history, changes),
        *map(current_tier, latest.values()),
        a_score("V10", clv=98765.4),
    ]
    with DuckDBProjectionStore.open_writer(tmp_path / "rm.duckdb") as store:
        store.apply(logged(*records), {})
    return tmp_path / "rm.duckdb"


def test_tiers_as_json(tiers_db: Path) -> None:
    result = touchpoint("tiers", "--json", "--db", str(tiers_db))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert (body["customers"], body["ranked"], body["total_value_minor"]) == (11, 10, 5500)
    assert body["pareto_share"] == pytest.approx(1900 / 5500)  # V10 + V09 of ten ranked
    assert body["tiers"] == [
        {"tier": "vip", "customers": 0, "value_minor": 0, "customer_share": 0.0,
         "value_share": 0.0},
        {"tier": "key", "customers": 0, "value_minor": 0, "customer_share": 0.0,
         "value_share": 0.0},
        {"tier": "regular", "customers": 2, "value_minor": 1900, "customer_share": 2 / 11,
         "value_share": 1900 / 5500},
        {"tier": "small", "customers": 9, "value_minor": 3600, "customer_share": 9 / 11,
         "value_share": 3600 / 5500},
    ]  # fmt: skip


def test_tiers_prints_the_pyramid_and_the_80_20_line(tiers_db: Path) -> None:
    result = touchpoint("tiers", "--db", str(tiers_db))
    assert result.exit_code == 0, result.output
    assert "customer pyramid" in result.stdout and "regular" in result.stdout
    assert "80/20: the top 20% of 10 ranked customers hold 34.5% of the value" in result.stderr


def test_tiers_of_a_read_model_without_tiers_has_no_ratios(tmp_path: Path) -> None:
    db = a_read_model(tmp_path / "rm.duckdb", [view_record("C1")])
    body = json.loads(touchpoint("tiers", "--json", "--db", str(db)).stdout)
    assert (body["customers"], body["pareto_share"]) == (0, None)
    assert {(t["customer_share"], t["value_share"]) for t in body["tiers"]} == {(None, None)}


def test_tiers_of_an_old_read_model_says_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    a_version_1_file(db)
    result = touchpoint("tiers", "--db", str(db))
    assert result.exit_code == 1 and "touchpoint materialize" in result.output


def test_customer_shows_the_value_tier_and_clv(tmp_path: Path, tiers_db: Path) -> None:
    with DuckDBProjectionStore.open_writer(tiers_db) as store:
        store.apply(logged(view_record("V10"), start=100), {})
    result = touchpoint("customer", "V10", "--db", str(tiers_db))
    assert result.exit_code == 0, result.output
    assert "value tier" in result.stdout and "lifetime value" in result.stdout
    assert "regular" in result.stdout and "987.65 EUR" in result.stdout  # 98765.4 minor
    body = json.loads(touchpoint("customer", "V10", "--json", "--db", str(tiers_db)).stdout)
    assert body["value_tier"]["tier"] == "regular" and body["value_tier"]["value_minor"] == 1000
    assert body["clv"]["clv_minor"] == 98765.4 and body["clv"]["p_alive"] == 0.8125
    other = json.loads(touchpoint("customer", "C1", "--json", "--db", str(
        a_read_model(tmp_path / "other.duckdb", [view_record("C1")])
    )).stdout)  # fmt: skip
    assert (other["value_tier"], other["clv"]) == (None, None)
