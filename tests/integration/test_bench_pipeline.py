"""bench/pipeline.py at a tiny size through the real broker, as its command line runs it:
every figure is measured and positive, each throughput's ratio is its value over the raw
consume rate, and the markdown results section is rewritten between its markers only."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import pipeline
from bench.pipeline_report import END, START, Figure, Results, Sizes, Target, write_markdown

pytestmark = pytest.mark.broker

FIGURES = {
    "publish",
    "raw_produce",
    "raw_consume",
    "end_to_end",
    "worker",
    "latency_p50",
    "latency_p99",
    "rebuild",
    "memory_per_100k_customers",
}
TINY = ["--customers", "20", "--days", "30", "--latency-rate", "10", "--latency-seconds", "1"]


def test_a_tiny_run_measures_every_figure(kafka_bootstrap: str, tmp_path: Path) -> None:
    out, doc = tmp_path / "results" / "pipeline.json", tmp_path / "benchmarks.md"
    args = [*TINY, "--partitions", "3", "--json", str(out), "--markdown", str(doc)]

    ran = CliRunner().invoke(
        pipeline.main,
        [*args, "--no-markdown"],
        env={"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap},
        catch_exceptions=False,
    )

    assert ran.exit_code == 0, ran.output
    assert not doc.exists()
    found = json.loads(out.read_text())
    figures = found["figures"]
    assert set(figures) == FIGURES
    assert all(f["value"] > 0 and math.isfinite(f["value"]) for f in figures.values()), figures
    reference = figures["raw_consume"]["value"]
    for key, figure in figures.items():
        if figure["unit"] in ("events/s", "records/s"):
            assert figure["ratio"] == pytest.approx(figure["value"] / reference), key
        else:  # latency and memory are no rates
            assert figure["ratio"] is None, key
    assert figures["latency_p50"]["value"] <= figures["latency_p99"]["value"]
    assert {t["figure"] for t in found["targets"]} == {"end_to_end", "rebuild"}
    assert found["sizes"]["customers"] == 20
    assert found["broker"].startswith("external")
    assert found["machine"]["cpu_count"] >= 1 and found["machine"]["python"]
    details = found["details"]
    assert details["events"] == details["rebuild_events"] > 0
    assert details["latency_probes_seen"] == details["latency_probes_sent"] == 10
    assert details["views"] > 0


def test_the_results_section_is_rewritten_between_its_markers(tmp_path: Path) -> None:
    results = Results(
        date="2025-01-01T00:00:00+00:00",
        broker="embedded Tansu",
        machine={"cpu_count": 2, "python": "3.11.7", "platform": "Linux"},
        sizes=Sizes(customers=10, days=5, seed=7, latency_rate=10.0, latency_seconds=1.0),
        figures=[
            Figure("raw_consume", "raw consume (reference)", 1000.0, "records/s", 1.0),
            Figure("end_to_end", "end to end: touchpoints → DuckDB", 100.0, "events/s", 0.1),
            Figure("latency_p50", "event → view latency p50", 1.5, "s", None),
        ],
        targets=[Target("end_to_end", "≥ 50% of raw consume", False)],
        details={"events": 42},
    )
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nbefore\n\n{START}\nold figures\n{END}\n\nafter\n")

    write_markdown(results, doc)
    write_markdown(results, doc)  # twice: still one section

    text = doc.read_text()
    assert "old figures" not in text
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.endswith(f"{END}\n\nafter\n")
    assert text.count(START) == text.count(END) == 1
    assert "| end to end: touchpoints → DuckDB | 100 | events/s | 0.10× |" in text
    assert "| ≥ 50% of raw consume | **no** |" in text
    assert "| event → view latency p50 | 1.50 | s | — |" in text


def test_the_command_line_explains_itself() -> None:
    shown = CliRunner().invoke(pipeline.main, ["--help"])

    assert shown.exit_code == 0
    for option in ("--customers", "--days", "--latency-rate", "--latency-seconds", "--json"):
        assert option in shown.output
    assert "--markdown" in shown.output and "--no-markdown" in shown.output
