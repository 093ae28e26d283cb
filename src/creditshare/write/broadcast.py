"""Putting a signed transaction in front of the node, whatever it answers.

The same signed bytes may be offered any number of times: a node accepts them at most once (same hash). So an
answer that says the node already has them, or that their nonce is used, is success — the receipt or recovery
tells which transaction landed. An answer that says "not now" (the sender has too many pending: Besu's sequenced
pool keeps about 4; or the pool is full) means: offer the same bytes again shortly.
"""

from __future__ import annotations

import re
import time

from hexbytes import HexBytes

from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ChainError, ChainUnavailable
from creditshare.core.metrics import Metrics

#: How nodes say a valid transaction must wait: Besu when the sender has too many pending
#: (NONCE_TOO_FAR_IN_FUTURE_FOR_SENDER), Besu, geth and Nethermind when the pool is full.
BUSY_MESSAGES = ("too distant from current sender nonce", "txpool is full", "transaction pool is full", "tx_pool_full")
ALREADY_KNOWN = ("already known", "known transaction", "already imported")
NONCE_USED = ("nonce too low", "nonce is too low")
#: Ganache's way of saying the nonce is used: "account has nonce of: 15 tx has nonce of: 14".
_GANACHE_NONCE = re.compile(r"account has nonce of: (\d+) tx has nonce of: (\d+)")


def nonce_used(text: str) -> bool:
    """Whether a node's refusal says the transaction's nonce is already used (by it, or by another)."""
    if any(used in text for used in NONCE_USED):
        return True
    ganache = _GANACHE_NONCE.search(text)
    return ganache is not None and int(ganache.group(2)) < int(ganache.group(1))


class Broadcaster:
    """Sends signed transactions for one key, re-offering them while the node is busy (up to `busy_wait`
    seconds each); remembers the node's last "not now" for readiness."""

    def __init__(self, transactor: Transactor, metrics: Metrics, busy_wait: float) -> None:
        self._tx = transactor
        self._metrics = metrics
        self.busy_wait = busy_wait
        #: The node's last "not now" and when (monotonic seconds).
        self.last_busy: tuple[str, float] | None = None

    def send(self, raw: bytes) -> None:
        """Broadcast `raw`; raises `ChainUnavailable`, or `ChainError` for a refusal other than the above."""
        deadline = time.monotonic() + self.busy_wait
        delay = 0.05
        while True:
            try:
                self._tx.send_raw(HexBytes(raw))
                return
            except ChainUnavailable:
                raise
            except ChainError as exc:
                text = str(exc).lower()
                if any(known in text for known in ALREADY_KNOWN) or nonce_used(text):
                    return
                if not any(busy in text for busy in BUSY_MESSAGES) or time.monotonic() > deadline:
                    raise
                self._metrics.chain_errors.labels("node_busy").inc()
                self.last_busy = (str(exc), time.monotonic())
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def busy_note(self, within: float = 60.0) -> str | None:
        """The node's last "not now" if it came in the last `within` seconds, else None."""
        busy = self.last_busy
        if busy is None or time.monotonic() - busy[1] > within:
            return None
        return f"{busy[0]} ({time.monotonic() - busy[1]:.0f}s ago; the submitter re-offers the same transaction)"
