"""`touchpoint import --jobs N`: rows dealt by customer; a failing child stops the import
(no hang), without a broker."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.broker import free_port
from streams.import_fields import ImportOptions
from streams.import_mapping import plan
from streams.import_parallel import ImportWorkerError, _dealt, import_in_parallel
from streams.import_reading import TableSource
from streams.importer import RejectsFile
from streams.settings import load_settings


def test_rows_are_dealt_by_customer_and_keep_their_order() -> None:
    batch = [(n, 0, f"C{n % 5}", "2025-03-01") for n in range(1, 41)]
    parts = _dealt(batch, 0, 3)
    assert sorted(row for part in parts for row in part) == batch
    for part in parts:
        assert part == sorted(part)  # file order within a part
        for customer in {row[2] for row in part}:
            assert all(row in part for row in batch if row[2] == customer)
    assert _dealt(batch, None, 3) == [batch, [], []]  # no customer column: one process


@pytest.mark.timeout(60)
def test_a_child_that_fails_stops_the_import_and_leaves_nothing_running(tmp_path: Path) -> None:
    file = tmp_path / "sales.csv"
    file.write_text("customer_id,occurred_at,amount\n" + "C1,2025-03-01,1.00\n" * 30_000)
    nobody = f"127.0.0.1:{free_port()}"
    settings = load_settings(bootstrap_servers=nobody, key_vault=tmp_path / "keys.sqlite")
    options = ImportOptions("purchase_completed", values={"currency": "EUR"})
    now = datetime.now(UTC)
    with TableSource(file, "csv") as source:
        mapping = plan(options, source.columns, now)
        rejects = RejectsFile(tmp_path / "rejects.jsonl")
        with pytest.raises(ImportWorkerError, match=r"import process \d failed: .*bootstrap"):
            import_in_parallel(settings, source, options, mapping, now, 2, rejects, lambda n: n)
