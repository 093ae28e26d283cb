"""The one boundary between creditshare and an EVM JSON-RPC node.

Everything that talks to the chain goes through `connect()` and `Transactor`, which translate web3/RPC failures
into `creditshare.exceptions`. Only standard `eth_*` methods are used, so the same code runs on Ganache, anvil and
Besu (QBFT, zero gas price).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.base import BaseProvider
from web3.providers.rpc import HTTPProvider
from web3.types import RPCEndpoint

from creditshare.chain.artifacts import Artifact, decode_error
from creditshare.chain.nodes import BROKEN_RESPONSE, NodeSet, RpcObserver, retry_config
from creditshare.core.exceptions import ChainError, ChainUnavailable, TransactionFailed


def make_web3(
    rpc_url: str | Sequence[str],
    *,
    timeout: float = 30.0,
    poa: bool = True,
    observe: RpcObserver | None = None,
    on_switch: Callable[[int, int], None] | None = None,
) -> Web3:
    """A Web3 for `rpc_url` without touching the node (it may be down; callers find out on first use).

    Several URLs (nodes of the same chain, the own node first) fail over in order (`chain.nodes.NodeSet`).
    With `poa` (the default: callers without a node profile) the POA extra-data middleware is injected at layer
    0: QBFT/IBFT/Clique chains (Besu) need it, and it is harmless on Ganache and anvil. `observe` hears how each
    request went (the gateway's /metrics), `on_switch` each change of node.
    """
    urls = [rpc_url] if isinstance(rpc_url, str) else list(rpc_url)
    if len(urls) == 1 and observe is None:
        provider: BaseProvider = HTTPProvider(
            urls[0], request_kwargs={"timeout": timeout}, exception_retry_configuration=retry_config()
        )
    else:
        provider = NodeSet(urls, timeout=timeout, observe=observe, on_switch=on_switch)
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
    except (*BROKEN_RESPONSE, json.JSONDecodeError) as exc:
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
