"""Reading tables for `touchpoint import` (DuckDB): file order, row numbers, ordinals of
identical rows, unreadable CSV lines kept, typed Parquet and JSON cells as text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest

from schemas import decode_obj
from streams.import_fields import ImportOptions
from streams.import_mapping import plan
from streams.import_reading import TableSource, UnreadableLine, detect_format
from streams.importer import RejectsFile, rejects_path_for

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def rows_of(source: TableSource, identity: list[str]) -> list[tuple[object, ...]]:
    return [tuple(row) for batch in source.rows(identity, batch_size=2) for row in batch]


def test_csv_rows_come_in_file_order_with_numbers_and_ordinals(tmp_path: Path) -> None:
    file = tmp_path / "sales.csv"
    file.write_text(
        "cust,day,amount\nC1,2025-03-01,12.50\nC2,2025-03-01,7\nC1,2025-03-01,12.50\n"
        'C1,2025-03-01,12.5\n"C3\nx",2025-03-02,\n'
    )
    with TableSource(file, "csv") as source:
        assert source.columns == ("cust", "day", "amount") and source.count() == 5
        assert rows_of(source, ["cust", "amount"]) == [
            (1, 0, "C1", "2025-03-01", "12.50"),
            (2, 0, "C2", "2025-03-01", "7"),
            (3, 1, "C1", "2025-03-01", "12.50"),  # the same identity cells again
            (4, 0, "C1", "2025-03-01", "12.5"),
            (5, 0, "C3\nx", "2025-03-02", None),  # an empty cell is None
        ]
        assert source.unreadable() == []


def test_csv_lines_that_cannot_be_read_are_listed_not_skipped(tmp_path: Path) -> None:
    file = tmp_path / "sales.csv"
    file.write_text("cust,day,amount\nC1,2025-03-01,1\nC2,2025-03-01,2,surplus\nC3,2025-03-02,3\n")
    with TableSource(file, "csv") as source:
        assert [row[2] for row in rows_of(source, [])] == ["C1", "C3"]
        assert source.unreadable() == [
            UnreadableLine(3, "C2,2025-03-01,2,surplus", "Expected Number of Columns: 3 Found: 4")
        ]


def test_parquet_and_json_cells_arrive_as_text_and_map_to_the_same_events(tmp_path: Path) -> None:
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"""COPY (SELECT 'C' || i AS customer_id,
                TIMESTAMP '2025-03-01 10:00:00' + INTERVAL (i) HOUR AS occurred_at,
                (i + 0.5)::DECIMAL(10, 2) AS amount, 'EUR' AS currency
            FROM range(3) t(i)) TO '{tmp_path / "sales.parquet"}'""")
        con.execute(
            f"COPY (SELECT * FROM '{tmp_path / 'sales.parquet'}') TO '{tmp_path / 'sales.jsonl'}'"
        )
    events = {}
    for name in ("sales.parquet", "sales.jsonl"):
        path = tmp_path / name
        fmt = detect_format(path)
        assert fmt is not None
        with TableSource(path, fmt) as source:
            mapping = plan(ImportOptions("purchase_completed"), source.columns, NOW)
            rows = rows_of(source, list(mapping.identity_columns))
        assert all(isinstance(cell, str) for row in rows for cell in row[2:])
        events[name] = [decode_obj(mapping.map(row[2:], row[1]).record) for row in rows]
    parquet = events["sales.parquet"]
    assert [e.amount_minor for e in parquet] == [50, 150, 250]  # type: ignore[union-attr]
    assert parquet[1].occurred_at == datetime(2025, 3, 1, 11, tzinfo=UTC)
    # DECIMAL '0.50' and JSON 0.5 are written differently, so only the values agree.
    json_lines = events["sales.jsonl"]
    assert [e.model_dump(exclude={"event_id", "order_id"}) for e in json_lines] == [
        e.model_dump(exclude={"event_id", "order_id"}) for e in parquet
    ]


def test_a_file_that_is_not_what_its_name_says_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "sales.parquet"
    file.write_text("cust,day\nC1,2025-03-01\n")
    with pytest.raises(ValueError, match=r"cannot read .*sales\.parquet as parquet"):
        TableSource(file, "parquet")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.csv", "csv"), ("a.CSV.gz", "csv"), ("a.tsv", "csv"), ("a.parquet", "parquet"),
     ("a.jsonl", "jsonl"), ("a.ndjson.zst", "jsonl"), ("a.xlsx", None), ("a", None)],
)  # fmt: skip
def test_the_format_follows_the_file_name(name: str, fmt: str | None) -> None:
    assert detect_format(Path(name)) == fmt


def test_the_rejects_file_sits_next_to_the_input_and_describes_the_latest_import(
    tmp_path: Path,
) -> None:
    path = rejects_path_for(tmp_path / "sales.csv")
    assert path == tmp_path / "sales.csv.rejects.jsonl"
    rejects = RejectsFile(path, keep=1)
    rejects.add("row", 2, "invalid x", [{"field": "amount_minor", "reason": "r"}], {"a": "1"})
    rejects.add("line", 5, "unreadable", [{"field": "$", "reason": "u"}], "C2,1,2")
    rejects.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0] == {
        "row": 2,
        "reason": "invalid x",
        "errors": [{"field": "amount_minor", "reason": "r"}],
        "record": {"a": "1"},
    }
    assert lines[1]["line"] == 5 and rejects.count == 2 and rejects.first == ["row 2: invalid x"]
    RejectsFile(path).close()  # the next import rejected nothing
    assert not path.exists()
