"""Decoding logs in a second process while this one stores the previous run.

Catching up with a long chain on PostgreSQL, the follower's two Python stages — decoding a run of logs and
storing the previous one — share one interpreter lock, so neither core was ever full (docs/benchmarks.md, issue 15
item 6). A child process decodes big runs instead; this process only hands the raw logs over and gets the rows
back. Small runs (a gateway keeping up with the head) decode here, where a hand-over would cost more than it saves.
Decoding is a pure function of the logs, so where it runs changes nothing that is stored.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from creditshare.read.decode import IndexRows, decode_logs

log = logging.getLogger(__name__)

#: Fewest logs in a run worth sending to the child (pickling both ways costs about a third of decoding here).
MIN_OFFLOADED_LOGS = 1_024


@dataclass
class PendingDecode:
    """A run being decoded; `result()` waits for its rows."""

    future: Future[IndexRows]
    logs: list[dict[str, Any]]
    block_times: dict[int, int]
    worker: DecodeWorker

    def result(self) -> IndexRows:
        """The decoded rows. If the child died (killed, out of memory), the run is decoded here and the next big
        run starts a new child: the follower never stalls on a broken pool."""
        try:
            return self.future.result()
        except BrokenProcessPool:
            log.warning("index: the decoding process died; decoding this run here and starting a new one")
            self.worker.reset()
            return self.worker.decode_here(self.logs, self.block_times)


class DecodeWorker:
    """Decodes runs of one deployment's logs: in a child process (started on first use) when `offload` is set and
    the run has at least `min_logs` logs, else in the calling thread."""

    def __init__(self, ledger: str, registry: str, *, offload: bool, min_logs: int = MIN_OFFLOADED_LOGS) -> None:
        self.ledger, self.registry = ledger, registry
        self.offload, self.min_logs = offload, min_logs
        self._pool: Executor | None = None

    def submit(self, logs: list[dict[str, Any]], block_times: dict[int, int]) -> PendingDecode:
        """Start decoding `logs` (their blocks' times in `block_times`)."""
        future: Future[IndexRows] | None = None
        if self.offload and len(logs) >= self.min_logs:
            if self._pool is None:
                # spawn, not fork: the gateway forking with its threads (and their locks) running is unsafe.
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                future = self._pool.submit(decode_logs, logs, self.ledger, self.registry, block_times)
            except BrokenProcessPool:  # the child died since the last run: this one decodes here
                log.warning("index: the decoding process died; decoding this run here and starting a new one")
                self.reset()
        if future is None:
            future = Future()
            future.set_result(self.decode_here(logs, block_times))
        return PendingDecode(future, logs, block_times, self)

    def decode_here(self, logs: list[dict[str, Any]], block_times: dict[int, int]) -> IndexRows:
        return decode_logs(logs, self.ledger, self.registry, block_times)

    def reset(self) -> None:
        """Drop the child process (a new one starts with the next big run)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the child process, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
