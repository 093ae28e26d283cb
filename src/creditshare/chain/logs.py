"""Reading logs in block windows: the one `eth_getLogs` loop of the package.

Nodes cap what one `eth_getLogs` may cover (Besu: `--rpc-max-logs-range`, 1,000-5,000 blocks, plus result
limits). `LogWindow` reads at most `max_range` blocks per call; when the node refuses a range it halves the
window (down to one block) and after each success doubles it again, up to `max_range`. A node may also cap how
many logs one answer carries (`max_results`); an answer that full may have been cut short without a word, so it
is read again over half the range rather than trusted. The ledger client, governance and the index follower all
read logs through it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from creditshare.chain.rpc import rpc
from creditshare.core.exceptions import ChainError, ChainUnavailable

log = logging.getLogger(__name__)


class _FullPage(ChainError):
    """An answer holding as many logs as the node may return: perhaps cut short."""


@dataclass(frozen=True)
class LogPage:
    """The logs of blocks `start`..`end` (inclusive), in chain order."""

    start: int
    end: int
    logs: list[dict[str, Any]]


class LogWindow:
    """`eth_getLogs` over bounded block ranges that shrink when the node refuses and grow back after success."""

    def __init__(
        self,
        w3: Web3,
        max_range: int,
        max_results: int | None = None,
        on_narrow: Callable[[str], None] | None = None,
    ) -> None:
        if max_range < 1:
            raise ValueError("max_range must be at least 1 block")
        self.w3 = w3
        self.max_range = max_range
        self.max_results = max_results
        #: Hears each narrowing: "refused" (the node said no) or "full_page" (an answer at the result cap).
        self.on_narrow = on_narrow
        self.range = max_range

    def read(self, query: dict[str, Any], start: int, last: int) -> LogPage:
        """The logs of `start` up to at most `last`, in one call of the widest range the node accepts.

        `query` holds the filter's `address` and `topics`; raises `ChainUnavailable` when the node is down and
        `ChainError` when it refuses even a single block, or answers a single block with a full page."""
        while True:
            end = min(start + self.range - 1, last)
            try:
                logs = rpc(self.w3, "eth_getLogs", [{**query, "fromBlock": hex(start), "toBlock": hex(end)}])
                if self.max_results is not None and len(logs) >= self.max_results:
                    raise _FullPage(f"{len(logs)} logs, the node's cap of {self.max_results}: maybe cut short")
                break
            except ChainUnavailable:
                raise
            except ChainError as exc:  # e.g. Besu's range cap, or a response-size limit
                if end == start:
                    raise
                if self.on_narrow is not None:
                    self.on_narrow("full_page" if isinstance(exc, _FullPage) else "refused")
                self.range = max(1, (end - start + 1) // 2)
                log.info("eth_getLogs: node refused %s blocks (%s); trying %s", end - start + 1, exc, self.range)
        self.range = min(self.max_range, self.range * 2)
        return LogPage(start, end, list(logs))

    def scan(self, query: dict[str, Any], start: int, last: int) -> Iterator[LogPage]:
        """Every page from `start` to `last` inclusive, oldest first."""
        while start <= last:
            page = self.read(query, start, last)
            yield page
            start = page.end + 1


def head_block(w3: Web3) -> int:
    """The node's latest block number."""
    return int(rpc(w3, "eth_blockNumber", []), 16)


def address_topic(address: str) -> str:
    """An address as an indexed topic (left-padded to 32 bytes, lowercase hex)."""
    return "0x" + "00" * 12 + address.lower().removeprefix("0x")
