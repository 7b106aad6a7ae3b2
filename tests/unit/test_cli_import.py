"""`touchpoint import` refuses options that cannot work before it connects to anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from streams.cli import main


def touchpoint(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def sales(tmp_path: Path) -> Path:
    file = tmp_path / "sales.csv"
    file.write_text("cust,day,total\nC1,2025-03-01,12.50\n")
    return file


def test_help_states_the_time_zone_default_and_the_rejects_file() -> None:
    result = touchpoint("import", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "zone of times without an offset" in text and "[default: UTC]" in text
    assert "FILE.rejects.jsonl" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --type: without it, FILE must be JSON lines of events"),
        (["--type", "purchase", "--customer-col", "customer"], "no column 'customer' in the file"),
        (["--type", "purchase", "--customer-col", "cust", "--time-col", "day"],
         "purchase_completed needs amount_minor (--amount-col COLUMN), currency"),
        (["--type", "purchase", "--col", "customer_id"], "expected FIELD=..., got 'customer_id'"),
        (["--type", "purchase", "--customer-col", "cust", "--col", "customer_id=day"],
         "customer_id: two different columns given"),
        (["--type", "purchase", "--timezone", "CET+1"], "unknown time zone 'CET+1'"),
    ],
)  # fmt: skip
def test_options_that_cannot_work_exit_2_naming_the_fix(
    sales: Path, args: list[str], message: str
) -> None:
    result = touchpoint("import", str(sales), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not sales.with_name("sales.csv.rejects.jsonl").exists()


def test_a_file_whose_format_cannot_be_told_needs_format(tmp_path: Path) -> None:
    file = tmp_path / "sales.dat"
    file.write_text("a\n1\n")
    result = touchpoint("import", str(file), "--type", "visit")
    assert result.exit_code == 2 and "give --format" in result.output
