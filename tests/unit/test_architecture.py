"""Data flows one way: schemas -> projections -> streams (the composition root).

Checked on the source, so a forbidden import fails the suite before it ships.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

ALLOWED = {
    "schemas": {"schemas", "pydantic", "pydantic_core", "cryptography"},
    "projections": {
        "schemas",
        "projections",
        "duckdb",
        "orjson",
        "numpy",
        "scipy",
        "sortedcontainers",
    },
    "simulator": {"schemas", "simulator"},
    # The read side over HTTP: never streams (the composition root builds it: cli_serve.py).
    "api": {
        "api",
        "projections",
        "schemas",
        "fastapi",
        "starlette",
        "pydantic",
        "uvicorn",
        "duckdb",
    },
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_layer_may(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package} has no modules"
    offences = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in files
        for name in imports_of(path) - STDLIB - ALLOWED[package]
    }
    assert not offences, "forbidden imports:\n" + "\n".join(sorted(offences))


def test_the_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import os\nfrom kafka import KafkaProducer\nfrom . import sibling\n")
    assert imports_of(module) - STDLIB == {"kafka"}
