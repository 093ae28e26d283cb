"""Concurrent reports share key-share rounds.

Each report needs one OPRF evaluation, and one round costs every holder a signed HTTP request, a proof and a
synced log write — far more than the point it evaluates. `QueryBatcher` lets reports that arrive together share a
round: a report whose look-up finds fewer than `max_rounds` rounds in flight sends one at once (no added delay
when the gateway is quiet); the others queue, and the next free round carries everything queued, each element
with its own inquiry, so the holders still log every look-up against the inquiry it belongs to.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from creditshare.keyshare.wire import MAX_BATCH

#: A round: (inputs, the inquiry of each input) → the OPRF outputs, in order.
Round = Callable[[Sequence[bytes], Sequence[bytes]], list[bytes]]


@dataclass
class _Job:
    inputs: list[bytes]
    inquiry: bytes
    outputs: list[bytes] | None = None
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class QueryBatcher:
    """Runs `round` for the look-ups of concurrent reports, up to `max_rounds` rounds at a time, each carrying
    every look-up queued when it starts (at most `max_batch` elements)."""

    def __init__(self, round: Round, *, max_rounds: int = 2, max_batch: int = MAX_BATCH) -> None:
        self._round = round
        self._max_rounds = max_rounds
        self._max_batch = max_batch
        self._queue: deque[_Job] = deque()
        self._rounds = 0
        self._cond = threading.Condition()

    def evaluate(self, inputs: Sequence[bytes], inquiry: bytes) -> list[bytes]:
        """OPRF outputs of `inputs`, logged at the holders under `inquiry`; raises what the round raised."""
        if len(inputs) > self._max_batch:
            return self._round(inputs, [inquiry] * len(inputs))
        job = _Job(list(inputs), inquiry)
        with self._cond:
            self._queue.append(job)
        while not job.done.is_set():
            with self._cond:
                while not job.done.is_set() and not (self._rounds < self._max_rounds and self._queue):
                    self._cond.wait()
                if job.done.is_set():
                    break
                self._rounds += 1
                batch = self._take()
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._rounds -= 1
                    self._cond.notify_all()
        if job.error is not None:
            raise job.error
        assert job.outputs is not None
        return job.outputs

    def _take(self) -> list[_Job]:
        """The queued jobs (oldest first) that fit in one round; the caller holds the lock."""
        batch: list[_Job] = []
        size = 0
        while self._queue and size + len(self._queue[0].inputs) <= self._max_batch:
            job = self._queue.popleft()
            batch.append(job)
            size += len(job.inputs)
        return batch

    def _run(self, batch: list[_Job]) -> None:
        inputs = [value for job in batch for value in job.inputs]
        inquiries = [job.inquiry for job in batch for _ in job.inputs]
        try:
            outputs = self._round(inputs, inquiries)
        except Exception as exc:  # every report of the round gets the failure (e.g. KeyshareUnavailable)
            for job in batch:
                job.error = exc
                job.done.set()
            return
        start = 0
        for job in batch:
            job.outputs = outputs[start : start + len(job.inputs)]
            start += len(job.inputs)
            job.done.set()
