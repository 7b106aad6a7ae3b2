"""What ``bench.pipeline`` found, and its three forms: a rich table, JSON, and the
markdown table between the markers of docs/benchmarks.md."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

START, END = "<!-- pipeline:start -->", "<!-- pipeline:end -->"


@dataclass(frozen=True)
class Sizes:
    """How much the run simulates, and the load the latency probes offer."""

    customers: int
    days: int
    seed: int
    latency_rate: float  # probes per second
    latency_seconds: float


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``ratio``: value / raw consume rate, for throughputs only."""

    key: str
    label: str
    value: float
    unit: str
    ratio: float | None


@dataclass(frozen=True)
class Target:
    figure: str  # a Figure key
    wanted: str  # as people read it
    met: bool


@dataclass
class Results:
    date: str
    broker: str
    machine: dict[str, Any]
    sizes: Sizes
    figures: list[Figure]
    targets: list[Target]
    details: dict[str, Any] = field(default_factory=dict)  # counts and seconds of each step

    def figure(self, key: str) -> Figure:
        return next(f for f in self.figures if f.key == key)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": "pipeline",
            "date": self.date,
            "broker": self.broker,
            "machine": self.machine,
            "sizes": asdict(self.sizes),
            "reference": "raw_consume",
            "figures": {
                f.key: {k: v for k, v in asdict(f).items() if k != "key"} for f in self.figures
            },
            "targets": [asdict(t) for t in self.targets],
            "details": self.details,
        }


def _value(figure: Figure) -> str:
    return f"{figure.value:,.2f}" if figure.unit == "s" else f"{figure.value:,.0f}"


def _ratio(figure: Figure) -> str:
    return "—" if figure.ratio is None else f"{figure.ratio:.2f}×"


def _targets(results: Results) -> dict[str, Target]:
    return {t.figure: t for t in results.targets}


def print_table(results: Results, console: Console) -> None:
    targets = _targets(results)
    table = Table(title=f"touchpoint pipeline benchmark ({_sizes_line(results)})")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("× raw consume", justify="right")
    table.add_column("target")
    table.add_column("met", justify="center")
    for figure in results.figures:
        target = targets.get(figure.key)
        met = "" if target is None else ("[green]yes[/]" if target.met else "[red]no[/]")
        wanted = "" if target is None else target.wanted
        table.add_row(figure.label, _value(figure), figure.unit, _ratio(figure), wanted, met)
    console.print(table)


def _sizes_line(results: Results) -> str:
    sizes, details = results.sizes, results.details
    return (
        f"{sizes.customers:,} customers × {sizes.days} days = {details['events']:,} events; "
        f"latency at {sizes.latency_rate:g}/s for {sizes.latency_seconds:g} s"
    )


def markdown(results: Results) -> str:
    """The results section: what was run where, and the table."""
    machine, targets = results.machine, _targets(results)
    when = datetime.fromisoformat(results.date).strftime("%Y-%m-%d %H:%M %Z")
    lines = [
        f"Measured {when} with `python -m bench.pipeline` on {_sizes_line(results)}; "
        f"broker: {results.broker}; {machine['cpu_count']} CPUs, Python "
        f"{machine['python']}, {machine['platform']}{_load(machine)}. Raw figures: "
        "[bench/results/pipeline.json](../bench/results/pipeline.json).",
        "",
        "| figure | value | unit | × raw consume | target | met |",
        "|---|--:|---|--:|---|:-:|",
    ]
    for figure in results.figures:
        target = targets.get(figure.key)
        wanted = "" if target is None else target.wanted
        met = "" if target is None else ("yes" if target.met else "**no**")
        lines.append(
            f"| {figure.label} | {_value(figure)} | {figure.unit} | {_ratio(figure)} "
            f"| {wanted} | {met} |"
        )
    return "\n".join([*lines, "", _notes(results.details)])


def _notes(details: dict[str, Any]) -> str:
    """The counts behind latency and memory, in a sentence or two."""
    notes = []
    if "latency_probes_sent" in details:
        gap = details.get("latency_mean_snapshot_gap_s")
        notes.append(
            f"Latency: {details['latency_probes_seen']:,} of {details['latency_probes_sent']:,} "
            "probes seen"
            + (f", a snapshot published every {gap:.1f} s on average" if gap else "")
            + f" (snapshot interval {details.get('snapshot_interval_s', 0):g} s)."
        )
    if "states" in details:
        rss = details.get("worker_peak_rss_mib")
        notes.append(
            f"Memory: {details['state_bytes'] / 1024 / 1024:,.1f} MiB traced for "
            f"{details['states']:,} customer states"
            + (f"; the live worker peaked at {rss:,.0f} MiB RSS." if rss else ".")
        )
    return " ".join(notes)


def _load(machine: dict[str, Any]) -> str:
    load = machine.get("load_average_at_start")
    return "" if not load else f", load average {load[0]:.2f} when it started"


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results.to_json(), indent=2, ensure_ascii=False) + "\n")


def write_markdown(results: Results, path: Path) -> None:
    """Replace what lies between the markers in ``path`` (appended when they are missing)."""
    section = f"{START}\n{markdown(results)}\n{END}"
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text, count=1)
    else:
        text = f"{text.rstrip()}\n\n## Results\n\n{section}\n".lstrip()
    path.write_text(text)
