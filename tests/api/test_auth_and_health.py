"""API keys, ``/health``, freshness on every answer, the dashboard's files, and the 503s of a
missing or unreadable read model."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import DASHBOARD
from api.auth import KeyCheck
from api.models import CUSTOMER_ID_PATTERN, Severity, WarningReason
from tests.api.conftest import AUTH, KEY, an_app
from tests.read_models import AS_OF_DAY, at


def api_paths(client: TestClient) -> list[str]:
    """Every GET path of the spec except /health, with a sample id."""
    paths = client.get("/openapi.json").json()["paths"]
    return [p.replace("{customer_id}", "C1") for p in sorted(paths) if p != "/health"]


def test_every_api_route_refuses_a_request_without_a_key(anonymous: TestClient) -> None:
    paths = api_paths(anonymous)
    assert len(paths) == 8
    for path in paths:
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "missing API key" in response.json()["detail"], path


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({"X-API-Key": "wrong-key-0123456789"}, "invalid API key"),
        ({"X-API-Key": KEY + "x"}, "invalid API key"),
        ({"X-API-Key": KEY[:-1]}, "invalid API key"),
        ({"Authorization": "Bearer wrong-key-0123456789"}, "invalid API key"),
        ({"Authorization": f"Basic {KEY}"}, "missing API key"),  # not a bearer token
    ],
)
def test_a_wrong_key_is_refused(
    anonymous: TestClient, headers: dict[str, str], detail: str
) -> None:
    response = anonymous.get("/warnings", headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"].startswith(detail)
    assert KEY not in response.text


@pytest.mark.parametrize(
    "headers",
    [
        AUTH,
        {"X-API-Key": "second-key-abcdefgh"},  # any configured key
        {"Authorization": f"Bearer {KEY}"},
    ],
)
def test_a_valid_key_in_either_header_is_let_through(
    anonymous: TestClient, headers: dict[str, str]
) -> None:
    assert anonymous.get("/warnings", headers=headers).status_code == 200


def test_an_app_needs_at_least_one_key() -> None:
    with pytest.raises(ValueError, match="at least one API key"):
        KeyCheck([])
    with pytest.raises(ValueError):
        KeyCheck(["k" * 16, ""])


def test_health_answers_without_a_key_with_the_freshness(anonymous: TestClient) -> None:
    body = anonymous.get("/health").json()
    assert (body["status"], body["read_model"]) == ("ok", "ready")
    assert body["freshness"]["watermark"] == at(AS_OF_DAY).isoformat().replace("+00:00", "Z")


def test_every_answer_says_how_fresh_it_is(client: TestClient) -> None:
    for path in api_paths(client):
        response = client.get(path)
        assert response.status_code == 200, path
        freshness = response.json()["freshness"]
        assert freshness["watermark"].startswith(at(AS_OF_DAY).date().isoformat()), path
        assert 0 <= freshness["lag_seconds"] < 600
        assert response.headers["X-Read-Model-Watermark"] == at(AS_OF_DAY).isoformat()
        assert float(response.headers["X-Read-Model-Lag-Seconds"]) >= 0
        assert response.headers["Cache-Control"] == "no-store"


def test_without_a_read_model_the_api_says_what_to_run_and_health_still_answers(
    tmp_path: Path,
) -> None:
    with TestClient(an_app(tmp_path / "none.duckdb"), headers=AUTH) as client:
        response = client.get("/customers/C1")
        assert response.status_code == 503
        assert "the materializer publishes it" in response.json()["detail"]
        assert response.headers["Retry-After"] == "5"
        health = client.get("/health").json()
        assert (health["status"], health["read_model"]) == ("ok", "missing")


def test_a_file_that_is_not_a_read_model_is_503_not_500(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"this is not a database" * 100)
    with TestClient(an_app(junk), headers=AUTH) as client:
        response = client.get("/reports/funnel")
        assert response.status_code == 503
        assert "cannot read the read model" in response.json()["detail"]
        assert client.get("/health").json()["read_model"] == "unreadable"


def test_the_dashboard_is_served_without_a_key_with_a_strict_policy(
    anonymous: TestClient,
) -> None:
    page = anonymous.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    for name in ("app.js", "charts.js", "customer.js", "dom.js", "panels.js", "style.css"):
        assert anonymous.get(f"/dashboard/{name}").status_code == 200, name


def test_the_dashboard_loads_nothing_from_elsewhere() -> None:
    """A closed network: no CDN, no remote fonts; the only URL is SVG's namespace."""
    for path in DASHBOARD.iterdir():
        urls = set(re.findall(r"https?://[^\s'\"`)]+", path.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, f"{path.name} refers to {urls}"


def test_interactive_docs_are_off_and_the_spec_is_public(anonymous: TestClient) -> None:
    assert anonymous.get("/docs").status_code == 404  # Swagger UI would load a CDN
    assert anonymous.get("/openapi.json").json()["info"]["title"] == "touchpoint read API"


def test_the_api_speaks_the_pipeline_s_vocabulary() -> None:
    """Parameters the API validates are the codes the rest of the pipeline uses."""
    from projections.churn_queries import SEVERITIES
    from projections.churn_signals import CODES
    from schemas.envelope import CustomerId

    assert set(typing.get_args(WarningReason)) == set(CODES)
    assert typing.get_args(Severity) == SEVERITIES
    (constraint,) = [m for m in typing.get_args(CustomerId)[1:] if hasattr(m, "pattern")]
    assert constraint.pattern == CUSTOMER_ID_PATTERN
