"""Two-stage pipelines: prepare the next item in this thread while a second thread writes the previous one.

Catching up with a long chain, the index spends its time in two places that need not wait for each other:
reading and decoding logs (Python) and writing them (the database). Writes stay one at a time and in order, so
whatever the writer guarantees for one item (the follower: rows and cursor in one transaction) still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


def pipelined(items: Iterable[A], prepare: Callable[[A], B], write: Callable[[B], C]) -> Iterator[C]:
    """`write(prepare(item))` for each item, in order, yielding each write's result; `prepare` of one item runs
    while the previous one is written. A failed write raises here, before the next one starts; a failed prepare
    raises once the write in flight has finished."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-writer") as writer:
        pending: Future[C] | None = None
        for item in items:
            prepared = prepare(item)
            if pending is not None:
                yield pending.result()
            pending = writer.submit(write, prepared)
        if pending is not None:
            yield pending.result()
