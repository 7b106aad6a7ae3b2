"""The API over a running materializer: records arrive on Kafka, the materializer publishes
snapshots, and the API answers from each new one without being restarted."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from projections.duckdb_store import DuckDBProjectionStore
from projections.view_records import encode_view_record
from streams import kafka_clients
from streams.materializer import Materializer
from streams.settings import Settings
from streams.topics import CUSTOMER_VIEWS, create_topics
from tests.api.conftest import AUTH, an_app
from tests.unit.test_projection_store_contract import a_view

pytestmark = pytest.mark.broker


def send_views(settings: Settings, *views: tuple[str, int]) -> None:
    producer = kafka_clients.producer(settings)
    for customer, purchases in views:
        producer.send(
            settings.topic(CUSTOMER_VIEWS),
            key=customer.encode(),
            value=encode_view_record(a_view(customer, purchases)),
        )
    producer.flush()
    producer.close()


def purchases(client: TestClient, customer: str) -> int | None:
    response = client.get(f"/customers/{customer}")
    return None if response.status_code == 404 else response.json()["figures"]["purchase_count"]


def test_the_api_answers_from_each_snapshot_the_materializer_publishes(
    settings: Settings,
) -> None:
    create_topics(settings)
    send_views(settings, ("C1", 1))
    store = DuckDBProjectionStore.open_writer(settings.db, snapshot_interval=0)
    with Materializer(settings, store) as materializer:
        materializer.run_until_caught_up(timeout=60)
        with TestClient(an_app(settings.db), headers=AUTH) as client:
            assert (purchases(client, "C1"), purchases(client, "C2")) == (1, None)
            first = client.get("/health").json()["freshness"]

            time.sleep(1)  # past the schedule's back-off: the next batch is published at once
            send_views(settings, ("C1", 3), ("C2", 2))
            materializer.run_until_caught_up(timeout=60)

            assert (purchases(client, "C1"), purchases(client, "C2")) == (3, 2)
            latest = client.get("/health").json()["freshness"]
            assert latest["published_at"] > first["published_at"]
            listed = client.get("/customers").json()
            assert [item["customer_id"] for item in listed["items"]] == ["C1", "C2"]
