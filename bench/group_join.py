"""How long a new consumer-group member waits for its first record, per timeout profile.

Runs against the embedded broker (or KAFKA_BOOTSTRAP_SERVERS) and prints the
seconds from subscribe to first record for each profile in
``streams.kafka_clients.GROUP_TIMEOUTS``, and the ratio between them.

    python -m bench.group_join [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid

from kafka import KafkaConsumer

from streams import kafka_clients
from streams.broker import EmbeddedBroker
from streams.settings import Settings, load_settings


def first_record_seconds(settings: Settings, topic: str, profile: str) -> float:
    group_id = f"bench-{uuid.uuid4().hex[:8]}"  # Tansu keeps a group's first session timeout
    if profile == "library defaults":
        consumer = KafkaConsumer(
            topic, bootstrap_servers=settings.bootstrap_servers, group_id=group_id,
            auto_offset_reset="earliest",
        )  # fmt: skip
    else:
        timeouts = kafka_clients.GROUP_TIMEOUTS[profile]  # type: ignore[index]
        consumer = kafka_clients.consumer(
            settings,
            topic,
            group_id=group_id,
            session_timeout_ms=timeouts.session_timeout_ms,
            heartbeat_interval_ms=timeouts.heartbeat_interval_ms,
        )
    started = time.monotonic()
    try:
        while not consumer.poll(timeout_ms=100):
            if time.monotonic() - started > 120:
                raise TimeoutError("no record within 120 s")
        return time.monotonic() - started
    finally:
        consumer.close()


def run(settings: Settings, rounds: int) -> dict[str, float]:
    topic = f"bench-join-{uuid.uuid4().hex[:8]}"
    producer = kafka_clients.producer(settings)
    producer.send(topic, b"x").get(timeout=30)
    producer.close()
    medians = {}
    for profile in ["library defaults", *kafka_clients.GROUP_TIMEOUTS]:
        times = [first_record_seconds(settings, topic, profile) for _ in range(rounds)]
        medians[profile] = statistics.median(times)
        print(f"{profile:>16}: first record after {medians[profile]:6.2f} s (median of {rounds})")
    for profile in ("library defaults", "kafka"):
        print(f"{profile} / tansu: {medians[profile] / medians['tansu']:.1f}x")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        run(load_settings(), args.rounds)
        return
    with EmbeddedBroker() as broker:
        print(f"embedded broker on {broker.bootstrap_servers}")
        run(load_settings(bootstrap_servers=broker.bootstrap_servers), args.rounds)


if __name__ == "__main__":
    main()
