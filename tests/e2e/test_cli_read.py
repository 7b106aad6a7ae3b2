"""`touchpoint customer`, `query` and `materialize` as a user runs them."""

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
from projections.ports import Logged
from projections.view_records import Record, encode_view_record
from streams import kafka_clients
from streams.cli import main
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, create_topics
from tests.builders import eid
from tests.unit.test_projection_store_contract import a_view, alias_record, view_record


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A read model with C1 (two purchases, an open complaint), C2, and C3 merged into C1."""
    path = tmp_path / "touchpoint.duckdb"
    records: list[Record] = [
        view_record("C1", purchases=2),
        view_record("C2"),
        alias_record("C3", "C1"),
    ]
    with DuckDBProjectionStore.open_writer(path) as store:
        store.apply([Logged("customer-views", 0, n, r) for n, r in enumerate(records)], {})
    return path


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
