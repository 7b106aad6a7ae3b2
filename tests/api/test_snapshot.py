"""The API sees each snapshot the materializer publishes, without a restart, and a request
that is still reading an old snapshot is not disturbed by a new one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from api.snapshot import SnapshotReader
from projections.snapshots import copy_atomically
from tests.api.conftest import AUTH, an_app
from tests.read_models import a_known_read_model


def publish_with(served: Path, sql: str) -> None:
    """Publish a changed copy of the snapshot at ``served`` the way the materializer does
    (a complete copy renamed over it)."""
    draft = served.with_name("draft.duckdb")
    shutil.copyfile(served, draft)
    with duckdb.connect(str(draft)) as conn:
        conn.execute(sql)
    copy_atomically(draft, served)


def stage_of(client: TestClient, customer: str) -> str:
    return str(client.get(f"/customers/{customer}").json()["loyalty"]["stage"])


def test_a_newly_published_snapshot_is_read_by_the_next_request(tmp_path: Path) -> None:
    db = a_known_read_model(tmp_path / "touchpoint.duckdb")
    with TestClient(an_app(db), headers=AUTH) as client:
        before = client.get("/reports/summary").json()["freshness"]
        assert stage_of(client, "C2") == "first_time_buyer"
        publish_with(db, "UPDATE loyalty_stage SET stage = 'loyal' WHERE customer_id = 'C2'")
        assert stage_of(client, "C2") == "loyal"
        after = client.get("/reports/summary").json()["freshness"]
        assert after["published_at"] >= before["published_at"]
        funnel = {
            s["stage"]: s["customers"] for s in client.get("/reports/funnel").json()["stages"]
        }
        assert (funnel["loyal"], funnel["first_time_buyer"]) == (2, 0)


def test_a_reader_in_the_middle_of_a_request_keeps_its_snapshot(tmp_path: Path) -> None:
    db = a_known_read_model(tmp_path / "touchpoint.duckdb")
    reader = SnapshotReader(db)
    count = "SELECT count(*) FROM customer_view"
    with reader.reading() as (old, old_snapshot):
        publish_with(db, "DELETE FROM customer_view WHERE customer_id = 'C5'")
        with reader.reading() as (new, new_snapshot):
            assert new_snapshot is not old_snapshot
            assert new.execute(count).fetchone() == (3,)
            assert old.execute(count).fetchone() == (4,)  # undisturbed
        assert old_snapshot.conn.execute("SELECT 1").fetchone() == (1,)  # still open
    with pytest.raises(duckdb.ConnectionException):  # closed once its last request was done
        old_snapshot.conn.execute("SELECT 1")
    with reader.reading() as (_, again):
        assert again is new_snapshot  # nothing new published: the same snapshot is kept
    reader.close()


def test_a_snapshot_that_disappears_is_503_until_one_is_published_again(tmp_path: Path) -> None:
    db = a_known_read_model(tmp_path / "touchpoint.duckdb")
    kept = tmp_path / "kept.duckdb"
    shutil.copyfile(db, kept)
    with TestClient(an_app(db), headers=AUTH) as client:
        assert client.get("/warnings").status_code == 200
        os.remove(db)
        assert client.get("/warnings").status_code == 503
        copy_atomically(kept, db)
        assert client.get("/warnings").status_code == 200
