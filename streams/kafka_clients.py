"""Every Kafka client of the project is made here, so client settings live in one place.

Group timeouts depend on the broker. Tansu holds a JoinGroup until half the
session timeout has passed, so with library defaults a consumer-group join
takes 20-30 s there; a 2 s session with 0.5 s heartbeats brings it to ~1 s.
Apache Kafka refuses sessions under its ``group.min.session.timeout.ms``
(6 s by default), so the short values are used only on Tansu. With
``broker_profile=auto`` we ask the cluster for its id once per address.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from streams.broker import EMBEDDED_CLUSTER_ID
from streams.settings import Settings

Profile = Literal["kafka", "tansu"]


@dataclass(frozen=True)
class GroupTimeouts:
    """Consumer-group liveness settings for one kind of broker."""

    session_timeout_ms: int
    heartbeat_interval_ms: int

    def faust(self) -> dict[str, float]:
        """The same values in Faust's app settings (seconds)."""
        return {
            "broker_session_timeout": self.session_timeout_ms / 1000,
            "broker_heartbeat_interval": self.heartbeat_interval_ms / 1000,
        }


GROUP_TIMEOUTS: dict[Profile, GroupTimeouts] = {
    "kafka": GroupTimeouts(session_timeout_ms=10_000, heartbeat_interval_ms=3_000),
    "tansu": GroupTimeouts(session_timeout_ms=2_000, heartbeat_interval_ms=500),
}

# Tansu's own default cluster id, and the one we start it with.
_TANSU_CLUSTER_IDS = {EMBEDDED_CLUSTER_ID, "tansu_cluster"}


def _common(settings: Settings) -> dict[str, Any]:
    _fail_fast_if_unreachable(settings.bootstrap_servers)
    return {
        "bootstrap_servers": settings.bootstrap_servers.split(","),
        "client_id": settings.client_id,
        **settings.kafka_security(),
    }


def _fail_fast_if_unreachable(bootstrap_servers: str, timeout_s: float = 3.0) -> None:
    """Clients wait 30-60 s for a broker that is not there; a TCP probe says so at once."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            socket.create_connection(
                (host.strip("[]") or "127.0.0.1", int(port)), timeout_s
            ).close()
            return
        except (OSError, ValueError):
            continue
    raise KafkaTimeoutError(f"Unable to bootstrap from {bootstrap_servers} (nothing listens there)")


def admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(**_common(settings), request_timeout_ms=30_000)


@lru_cache(maxsize=16)
def _detect_profile(bootstrap_servers: str, security: tuple[tuple[str, Any], ...]) -> Profile:
    client = KafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), **dict(security))
    try:
        cluster_id = client.describe_cluster().get("cluster_id")
    finally:
        client.close()
    return "tansu" if cluster_id in _TANSU_CLUSTER_IDS else "kafka"


def broker_profile(settings: Settings) -> Profile:
    """Which timeouts to use: the configured profile, or the detected one on ``auto``."""
    if settings.broker_profile != "auto":
        return settings.broker_profile
    security = tuple(sorted(settings.kafka_security().items()))
    return _detect_profile(settings.bootstrap_servers, security)


def group_timeouts(settings: Settings) -> GroupTimeouts:
    return GROUP_TIMEOUTS[broker_profile(settings)]


def producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer that waits for all in-sync replicas and never duplicates on retry."""
    config: dict[str, Any] = {
        **_common(settings),
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        "max_request_size": 4 * 1024 * 1024,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def consumer(
    settings: Settings, *topics: str, group_id: str | None, **overrides: Any
) -> KafkaConsumer:
    """A consumer with the group timeouts for this broker; offsets committed by the caller."""
    timeouts = group_timeouts(settings)
    config: dict[str, Any] = {
        **_common(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": timeouts.session_timeout_ms,
        "heartbeat_interval_ms": timeouts.heartbeat_interval_ms,
        "max_partition_fetch_bytes": 4 * 1024 * 1024,
    }
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def faust_credentials(settings: Settings) -> Any:
    """Faust's spelling of the security settings (None on PLAINTEXT)."""
    import ssl

    import faust

    context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
        )
        if settings.ssl_certfile:
            context.load_cert_chain(
                str(settings.ssl_certfile), settings.ssl_keyfile and str(settings.ssl_keyfile)
            )
    if settings.security_protocol.startswith("SASL"):
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=password,
            mechanism=settings.sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None
