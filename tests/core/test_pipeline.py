"""`core.pipeline.pipelined`: writes in order, one at a time, each overlapping the next item's preparation; a failed
write stops the pipeline before the next write, and a failed preparation waits for the write in flight."""

from __future__ import annotations

import threading
import time

import pytest

from creditshare.core.pipeline import pipelined


def test_writes_in_order_one_at_a_time_overlapping_the_next_prepare() -> None:
    log: list[str] = []
    writing = threading.Event()
    overlapped: list[int] = []
    active = [0]

    def prepare(item: int) -> int:
        if item > 0 and writing.wait(5):  # the previous item's write is running now
            overlapped.append(item)
        log.append(f"prepare {item}")
        return item * 10

    def write(value: int) -> int:
        active[0] += 1
        assert active[0] == 1, "two writes at once"
        writing.set()
        time.sleep(0.02)
        log.append(f"write {value}")
        writing.clear()
        active[0] -= 1
        return value + 1

    assert list(pipelined(range(4), prepare, write)) == [1, 11, 21, 31]
    assert [entry for entry in log if entry.startswith("write")] == ["write 0", "write 10", "write 20", "write 30"]
    assert overlapped == [1, 2, 3]


def test_failed_write_stops_before_the_next_write() -> None:
    written: list[int] = []

    def write(value: int) -> int:
        if value == 1:
            raise RuntimeError("database gone")
        written.append(value)
        return value

    results = pipelined(range(5), lambda item: item, write)
    assert next(results) == 0
    with pytest.raises(RuntimeError, match="database gone"):
        next(results)
    assert written == [0]


def test_failed_prepare_waits_for_the_write_in_flight() -> None:
    finished: list[int] = []

    def prepare(item: int) -> int:
        if item == 1:
            raise ValueError("bad page")
        return item

    def write(value: int) -> int:
        time.sleep(0.1)
        finished.append(value)
        return value

    with pytest.raises(ValueError, match="bad page"):
        list(pipelined(range(3), prepare, write))
    assert finished == [0]
