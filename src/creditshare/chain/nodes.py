"""Several nodes of one chain behind one web3 provider: the lender's own node first, then others the consortium
allows.

A request goes to the node in use; if it fails in transport (refused, reset, timed out, cut short, HTTP 5xx) the
same request goes to the next node, and that node stays in use. After `primary_retry_seconds` the own node is
tried first again. A JSON-RPC error is an answer, not a failure: it never moves to another node.

Sending is safe across nodes because what is sent is a signed transaction: the very same bytes, with the same
hash, reach the next node, which accepts them at most once (or says it already has them). Nothing is re-signed
here, so a failover never makes a second transaction.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import requests
from web3.providers.base import JSONBaseProvider
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration
from web3.types import RPCEndpoint, RPCResponse

#: Reads web3 may retry on a transport error. Not `eth_sendRawTransaction`: a send that timed out has often
#: reached the node, and a blind re-send then fails with "nonce too low"; `Transactor` decides about re-sends.
_RETRY_METHODS = tuple(m for m in REQUEST_RETRY_ALLOWLIST if m != "eth_sendRawTransaction")

#: A response cut short (the connection closed mid-body) or not JSON at all: the node, or what stands between,
#: failed in transport — as unreachable as a refused connection, and as safe to retry for a read.
BROKEN_RESPONSE = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)

#: Hears every JSON-RPC request: its method, seconds taken and outcome (`RpcOutcome.of`).
RpcObserver = Callable[[str, float, str], None]


class RpcOutcome:
    """How one JSON-RPC request ended, as a short label for metrics."""

    OK = "ok"
    RPC_ERROR = "rpc_error"  # the node answered with a JSON-RPC error

    @staticmethod
    def of(exc: BaseException) -> str:
        """The label of a transport failure: timeout, reset (connection refused or reset), cut (a response cut
        short or not JSON), http_<status>, or other."""
        if isinstance(exc, requests.Timeout):
            return "timeout"
        if isinstance(exc, (*BROKEN_RESPONSE, json.JSONDecodeError)):
            return "cut"
        if isinstance(exc, requests.HTTPError):
            return f"http_{exc.response.status_code}" if exc.response is not None else "http"
        if isinstance(exc, (requests.ConnectionError, ConnectionError)):
            return "reset"
        return "other"


def retry_config(retries: int = 5) -> ExceptionRetryConfiguration:
    """web3's retries of a read after a transport error (never of a send: see `_RETRY_METHODS`)."""
    return ExceptionRetryConfiguration(
        errors=(requests.ConnectionError, requests.HTTPError, requests.Timeout, *BROKEN_RESPONSE),
        retries=retries,
        method_allowlist=_RETRY_METHODS,
    )


#: Failures of transport: the node (or what stands between) did not answer. The next node is asked.
TRANSPORT_ERRORS = (requests.RequestException, json.JSONDecodeError, ConnectionError)


class NodeSet(JSONBaseProvider):
    """A web3 provider over `urls` (nodes of one chain, in order of preference) that fails over in order."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout: float = 30.0,
        observe: RpcObserver | None = None,
        on_switch: Callable[[int, int], None] | None = None,
        primary_retry_seconds: float = 30.0,
    ) -> None:
        if not urls:
            raise ValueError("at least one node URL is needed")
        super().__init__()
        # With another node to ask, one quick retry per node; alone, web3's usual five.
        retries = 5 if len(urls) == 1 else 1
        self.urls = list(urls)
        self._nodes = [
            HTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=retry_config(retries))
            for url in urls
        ]
        self._observe = observe
        self._on_switch = on_switch
        self.primary_retry_seconds = primary_retry_seconds
        #: Index of the node in use.
        self.active = 0
        self._left_primary_at: float | None = None
        self._lock = threading.Lock()

    @property
    def endpoint_uri(self) -> str:
        """The URL of the node in use."""
        return self.urls[self.active]

    def _order(self) -> list[int]:
        """The nodes to ask, in order: the one in use (or the own node, when it is time to try it again), then
        the others in order of preference."""
        with self._lock:
            first = self.active
            left = self._left_primary_at
            if first != 0 and left is not None and time.monotonic() - left > self.primary_retry_seconds:
                first = 0
        return [first, *(i for i in range(len(self._nodes)) if i != first)]

    def _use(self, index: int) -> None:
        with self._lock:
            previous, self.active = self.active, index
            if index == 0:
                self._left_primary_at = None
        if previous != index and self._on_switch is not None:
            self._on_switch(previous, index)

    def _failed(self, index: int) -> None:
        if index == 0:
            with self._lock:
                self._left_primary_at = time.monotonic()

    def _heard(self, method: RPCEndpoint, started: float, outcome: str) -> None:
        if self._observe is not None:
            self._observe(str(method), time.perf_counter() - started, outcome)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        error: Exception | None = None
        for index in self._order():
            started = time.perf_counter()
            try:
                response = self._nodes[index].make_request(method, params)
            except TRANSPORT_ERRORS as exc:
                self._heard(method, started, RpcOutcome.of(exc))
                self._failed(index)
                error = exc
                continue
            self._heard(method, started, RpcOutcome.RPC_ERROR if "error" in response else RpcOutcome.OK)
            self._use(index)
            return response
        assert error is not None
        raise error

    def is_connected(self, show_traceback: bool = False) -> bool:
        return any(node.is_connected(show_traceback) for node in self._nodes)
