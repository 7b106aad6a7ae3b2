"""Comparing two read models (projections/read_model_diff.py): what counts as a difference,
and which history rows may differ (customers with out-of-order or merged facts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from projections.duckdb_store import DuckDBProjectionStore
from projections.read_model_diff import TableDiff, compare

T = datetime(2025, 3, 1, tzinfo=UTC)


def a_model(path: Path, transitions: list[tuple[str, str]], late: tuple[str, ...] = ()) -> Path:
    """A read model whose only rows are loyalty transitions (customer, reason), one tier row
    per customer (updated at a made-up offset), and the out-of-order customers."""
    with DuckDBProjectionStore(path) as store:
        store.note_out_of_order(list(late))
    with duckdb.connect(str(path)) as db:
        for n, (customer, reason) in enumerate(transitions):
            db.execute("INSERT INTO loyalty_transitions VALUES (?, ?, 'prospect', 'loyal', ?, "
                       "NULL)", [customer, T, reason])  # fmt: skip
            db.execute("INSERT OR REPLACE INTO value_tier VALUES (?, 'vip', 100, ?, 9, ?)",
                       [customer, n, 1000 + n])  # fmt: skip
    return path


def by_table(left: Path, right: Path) -> dict[str, TableDiff]:
    return {diff.table: diff for diff in compare(left, right)}


def test_equal_models_are_equal_whatever_their_offsets_and_ranks(tmp_path: Path) -> None:
    left = a_model(tmp_path / "a.duckdb", [("C1", "r"), ("C2", "r")])
    right = a_model(tmp_path / "b.duckdb", [("C2", "r"), ("C1", "r")])  # ranks, offsets differ
    diffs = compare(left, right)
    assert diffs and all(diff.equal for diff in diffs)
    assert {"consumed_offsets", "value_tier_changes"}.isdisjoint(d.table for d in diffs)


def test_a_different_row_is_counted_on_each_side_with_examples(tmp_path: Path) -> None:
    left = a_model(tmp_path / "a.duckdb", [("C1", "r"), ("C2", "old")])
    right = a_model(tmp_path / "b.duckdb", [("C1", "r"), ("C2", "new"), ("C3", "r")])
    diff = by_table(left, right)["loyalty_transitions"]
    assert (diff.left_rows, diff.right_rows, diff.only_left, diff.only_right) == (2, 3, 1, 2)
    assert not diff.equal and not diff.settled
    assert [row[0] for row in diff.examples_left] == ["C2"]
    assert {row[0] for row in diff.examples_right} == {"C2", "C3"}


def test_history_of_a_customer_with_out_of_order_events_may_differ_but_no_one_elses(
    tmp_path: Path,
) -> None:
    left = a_model(tmp_path / "a.duckdb", [("C1", "r"), ("C2", "old")])
    right = a_model(tmp_path / "b.duckdb", [("C1", "r"), ("C2", "new")], late=("C2",))
    diff = by_table(left, right)["loyalty_transitions"]
    assert not diff.equal and diff.settled and diff.arrival_dependent == 2

    other = a_model(tmp_path / "c.duckdb", [("C1", "r"), ("C2", "new")], late=("C1",))
    assert not by_table(left, other)["loyalty_transitions"].settled


def test_a_merged_customer_history_may_differ(tmp_path: Path) -> None:
    left = a_model(tmp_path / "a.duckdb", [("C1", "old")])
    right = a_model(tmp_path / "b.duckdb", [("C1", "new")])
    with duckdb.connect(str(right)) as db:
        db.execute("INSERT INTO customer_alias VALUES ('C9', 'C1', 'link', 0)")
    diffs = by_table(left, right)
    assert diffs["loyalty_transitions"].settled
    assert not diffs["customer_alias"].settled  # the alias itself is state: compared strictly
