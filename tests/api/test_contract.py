"""The API against its own OpenAPI spec, with requests schemathesis generates from it.

Every operation is called with generated parameters (valid ones and, since schemathesis
also generates invalid ones, bad ones): no answer may be a server error, and every
answer must match the schema the spec gives for its status code. The spec served
must be the one committed in docs/openapi.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from api.app import create_app
from api.openapi import DOC, spec_text
from tests.api.conftest import AUTH, an_app
from tests.builders import a_sealer
from tests.read_models import a_known_read_model

SPEC = json.loads(DOC.read_text())
# (method, path, mode) of every operation in the committed spec: valid requests for each,
# invalid ones for each that has something to get wrong (parameters or a key).
CASES = [
    (method.upper(), path, mode)
    for path, methods in SPEC["paths"].items()
    for method, operation in methods.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or {"parameters", "security"} & operation.keys()
]


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    db = a_known_read_model(tmp_path_factory.mktemp("contract") / "touchpoint.duckdb")
    return schemathesis.openapi.from_asgi("/openapi.json", an_app(db))


# Driven through Hypothesis directly rather than schemathesis' pytest fixture loader, which
# reaches into pytest internals that pytest 9 no longer has.
@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_no_server_errors_and_answers_match_the_spec(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=AUTH, checks=[not_a_server_error, response_schema_conformance]
        )

    call()


def test_the_committed_spec_is_the_served_one() -> None:
    """docs/openapi.json is regenerated with `python -m api.openapi` (docs/api.md)."""
    app = create_app(Path("unused.duckdb"), ["unused-key"], a_sealer().fingerprint)
    served = json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"
    assert served == spec_text()
    assert DOC.read_text() == served, (
        "docs/openapi.json is out of date: run `.venv/bin/python -m api.openapi`"
    )
