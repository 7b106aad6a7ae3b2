"""`touchpoint import` as a user runs it, against the real broker: a CSV of purchases
gives views whose figures match the CSV, a second import changes nothing, rejected rows
are listed with their reasons next to the input and nothing valid is lost."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from projections.customer_view_table import VIEW_COLUMNS
from streams.readback import read_topic
from streams.settings import Settings
from streams.topics import DEAD_LETTERS, TOUCHPOINTS

pytestmark = pytest.mark.broker

TOUCHPOINT = [sys.executable, "-m", "streams"]
BERLIN = ZoneInfo("Europe/Berlin")
DECIMALS = {"EUR": 2, "JPY": 0}


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOUCHPOINT, *args], env=env, capture_output=True, text=True, timeout=600
    )


def a_purchase_history(path: Path, customers: int = 30, seed: int = 11) -> list[dict[str, str]]:
    """Purchases as a shop system exports them: local wall-clock times (Berlin), amounts in
    major units, yen for some. Late-evening purchases fall on the previous UTC day."""
    rng = random.Random(seed)
    rows = []
    for n in range(customers):
        currencies = ["JPY"] if n % 7 == 3 else ["EUR", "EUR", "JPY"] if n % 5 == 0 else ["EUR"]
        for _ in range(rng.randint(1, 6)):
            currency = rng.choice(currencies)
            when = datetime(2025, rng.randint(1, 12), rng.randint(1, 28), rng.choice([0, 12, 23]),
                            rng.randint(0, 59))  # fmt: skip
            cents = rng.randint(100, 50_000)
            amount = str(cents) if currency == "JPY" else f"{cents // 100}.{cents % 100:02d}"
            rows.append({"cust": f"K{n:04d}", "bought": when.strftime("%Y-%m-%d %H:%M"),
                         "total": amount, "cur": currency, "till": f"till-{n % 3}"})  # fmt: skip
    rows.append(dict(rows[0]))  # the same purchase twice in the export: two purchases
    rng.shuffle(rows)
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


def expected_figures(rows: list[dict[str, str]]) -> dict[str, dict[str, object]]:
    """The purchase figures of each customer, straight from the CSV rows and the
    definitions in projections/customer_figures.py (not through the code under test)."""
    by_customer: dict[str, list[tuple[datetime, int, str]]] = {}
    for row in rows:
        at = datetime.strptime(row["bought"], "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN)
        minor = int(Decimal(row["total"]).scaleb(DECIMALS[row["cur"]]))
        by_customer.setdefault(row["cust"], []).append((at.astimezone(UTC), minor, row["cur"]))
    figures = {}
    for customer, bought in by_customer.items():
        counts = Counter(currency for _, _, currency in bought)
        main = min(counts, key=lambda c: (-counts[c], c))
        own = [(at, minor) for at, minor, currency in bought if currency == main]
        days = sorted({at.date() for at, _, _ in bought})
        repeat = sum(minor for at, minor in own if at.date() != days[0])
        figures[customer] = {
            "purchase_count": len(bought),
            "event_count": len(bought),
            "purchase_days": len(days),
            "first_purchase_at": min(at for at, _, _ in bought),
            "last_purchase_at": max(at for at, _, _ in bought),
            "currency": main,
            "other_currency_purchases": len(bought) - len(own),
            "total_spend_minor": sum(minor for _, minor in own),
            "avg_order_value_minor": half_up(Fraction(sum(m for _, m in own), len(own))),
            "frequency": len(days) - 1,
            "recency_days": (days[-1] - days[0]).days,
            "monetary_minor": half_up(Fraction(repeat, len(days) - 1)) if len(days) > 1 else 0,
        }
    return figures


def half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2))  # amounts are never negative


def read_model(settings: Settings) -> dict[str, dict[str, object]]:
    names = [name for name, _, _ in VIEW_COLUMNS]
    with duckdb.connect(str(settings.db), read_only=True) as db:
        found = db.execute(f"SELECT {', '.join(names)} FROM customer_view").fetchall()
    return {row[0]: dict(zip(names, row, strict=True)) for row in found}


IMPORT_PURCHASES = [
    "import", "--type", "purchase", "--customer-col", "cust", "--time-col", "bought",
    "--amount-col", "total", "--currency-col", "cur", "--col", "store_id=till",
    "--timezone", "Europe/Berlin", "--channel", "store", "--source", "shop-export",
]  # fmt: skip


def test_imported_purchases_give_views_that_match_the_csv_and_a_second_import_adds_nothing(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "purchases.csv"
    rows = a_purchase_history(file)
    assert run(["topics", "create"], cli_env).returncode == 0

    imported = run([*IMPORT_PURCHASES, str(file)], cli_env)
    assert imported.returncode == 0, imported.stderr
    assert f"read {len(rows)} rows" in imported.stderr
    assert not (tmp_path / "purchases.csv.rejects.jsonl").exists()
    worked = run(["worker", "--until-idle"], cli_env)
    assert worked.returncode == 0, worked.stderr

    views = read_model(settings)
    expected = expected_figures(rows)
    assert views.keys() == expected.keys()
    for customer, figures in expected.items():
        assert {name: views[customer][name] for name in figures} == figures, customer

    again = run([*IMPORT_PURCHASES, "--jobs", "2", str(file)], cli_env)  # also in parallel
    assert again.returncode == 0, again.stderr
    assert run(["worker", "--until-idle"], cli_env).returncode == 0
    assert read_model(settings) == views  # every column of every view: nothing added
    log = [json.loads(r.value) for r in read_topic(settings, settings.topic(TOUCHPOINTS))]
    assert len(log) == 2 * len(rows)
    assert len({event["event_id"] for event in log}) == len(rows)  # the same ids both times


BAD_SALES = """customer,when,amount,order
C1,2025-03-01T10:00:00Z,12.50,A-1
C2,2025-03-01T10:00:00Z,12.505,A-2
C3,yesterday,5,A-3
,2025-03-01T10:00:00Z,5,A-4
bob@example.com,2025-03-01T10:00:00Z,5,A-5
C6,2025-03-01T10:00:00Z,5,A-6,surplus
C7,2025-03-02T10:00:00Z,-3,A-7
C8,2025-03-02T10:00:00Z,8,A-8
"""


def test_rejected_rows_are_listed_with_the_field_and_column_next_to_the_input(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "sales.csv"
    file.write_text(BAD_SALES)
    args = ["import", str(file), "--type", "purchase", "--currency", "EUR", "--order-col", "order"]
    assert run(["topics", "create"], cli_env).returncode == 0

    result = run([*args, "--time-col", "when", "--customer-col", "customer"], cli_env)

    assert result.returncode == 1  # something was rejected: scripts must notice
    rejects = file.with_name("sales.csv.rejects.jsonl")
    assert f"6 rejected: listed in {rejects}" in result.stderr.replace("\n", "")
    assert (
        f"{file}:row 2: invalid purchase_completed event: amount_minor (column 'amount'): "
        "12.505 has more decimals than EUR (2)" in result.stderr
    )
    listed = [json.loads(line) for line in rejects.read_text().splitlines()]
    by_row = {entry.get("row", f"line {entry.get('line')}"): entry for entry in listed}
    assert {n: [(e["field"], e.get("column")) for e in by_row[n]["errors"]] for n in by_row} == {
        2: [("amount_minor", "amount")],
        3: [("occurred_at", "when")],
        4: [("customer_id", "customer")],
        5: [("customer_id", "customer")],
        6: [("amount_minor", "amount")],
        "line 7": [("$", None)],
    }
    assert by_row[3]["record"] == {"customer": "C3", "when": "yesterday", "amount": "5",
                                   "order": "A-3"}  # fmt: skip
    assert by_row[4]["errors"][0]["reason"] == "Field required"
    assert "must not be negative (got '-3')" in by_row[6]["reason"]
    assert by_row["line 7"]["record"] == "C6,2025-03-01T10:00:00Z,5,A-6,surplus"
    published = [json.loads(r.value) for r in read_topic(settings, settings.topic(TOUCHPOINTS))]
    assert sorted(e["order_id"] for e in published) == ["A-1", "A-8"]  # nothing valid lost
    assert list(read_topic(settings, settings.topic(DEAD_LETTERS))) == []  # not dead-lettered

    file.write_text("\n".join(BAD_SALES.splitlines()[:2] + BAD_SALES.splitlines()[-1:]) + "\n")
    fixed = run([*args, "--time-col", "when", "--customer-col", "customer"], cli_env)
    assert fixed.returncode == 0, fixed.stderr
    assert not rejects.exists()  # the file describes the latest import


def test_json_lines_of_events_are_validated_like_produce_and_rejects_kept_in_the_file(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    def visit(n: int, **changes: object) -> str:
        return json.dumps({
            "event_id": f"00000000-0000-4000-8000-{n:012d}", "event_type": "visit_recorded",
            "schema_version": 1, "customer_id": f"C{n}", "occurred_at": "2025-03-01T10:00:00Z",
            "channel": "web", "source": "web-shop", "page": "/shoes", **changes,
        })  # fmt: skip

    file = tmp_path / "events.jsonl"
    file.write_text("\n".join([visit(1), visit(2, occurred_at="2025-03-01T10:00:00"), "{oops",
                               "", visit(5)]) + "\n")  # fmt: skip
    assert run(["topics", "create"], cli_env).returncode == 0

    result = run(["import", str(file)], cli_env)

    assert result.returncode == 1
    assert f"{file}:line 2: invalid visit_recorded event: occurred_at" in result.stderr
    listed = [json.loads(line) for line in (tmp_path / "events.jsonl.rejects.jsonl").open()]
    assert [(e["line"], e["errors"][0]["field"]) for e in listed] == [(2, "occurred_at"), (3, "$")]
    assert listed[1]["record"] == "{oops"
    published = [json.loads(r.value) for r in read_topic(settings, settings.topic(TOUCHPOINTS))]
    assert sorted(e["customer_id"] for e in published) == ["C1", "C5"]
    assert list(read_topic(settings, settings.topic(DEAD_LETTERS))) == []


def test_a_mapping_that_does_not_fit_stops_before_anything_is_sent(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "calls.csv"
    file.write_text("customer_id,occurred_at,minutes\nC1,2025-03-01,4\n")
    assert run(["topics", "create"], cli_env).returncode == 0
    result = run(["import", str(file), "--type", "call", "--set", "direction=inbound"], cli_env)
    assert result.returncode == 2
    assert "call_handled needs reason, duration_seconds, outcome" in result.stderr
    assert list(read_topic(settings, settings.topic(TOUCHPOINTS))) == []
    assert not (tmp_path / "calls.csv.rejects.jsonl").exists()


def test_dates_without_times_are_read_as_midnight_in_the_zone(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    file = tmp_path / "visits.csv"
    file.write_text("customer_id,occurred_at,location\nC1,2025-03-01,berlin-mitte\n")
    assert run(["topics", "create"], cli_env).returncode == 0
    result = run(["import", str(file), "--type", "visit", "--timezone", "Asia/Shanghai"], cli_env)
    assert result.returncode == 0, result.stderr
    (record,) = read_topic(settings, settings.topic(TOUCHPOINTS), expected=1)
    event = json.loads(record.value)
    assert event["occurred_at"] == "2025-03-01T00:00:00+08:00"
    assert record.timestamp == int(datetime(2025, 2, 28, 16, tzinfo=UTC).timestamp() * 1000)
