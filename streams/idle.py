"""Running the processing tier until it has caught up (backfills, CI, the demo)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from streams import kafka_clients
from streams.settings import Settings
from streams.worker import ProcessingWorker


class CommittedOffsets:
    """The group's committed offsets, read with a consumer that never joins the group."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self._consumer: KafkaConsumer = kafka_clients.consumer(settings, group_id=group_id)

    def __call__(self, tp: Any) -> int | None:
        offset: int | None = self._consumer.committed(TopicPartition(tp.topic, tp.partition))
        return offset

    def close(self) -> None:
        self._consumer.close()


async def run_until_idle(
    worker: ProcessingWorker, poll_s: float = 0.3, timeout_s: float = 3600, settle: int = 3
) -> None:
    """Start the worker, process until every partition is caught up ``settle`` checks in a
    row (identity merges travel through three topics), commit, stop."""
    committed = CommittedOffsets(worker.settings, worker.app.conf.id)
    loop = asyncio.get_running_loop()
    await worker.app.start()
    try:
        deadline, streak = time.monotonic() + timeout_s, 0
        while streak < settle:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not caught up after {timeout_s} s")
            await asyncio.sleep(poll_s)
            streak = streak + 1 if await worker.caught_up(committed) else 0
        await worker.app.consumer.commit()
    finally:
        await worker.app.stop()
        await loop.run_in_executor(None, committed.close)
        worker.close()
