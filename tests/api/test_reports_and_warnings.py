"""``/warnings`` and ``/reports/*`` on the known read model, and on older read models."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH, an_app
from tests.read_models import a_known_read_model, at
from tests.unit.test_projection_store_contract import a_version_1_file


def test_open_warnings_come_most_urgent_first_with_counts(client: TestClient) -> None:
    body = client.get("/warnings").json()
    assert [(w["warning_id"], w["value_tier"]) for w in body["items"]] == [
        ("W1", "key"),
        ("W2", "key"),
        ("W3", "small"),
    ]  # W2 (0.4 x key 3) outranks W3 (0.5 x small 1)
    assert body["counts"]["total"] == 3
    assert body["counts"]["by_severity"] == {"warning": 2, "critical": 1}
    assert body["counts"]["by_reason"]["overdue_purchase"] == 2
    assert body["counts"]["by_reason"]["falling_spend"] == 0  # W4 is cleared


@pytest.mark.parametrize(
    ("params", "expected", "next_offset"),
    [
        ({"reason": "overdue_purchase"}, ["W2", "W3"], None),
        ({"severity": "critical"}, ["W1"], None),
        ({"limit": 2}, ["W1", "W2"], 2),
        ({"limit": 2, "offset": 2}, ["W3"], None),
        ({"reason": "low_p_alive"}, [], None),
    ],
)
def test_open_warnings_filter_and_page(
    client: TestClient, params: dict[str, object], expected: list[str], next_offset: int | None
) -> None:
    body = client.get("/warnings", params=params).json()
    assert [w["warning_id"] for w in body["items"]] == expected
    assert body["next_offset"] == next_offset


@pytest.mark.parametrize(
    "params", [{"severity": "meh"}, {"reason": "x"}, {"limit": 0}, {"offset": -5}]
)
def test_bad_warning_parameters_are_422(client: TestClient, params: dict[str, object]) -> None:
    assert client.get("/warnings", params=params).status_code == 422


def test_the_funnel_and_the_pyramid(client: TestClient) -> None:
    funnel = client.get("/reports/funnel").json()
    assert funnel["customers"] == 4
    steps = {step["stage"]: step for step in funnel["stages"]}
    assert steps["loyal"]["customers"] == 1 and steps["loyal"]["share"] == 0.25
    assert steps["first_time_buyer"]["conversion"] == pytest.approx(3 / 4)
    pyramid = client.get("/reports/pyramid").json()
    assert [row["tier"] for row in pyramid["tiers"]] == ["vip", "key", "regular", "small"]
    assert (pyramid["customers"], pyramid["total_value_minor"]) == (3, 13000)
    assert pyramid["tiers"][0]["value_share"] == pytest.approx(9000 / 13000)


def test_the_summary(client: TestClient) -> None:
    body = client.get("/reports/summary").json()
    assert (body["customers"], body["buyers"], body["aliases"]) == (4, 3, 1)
    assert body["open_warnings"]["total"] == 3


def test_complaint_timeliness_as_of_the_watermark(client: TestClient) -> None:
    body = client.get("/reports/complaints").json()
    assert body["as_of"] == "2025-04-30T10:00:00Z"  # the watermark, T0 + 60 days
    # Due by then: K1 (open, overdue), K2 (late), K4 (on time); K5's deadline is to come.
    assert (body["filed"], body["due"], body["due_on_time"]) == (4, 3, 1)
    assert body["timeliness_rate"] == pytest.approx(1 / 3)
    assert (body["open"], body["open_overdue"]) == (2, 1)
    assert body["median_hours_to_resolve"] == pytest.approx((24 + 144) / 2)  # K4 1 day, K2 6
    assert (body["accepted"], body["answered"], body["acceptance_rate"]) == (1, 2, 0.5)
    rates = {g["outcome"]: (g["complaints"], g["repurchased"]) for g in body["repurchase"]}
    assert rates == {"on_time": (1, 1), "late": (1, 0), "never": (1, 0)}
    opened = [(k["complaint_id"], k["overdue"]) for k in body["open_complaints"]]
    assert opened == [("K1", True), ("K5", False)]  # most overdue first
    assert body["open_complaints"][0]["age_hours"] == pytest.approx(30 * 24)


def test_complaint_timeliness_as_of_an_earlier_instant(client: TestClient) -> None:
    """Day 20: K2 (due day 9, resolved day 12) is late, K4 (due 18, resolved 16) on time;
    K1 and K5 were not filed yet."""
    body = client.get("/reports/complaints", params={"as_of": at(20).isoformat()}).json()
    assert (body["filed"], body["due"], body["due_on_time"], body["open"]) == (2, 2, 1, 0)
    assert body["timeliness_rate"] == 0.5


@pytest.mark.parametrize(
    "as_of",
    ["2025-04-01T00:00:00", "yesterday", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z"],
)
def test_a_bad_as_of_is_422(client: TestClient, as_of: str) -> None:
    response = client.get("/reports/complaints", params={"as_of": as_of})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "as_of"]


def without_churn_tables(path: Path) -> Path:
    """A known read model as a version-3 file would have it: no churn tables."""
    a_known_read_model(path)
    with duckdb.connect(str(path)) as conn:
        conn.execute("DROP VIEW open_churn_warnings")
        for table in ("churn_warnings", "churn_warning_events", "complaint_sla"):
            conn.execute(f"DROP TABLE {table}")
    return path


def test_a_read_model_without_churn_tables_has_no_warnings_and_no_complaint_figures(
    tmp_path: Path,
) -> None:
    with TestClient(an_app(without_churn_tables(tmp_path / "v3.duckdb")), headers=AUTH) as client:
        warnings = client.get("/warnings").json()
        assert (warnings["items"], warnings["total"], warnings["counts"]["total"]) == ([], 0, 0)
        customers = client.get("/customers", params={"sort": "priority"}).json()
        assert customers["total"] == 4
        assert client.get("/customers", params={"reason": "falling_spend"}).json()["total"] == 0
        assert client.get("/customers/C1").json()["warnings"] == []
        assert client.get("/customers/C4/warnings").json()["warnings"] == []
        complaints = client.get("/reports/complaints").json()
        assert (complaints["filed"], complaints["timeliness_rate"]) == (0, None)


def test_a_read_model_without_loyalty_tables_is_503_saying_what_to_run(tmp_path: Path) -> None:
    db = tmp_path / "v1.duckdb"
    a_version_1_file(db)
    with TestClient(an_app(db), headers=AUTH) as client:
        for path in ("/reports/funnel", "/reports/pyramid", "/customers"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert "touchpoint materialize" in response.json()["detail"]
