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
from creditshare.keyshare.wire import MAX_BATCH


class HolderSet:
    """A `KeyshareClient` for the current share set. The set is read on first use; after that it is re-read in
    the background every `ttl` seconds (a request never waits for the chain), and the client is rebuilt when the
    version changed. While the chain cannot be read, the set read last stands. `load` raises
    `KeyshareUnavailable` when no set is published."""

    def __init__(
        self,
        load: Callable[[], ShareSet],
        signer: LocalAccount,
        *,
        timeout: float,
        hedge_after: float | None = None,
        query_batch: int = MAX_BATCH,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[int, str], None] | None = None,
    ) -> None:
        self._load, self._signer, self._timeout, self._ttl, self._clock = load, signer, timeout, ttl, clock
        self._observe = observe
        self._hedge_after = hedge_after
        self._query_batch = query_batch
        self._lock = threading.Lock()
        self._client: KeyshareClient | None = None
        self._read_at = float("-inf")
        self._reloading = False

    def client(self) -> KeyshareClient:
        with self._lock:
            if self._client is None:
                try:
                    self._install(self._load())
                except ChainError:
                    raise KeyshareUnavailable("the share set cannot be read: no chain node answers") from None
            elif self._clock() - self._read_at >= self._ttl and not self._reloading:
                self._reloading = True
                threading.Thread(target=self._reload, name="share-set", daemon=True).start()
            assert self._client is not None
            return self._client

    def _install(self, share_set: ShareSet) -> None:
        """Use `share_set` (the caller holds the lock): a new client only when the set changed."""
        self._read_at = self._clock()
        if self._client is None or self._client.share_set != share_set:
            if self._client is not None:
                self._client.close()
            self._client = KeyshareClient(
                share_set,
                self._signer,
                timeout=self._timeout,
                hedge_after=self._hedge_after,
                observe=self._observe,
                query_batch=self._query_batch,
            )

    def _reload(self) -> None:
        try:
            share_set = self._load()
        except (ChainError, KeyshareUnavailable):  # the node is away, or the set unusable: the last one stands
            share_set = None
        with self._lock:
            if share_set is not None and self._client is not None:
                self._install(share_set)
            self._reloading = False

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
