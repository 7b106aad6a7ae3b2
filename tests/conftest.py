"""Shared fixtures. The broker: KAFKA_BOOTSTRAP_SERVERS if set, else testcontainers'
Kafka where a Docker engine answers, else the embedded Tansu broker on a free port."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings, load_settings


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no socket, no permission, no engine: all mean "no Docker here"
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Address of a real Kafka-protocol broker for the whole test session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
    elif _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.6.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
    else:
        from streams.broker import EmbeddedBroker

        with EmbeddedBroker() as broker:
            yield broker.bootstrap_servers


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    """Settings for one test: the session broker, private topics, key vault and DuckDB file."""
    return load_settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        partitions=3,
        key_vault=tmp_path / "keys.sqlite",
        db=tmp_path / "touchpoint.duckdb",
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    """Environment for running the `touchpoint` CLI as a subprocess against the test broker."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHPOINT_")}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=settings.bootstrap_servers,
        TOUCHPOINT_TOPIC_PREFIX=settings.topic_prefix,
        TOUCHPOINT_PARTITIONS=str(settings.partitions),
        TOUCHPOINT_KEY_VAULT=str(settings.key_vault),
        TOUCHPOINT_DB=str(settings.db),
    )
    return env
