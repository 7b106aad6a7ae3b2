"""When a read of a topic counts as finished (streams/readback.py): a restore must never
take a partition whose fetch has not answered yet for an empty one."""

from __future__ import annotations

from kafka import TopicPartition

from streams.readback import _at_high_water

TP = TopicPartition("t", 0)


class Positions:
    """A consumer's answers: the fetch high-water mark (None: no fetch answered yet) and
    the position."""

    def __init__(self, high: int | None, position: int) -> None:
        self.high, self.at = high, position

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.high

    def position(self, tp: TopicPartition) -> int:
        return self.at


def test_a_partition_without_a_fetch_answer_is_finished_only_when_idle_is_allowed() -> None:
    assert _at_high_water(Positions(None, 0), [TP], idle=True)  # type: ignore[arg-type]
    # a restore (complete=True) passes idle=False: it waits for the broker's answer
    assert not _at_high_water(Positions(None, 0), [TP], idle=False)  # type: ignore[arg-type]


def test_a_partition_is_finished_at_its_high_water_mark() -> None:
    assert not _at_high_water(Positions(10, 7), [TP], idle=False)  # type: ignore[arg-type]
    assert _at_high_water(Positions(10, 10), [TP], idle=False)  # type: ignore[arg-type]
    assert _at_high_water(Positions(0, 0), [TP], idle=False)  # type: ignore[arg-type]
