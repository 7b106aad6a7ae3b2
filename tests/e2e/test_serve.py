"""`touchpoint serve` as a user starts it: with configured keys, and without any."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.dashboard import free_port, serving, wait_until_healthy
from tests.read_models import a_known_read_model


def get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return a_known_read_model(tmp_path_factory.mktemp("serve") / "touchpoint.duckdb")


def test_serve_answers_with_a_configured_key_and_refuses_others(db: Path) -> None:
    with serving(db, "first-key-123456,second-key-123456", "touchpoint-test-pepper") as url:
        assert get(url + "health")[0] == 200
        assert get(url + "customers/C1", "second-key-123456")[1]["customer_id"] == "C1"
        status, body = get(url + "customers/C1", "third-key-1234567")
        assert (status, body["detail"]) == (401, "invalid API key")
        assert get(url + "customers/C1")[0] == 401


def test_without_keys_serve_makes_one_and_prints_the_dashboard_address_with_it(
    db: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "streams", "serve", "--port", str(port), "--db", str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        printed = ""
        while "#key=" not in printed:
            line = server.stdout.readline()
            assert line, f"serve exited without printing a key:\n{printed}"
            printed += line
        found = re.search(rf"http://127\.0\.0\.1:{port}/#key=([A-Za-z0-9_-]+)", printed)
        assert found, printed
        key = found.group(1)
        wait_until_healthy(server, f"http://127.0.0.1:{port}/", timeout=30)
        assert get(f"http://127.0.0.1:{port}/warnings", key)[0] == 200
        assert get(f"http://127.0.0.1:{port}/warnings")[0] == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
