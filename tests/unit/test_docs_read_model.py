"""docs/read-model.md against the code: every table and column is documented, and
the loyalty funnel is defined over the stages in their funnel order.

The ``customer_view`` column table is generated from ``VIEW_COLUMNS``; after
changing the columns, regenerate it with ``python -m tests.unit.test_docs_read_model``.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from projections.customer_view_table import VIEW_COLUMNS
from projections.loyalty import Stage
from projections.read_model_schema import SCHEMA
from projections.value_tiers import TIERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "read-model.md"
START = (
    "<!-- customer_view columns: generated from VIEW_COLUMNS by "
    "tests/unit/test_docs_read_model.py -->"
)
END = "<!-- end of generated columns -->"


def generated_columns() -> str:
    rows = [f"| `{name}` | {sql_type} | {doc} |" for name, sql_type, doc in VIEW_COLUMNS]
    return "\n".join([START, "| column | type | meaning |", "|---|---|---|", *rows, END])


def documented_block(text: str) -> str:
    match = re.search(re.escape(START) + ".*?" + re.escape(END), text, flags=re.DOTALL)
    assert match, f"{DOC.name} lacks the generated customer_view block"
    return match.group(0)


def test_the_customer_view_columns_are_the_generated_table() -> None:
    assert documented_block(DOC.read_text()) == generated_columns(), (
        "docs/read-model.md is out of date: run python -m tests.unit.test_docs_read_model"
    )


@pytest.mark.parametrize("name", [name for name, _, _ in VIEW_COLUMNS])
def test_every_view_column_is_documented(name: str) -> None:
    assert f"| `{name}` |" in DOC.read_text()


def schema_columns() -> list[tuple[str, str]]:
    with duckdb.connect() as conn:
        for statement in SCHEMA:
            conn.execute(statement)
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns ORDER BY ALL"
        ).fetchall()
    return [(str(table), str(column)) for table, column in rows]


@pytest.mark.parametrize(("table", "column"), schema_columns())
def test_every_table_and_column_of_the_store_is_documented(table: str, column: str) -> None:
    text = DOC.read_text()
    assert f"### `{table}`" in text, f"no section for table {table}"
    section = text.split(f"### `{table}`", 1)[1].split("\n#", 1)[0]
    assert f"| `{column}` |" in section, f"{table}.{column} is not in its section"


def test_the_funnel_is_defined_over_every_stage_in_funnel_order() -> None:
    text = DOC.read_text()
    assert "## The loyalty funnel" in text
    section = text.split("## The loyalty funnel", 1)[1].split("\n## ", 1)[0]
    positions = [section.find(f"`{stage.value}`") for stage in Stage]
    assert -1 not in positions, "every stage is named"
    assert positions == sorted(positions), "in the order funnel() returns them"
    for term in ("**customers**", "**share**", "**conversion**"):
        assert term in section


def test_the_pyramid_is_defined_over_every_tier_from_the_top() -> None:
    text = DOC.read_text()
    assert "## The customer pyramid" in text
    section = text.split("## The customer pyramid", 1)[1].split("\n## ", 1)[0]
    positions = [section.find(f"`{tier.value}`") for tier in TIERS]
    assert -1 not in positions and positions == sorted(positions)
    for term in ("**customers**", "**value**", "**share of customers**", "**share of value**",
                 "`pareto_share`", "floor(0.20 × n)"):  # fmt: skip
        assert term in section


if __name__ == "__main__":
    text = DOC.read_text()
    DOC.write_text(text.replace(documented_block(text), generated_columns()))
    print(f"rewrote the customer_view columns of {DOC}")
