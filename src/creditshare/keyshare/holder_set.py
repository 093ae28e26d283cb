"""The holders a gateway trusts: the share set governance published on chain, re-read when it may have changed
(rotation, a new threshold), and one `KeyshareClient` for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from eth_account.signers.local import LocalAccount

from creditshare.core.exceptions import ChainError
from creditshare.keyshare.client import KeyshareClient
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.keyshare.shares import ShareSet


class HolderSet:
    """A `KeyshareClient` for the current share set, rebuilt when a re-read (every `ttl` seconds) finds a new
    version. `load` raises `KeyshareUnavailable` when no set is published."""

    def __init__(
        self,
        load: Callable[[], ShareSet],
        signer: LocalAccount,
        *,
        timeout: float,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[int, str], None] | None = None,
    ) -> None:
        self._load, self._signer, self._timeout, self._ttl, self._clock = load, signer, timeout, ttl, clock
        self._observe = observe
        self._lock = threading.Lock()
        self._client: KeyshareClient | None = None
        self._read_at = float("-inf")

    def client(self) -> KeyshareClient:
        with self._lock:
            now = self._clock()
            if self._client is None or now - self._read_at >= self._ttl:
                try:
                    share_set = self._load()
                except ChainError:
                    if self._client is None:
                        raise KeyshareUnavailable(
                            "the share set cannot be read: the chain node does not answer"
                        ) from None
                    return self._client  # the node is away: the set read last stands (a rotation waits for it)
                self._read_at = now
                if self._client is None or self._client.share_set != share_set:
                    if self._client is not None:
                        self._client.close()
                    self._client = KeyshareClient(share_set, self._signer, timeout=self._timeout, observe=self._observe)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
