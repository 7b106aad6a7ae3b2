"""Fixtures of the HTTP API tests: the known read model (tests/read_models.py), an app over
it with one key, and a client that sends that key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import create_app
from tests.builders import a_sealer
from tests.read_models import a_known_read_model

KEY = "test-key-0123456789"
AUTH = {"X-API-Key": KEY}


def an_app(db: Path) -> FastAPI:
    """The API over ``db`` with the key KEY and the test pepper's fingerprints."""
    return create_app(db, [KEY, "second-key-abcdefgh"], a_sealer().fingerprint)


@pytest.fixture(scope="module")
def known_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return a_known_read_model(tmp_path_factory.mktemp("read-model") / "touchpoint.duckdb")


@pytest.fixture(scope="module")
def client(known_db: Path) -> Iterator[TestClient]:
    """A client of the API over the known read model; requests carry the key."""
    with TestClient(an_app(known_db), headers=AUTH) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def anonymous(known_db: Path) -> Iterator[TestClient]:
    """A client that sends no key."""
    with TestClient(an_app(known_db)) as test_client:
        yield test_client
