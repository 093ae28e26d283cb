"""Group commit: many threads' small write transactions committed together, one synced commit for all.

A gateway answering reports writes two rows per report (its audit entry and its on-chain inquiry), each in a
fully synced transaction; under load those commits queue behind one write lock and cost more than the report.
`GroupCommit.run(work)` hands `work` to one writer thread, which runs every piece of work waiting at that moment
in one transaction and commits once; each caller returns only after *its* work is committed, so nothing is
answered before it is durable. The writer takes whatever is queued when it wakes (no added delay when idle).

A batch that fails is not allowed to fail its neighbours: it is rolled back and each piece of work is run again
alone, so only the faulty one raises. A conflict with a writer in another process (`IntegrityError`, e.g. two
processes appending the same successor to a hash chain) is retried, with a random pause, as a whole batch.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from creditshare.core.db.engine import transaction

T = TypeVar("T")

#: Most pieces of work in one transaction (bounds the time a caller waits behind others).
MAX_BATCH = 256
#: Tries of a batch that conflicts with another process's writer, each after a growing random pause.
CONFLICT_ATTEMPTS = 50


@dataclass
class _Work(Generic[T]):
    fn: Callable[[Session], T]
    future: Future[T] = field(default_factory=Future)


class GroupCommit:
    """Runs `work(session)` callables from many threads in shared transactions (see the module's docstring).

    `work` must touch nothing but the session: it may run more than once (a retried or split batch), and only the
    committed run counts. The writer thread starts on first use and stops with `close()`.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        max_batch: int = MAX_BATCH,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._factory = factory
        self._max_batch = max_batch
        self._on_commit = on_commit  # batch size of every commit, for metrics
        self._queue: queue.SimpleQueue[_Work[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def run(self, work: Callable[[Session], T]) -> T:
        """`work(session)`'s result once its transaction is committed; its exception if it raised."""
        item: _Work[T] = _Work(work)
        with self._lock:
            if self._closed:
                raise RuntimeError("GroupCommit is closed")
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
                self._thread.start()
            self._queue.put(item)
        return item.future.result()

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _loop(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            batch: list[_Work[Any]] = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Work[Any]]) -> None:
        try:
            results = self._attempt(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            for item in batch:  # one faulty piece of work must not fail the others: each again, alone
                self._commit([item])
            return
        if self._on_commit is not None:
            self._on_commit(len(batch))
        for item, result in zip(batch, results, strict=True):
            item.future.set_result(result)

    def _attempt(self, batch: list[_Work[Any]]) -> list[Any]:
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                with transaction(self._factory) as session:
                    return [item.fn(session) for item in batch]
            except IntegrityError:  # another process wrote the same key first: read its rows, try again
                if attempt == CONFLICT_ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))  # de-synchronise the racers
        raise AssertionError("unreachable")
