"""The one boundary between creditshare and an EVM JSON-RPC node.

Everything that talks to the chain goes through `connect()` and `Transactor`, which translate web3/RPC failures
into `creditshare.exceptions`. Only standard `eth_*` methods are used, so the same code runs on Ganache, anvil and
Besu (QBFT, zero gas price).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc import HTTPProvider
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration
from web3.types import RPCEndpoint

from creditshare.chain.artifacts import Artifact, decode_error
from creditshare.core.exceptions import ChainError, ChainUnavailable, TransactionFailed

#: Reads web3 may retry on a transport error. Not `eth_sendRawTransaction`: a send that timed out has often
#: reached the node, and a blind re-send then fails with "nonce too low"; `Transactor` decides about re-sends.
_RETRY_METHODS = tuple(m for m in REQUEST_RETRY_ALLOWLIST if m != "eth_sendRawTransaction")

#: A response cut short (the connection closed mid-body) or not JSON at all: the node, or what stands between,
#: failed in transport — as unreachable as a refused connection, and as safe to retry for a read.
_BROKEN_RESPONSE = (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)

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
        if isinstance(exc, (*_BROKEN_RESPONSE, json.JSONDecodeError)):
            return "cut"
        if isinstance(exc, requests.HTTPError):
            return f"http_{exc.response.status_code}" if exc.response is not None else "http"
        if isinstance(exc, (requests.ConnectionError, ConnectionError)):
            return "reset"
        return "other"


class _ObservedHTTPProvider(HTTPProvider):
    """web3's HTTP provider, telling an observer how each request went (every call, web3's and raw `rpc()`
    alike, passes through `make_request`)."""

    def __init__(self, *args: Any, observe: RpcObserver, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observe = observe

    def make_request(self, method: RPCEndpoint, params: Any) -> Any:
        started = time.perf_counter()
        outcome = RpcOutcome.OK
        try:
            response = super().make_request(method, params)
            if isinstance(response, dict) and "error" in response:
                outcome = RpcOutcome.RPC_ERROR
            return response
        except Exception as exc:
            outcome = RpcOutcome.of(exc)
            raise
        finally:
            self._observe(str(method), time.perf_counter() - started, outcome)


def make_web3(rpc_url: str, *, timeout: float = 30.0, poa: bool = True, observe: RpcObserver | None = None) -> Web3:
    """A Web3 for `rpc_url` without touching the node (it may be down; callers find out on first use).

    With `poa` (the default: callers without a node profile) the POA extra-data middleware is injected at layer
    0: QBFT/IBFT/Clique chains (Besu) need it, and it is harmless on Ganache and anvil. `observe` hears how each
    request went (the gateway's /metrics).
    """
    retry = ExceptionRetryConfiguration(
        errors=(requests.ConnectionError, requests.HTTPError, requests.Timeout, *_BROKEN_RESPONSE),
        method_allowlist=_RETRY_METHODS,
    )
    options: dict[str, Any] = {"request_kwargs": {"timeout": timeout}, "exception_retry_configuration": retry}
    provider = (
        HTTPProvider(rpc_url, **options)
        if observe is None
        else _ObservedHTTPProvider(rpc_url, observe=observe, **options)
    )
    w3 = Web3(provider)
    if poa:
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    return w3


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    """A Web3 for `rpc_url`, checked to answer; raises `ChainUnavailable` with the URL otherwise."""
    w3 = make_web3(rpc_url, timeout=timeout)
    try:
        with translate_errors():
            w3.eth.get_block(0)
    except ChainUnavailable as exc:
        raise ChainUnavailable(f"no chain node answers at {rpc_url}; start one or fix CREDITSHARE_RPC_URL") from exc
    return w3


@contextmanager
def translate_errors() -> Iterator[None]:
    """Translate web3 and transport errors into the creditshare exception tree."""
    try:
        yield
    except ContractCustomError as exc:
        decoded = decode_error(str(exc.data)) if exc.data else None
        raise decoded or ChainError(f"unknown custom error {exc.data}") from exc
    except ContractLogicError as exc:
        data = _revert_data(exc)
        decoded = decode_error(data) if data else None
        raise decoded or TransactionFailed(str(exc.message or exc)) from exc
    except (requests.ConnectionError, requests.Timeout, ConnectionError) as exc:
        raise ChainUnavailable(f"chain node unreachable ({type(exc).__name__})") from exc
    except requests.HTTPError as exc:  # a 5xx from the node or a proxy in front of it
        # (A Response is falsy for 4xx/5xx: test it against None.)
        status = exc.response.status_code if exc.response is not None else "?"
        raise ChainUnavailable(f"chain node answered HTTP {status}") from exc
    except (*_BROKEN_RESPONSE, json.JSONDecodeError) as exc:
        raise ChainUnavailable(f"chain node's answer was cut short or is not JSON ({type(exc).__name__})") from exc
    except Web3RPCError as exc:
        raise ChainError(str(exc)) from exc


def _revert_data(exc: ContractLogicError) -> str | None:
    """Revert data from a logic error; Ganache nests it as ``{"result": "0x..."}`` where others give a string."""
    for candidate in (exc.data, *exc.args):
        if isinstance(candidate, str) and candidate.startswith("0x"):
            return candidate
        if isinstance(candidate, dict):
            inner = candidate.get("result") or candidate.get("data")
            if isinstance(inner, str) and inner.startswith("0x"):
                return inner
    return None


def contract_at(w3: Web3, artifact: Artifact, address: str) -> Contract:
    """A web3 contract object for a deployed artifact."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


@dataclass(frozen=True)
class RawLog:
    """A log as the node returned it (undecoded: decoding hundreds of logs with web3 is slow)."""

    address: str  # lowercase hex
    topics: list[bytes]
    data: bytes
    log_index: int


@dataclass(frozen=True)
class Receipt:
    """The parts of a transaction receipt the gateway needs."""

    tx_hash: str
    status: int
    block_number: int
    gas_used: int
    logs: list[RawLog]

    @classmethod
    def from_rpc(cls, raw: dict[str, Any]) -> Receipt:
        return cls(
            tx_hash=raw["transactionHash"],
            status=int(raw["status"], 16),
            block_number=int(raw["blockNumber"], 16),
            gas_used=int(raw["gasUsed"], 16),
            logs=[
                RawLog(
                    address=log["address"].lower(),
                    topics=[bytes.fromhex(t[2:]) for t in log["topics"]],
                    data=bytes.fromhex(log["data"][2:]),
                    log_index=int(log["logIndex"], 16),
                )
                for log in raw["logs"]
            ],
        )


def rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    """A raw JSON-RPC call: no web3 result formatting (slow for thousands of logs); errors translated."""
    with translate_errors():
        response = w3.provider.make_request(RPCEndpoint(method), params)
    if "error" in response:
        error = response["error"]
        raise ChainError(f"{method}: {error.get('message', error) if isinstance(error, dict) else error}")
    return response.get("result")


def wait_for_rpc(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """Poll until a node answers at `rpc_url`; raise `ChainUnavailable` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return connect(rpc_url, timeout=2.0)
        except ChainError as exc:
            last = exc
            time.sleep(0.1)
    raise ChainUnavailable(f"no chain answered at {rpc_url} within {timeout:.0f}s: {last}")
