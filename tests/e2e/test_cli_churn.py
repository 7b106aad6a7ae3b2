"""`touchpoint warnings` and `touchpoint complaints` on a read model whose churn records
were computed by the rules from known events and applied through the real store."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from projections.churn import ChurnRules, advance
from projections.churn_records import ComplaintRows, WarningStep
from projections.complaint_sla import complaint_records
from projections.customer_facts import initial
from projections.customer_fold import fold
from projections.duckdb_store import DuckDBProjectionStore
from projections.ports import Logged
from streams.cli import main
from tests.builders import T0, a_complaint, a_purchase, a_resolution, sealed
from tests.unit.test_projection_store_contract import view_record

START = datetime.fromisoformat(T0)
RULES = ChurnRules()


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def touchpoint(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Q1: monthly buyer gone quiet (overdue, critical by day 200); Q2: a complaint resolved
    late then bought again (its warning cleared); Q3: a complaint never resolved."""
    customers = {
        "Q1": [a_purchase("Q1", at=day(d)) for d in (0, 30, 60, 90)],
        "Q2": [a_complaint("Q2", at=day(100), complaint_id="K2", severity="high"),
               a_resolution("Q2", at=day(110), complaint_id="K2", accepted=True),
               a_purchase("Q2", at=day(120))],
        "Q3": [a_purchase("Q3", at=day(150)), a_complaint("Q3", at=day(190), complaint_id="K3")],
    }  # fmt: skip
    # a view as of day 200: the read model's watermark, what the commands report "as of"
    batch: list[Logged] = [Logged("customer-views", 0, 0, view_record("Q1", as_of_day=200))]
    offset = 0
    for customer, raws in customers.items():
        facts = fold(initial(customer), [sealed(raw) for raw in raws])
        for event in advance(facts, None, None, day(200), RULES).events:
            offset += 1
            batch.append(Logged("churn-warning-events", 0, offset, WarningStep(event)))
        rows = tuple(complaint_records(facts, RULES))
        if rows:
            offset += 1
            batch.append(Logged("complaint-sla", 0, offset, ComplaintRows(customer, rows)))
    path = tmp_path / "touchpoint.duckdb"
    with DuckDBProjectionStore.open_writer(path) as store:
        store.apply(batch, {})
    return path


def test_open_warnings_as_json_with_reasons_and_evidence(db: Path) -> None:
    result = touchpoint("warnings", "--open", "--json", "--db", str(db))
    body = json.loads(result.output)
    by_customer = {w["customer_id"]: w for w in body["warnings"]}
    assert by_customer.keys() == {"Q1", "Q3"}
    assert by_customer["Q1"]["reasons"] == ["overdue_purchase"]
    assert by_customer["Q1"]["severity"] == "critical"  # 110 quiet days > 3 x 30
    assert by_customer["Q1"]["evidence"]["overdue_purchase"]["rhythm_days"] == 30.0
    assert by_customer["Q3"]["reasons"] == ["complaint_overdue"]
    assert body["open"]["total"] == 2


def test_all_warnings_include_the_cleared_one_with_why(db: Path) -> None:
    body = json.loads(touchpoint("warnings", "--json", "--db", str(db)).output)
    cleared = [w for w in body["warnings"] if w["status"] == "cleared"]
    assert [w["customer_id"] for w in cleared] == ["Q2"]
    assert cleared[0]["cleared_because"] == "complaint_overdue: complaint K2 resolved"


def test_warnings_filtered_by_reason_and_printed_for_people(db: Path) -> None:
    args = ("warnings", "--open", "--reason", "complaint_overdue", "--json", "--db", str(db))
    body = json.loads(touchpoint(*args).output)
    assert [w["customer_id"] for w in body["warnings"]] == ["Q3"]
    text = touchpoint("warnings", "--open", "--db", str(db)).output
    assert "Q1" in text and "overdue_purchase" in text and "open warnings: 2" in text
    bad = CliRunner().invoke(main, ["warnings", "--reason", "nonsense", "--db", str(db)])
    assert bad.exit_code == 2 and "nonsense" in bad.output


def test_complaints_timeliness_and_repurchase(db: Path) -> None:
    body = json.loads(touchpoint("complaints", "--json", "--db", str(db)).output)
    # K2: filed day 100, high -> deadline day 102, resolved day 110: late, bought again.
    # K3: filed day 190, medium -> deadline day 193: open past due at day 200.
    assert (body["filed"], body["resolved"], body["open"], body["open_overdue"]) == (2, 1, 1, 1)
    assert body["due"] == 2 and body["timeliness_rate"] == 0.0
    assert body["median_hours_to_resolve"] == 240.0
    groups = {g["outcome"]: (g["complaints"], g["repurchased"]) for g in body["repurchase"]}
    assert groups == {"on_time": (0, 0), "late": (1, 1), "never": (1, 0)}
    text = touchpoint("complaints", "--db", str(db)).output
    assert "timeliness rate: 0.0%" in text and "K3" in text


def test_the_customer_view_lists_the_open_warning_with_its_evidence(db: Path) -> None:
    text = touchpoint("customer", "Q1", "--db", str(db)).output
    section = text.split("open churn warnings", 1)[1]
    assert "overdue_purchase" in section and "rhythm_days=30.0" in section
