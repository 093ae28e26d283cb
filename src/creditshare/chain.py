"""The one boundary between creditshare and an EVM JSON-RPC node.

Everything that talks to the chain goes through `connect()` and `Transactor`, which translate web3/RPC failures
into `creditshare.exceptions`. Only standard `eth_*` methods are used, so the same code runs on Ganache, anvil and
Besu (QBFT, zero gas price).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt, Wei

from creditshare.contracts import Artifact, decode_error
from creditshare.exceptions import ChainError, ChainUnavailable, ContractRevert, TransactionFailed

#: Reads web3 may retry on a transport error. Not `eth_sendRawTransaction`: a send that timed out has often
#: reached the node, and a blind re-send then fails with "nonce too low"; `Transactor` decides about re-sends.
_RETRY_METHODS = tuple(m for m in REQUEST_RETRY_ALLOWLIST if m != "eth_sendRawTransaction")


def make_web3(rpc_url: str, *, timeout: float = 30.0) -> Web3:
    """A Web3 for `rpc_url` without touching the node (it may be down; callers find out on first use).

    The POA extra-data middleware is always injected at layer 0: QBFT/IBFT/Clique chains (Besu) need it and it
    is harmless on Ganache and anvil.
    """
    retry = ExceptionRetryConfiguration(
        errors=(requests.ConnectionError, requests.HTTPError, requests.Timeout), method_allowlist=_RETRY_METHODS
    )
    provider = Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=retry)
    w3 = Web3(provider)
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
        raise ChainUnavailable(f"chain node answered HTTP {exc.response.status_code if exc.response else '?'}") from exc
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
class SignedTx:
    """A signed transaction: the exact bytes to (re)send, their hash and the nonce used."""

    raw: HexBytes
    tx_hash: str
    nonce: int


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


class Transactor:
    """Signs and sends transactions from one account, allocating nonces itself.

    web3.py takes nonces from the node's pending count without a lock, so concurrent senders reuse them; one
    Transactor per key, shared by its users, avoids that.
    """

    def __init__(self, w3: Web3, account: LocalAccount, *, gas_price: int | None = None) -> None:
        self.w3 = w3
        self.account = account
        self.address = account.address
        self._gas_price = gas_price
        self._chain_id: int | None = None
        self._lock = threading.Lock()
        self._nonce: int | None = None

    @property
    def chain_id(self) -> int:
        """The node's chain id (read once, on first use)."""
        if self._chain_id is None:
            with translate_errors():
                self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def gas_price(self) -> int:
        """Legacy gas price: given, or the node's (0 on Besu free-gas networks), read once."""
        if self._gas_price is None:
            with translate_errors():
                self._gas_price = int(self.w3.eth.gas_price)
        return self._gas_price

    def next_nonce(self) -> int:
        """The next nonce for this key (read from the node once, then counted locally)."""
        with self._lock:
            if self._nonce is None:
                with translate_errors():
                    self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
            nonce = self._nonce
            self._nonce += 1
            return nonce

    def resync_nonce(self) -> None:
        """Forget the local nonce so the next one is read from the node again."""
        with self._lock:
            self._nonce = None

    def sign(self, fn: ContractFunction | ContractConstructor, *, gas: int | None = None) -> SignedTx:
        """Estimate (surfacing any revert as `ContractRevert`), then sign with the next nonce."""
        with translate_errors():
            params: TxParams = {"from": self.address, "gasPrice": Wei(self.gas_price), "chainId": self.chain_id}
            if gas is None:
                gas = int(fn.estimate_gas(params) * 1.2) + 10_000
            params["gas"] = gas
            nonce = self.next_nonce()
            params["nonce"] = Nonce(nonce)
            tx = fn.build_transaction(params)
        signed = self.account.sign_transaction(dict(tx))  # type: ignore[arg-type]
        return SignedTx(HexBytes(signed.raw_transaction), "0x" + signed.hash.hex().removeprefix("0x"), nonce)

    def sign_data(self, to: str, data: bytes, gas: int) -> SignedTx:
        """Sign a call with pre-encoded calldata and a known gas limit (no estimation round trip)."""
        nonce = self.next_nonce()
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": self.gas_price,
            "nonce": nonce,
            "chainId": self.chain_id,
            "value": 0,
        }
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        return SignedTx(HexBytes(signed.raw_transaction), "0x" + signed.hash.hex().removeprefix("0x"), nonce)

    def rpc(self, method: str, params: list[Any]) -> Any:
        """A raw JSON-RPC call (no web3 result formatting), errors translated."""
        return rpc(self.w3, method, params)

    def receipt(self, tx_hash: str) -> Receipt | None:
        """The receipt of `tx_hash`, or None while it is not mined (or unknown)."""
        raw = self.rpc("eth_getTransactionReceipt", [tx_hash])
        return Receipt.from_rpc(raw) if raw else None

    def wait_receipt(self, tx_hash: str, *, timeout: float = 60.0) -> Receipt:
        """Poll for a receipt; raise `ChainError` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            receipt = self.receipt(tx_hash)
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for {tx_hash} after {timeout:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def send_raw(self, raw: HexBytes) -> None:
        """Broadcast a signed transaction."""
        with translate_errors():
            self.w3.eth.send_raw_transaction(raw)

    def wait(self, tx_hash: str, *, timeout: float = 120.0) -> TxReceipt:
        """Wait for a receipt; raise `ContractRevert`/`TransactionFailed` if the transaction reverted."""
        with translate_errors():
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(
                    HexBytes(tx_hash), timeout=timeout, poll_latency=0.05
                )
            except TimeExhausted as exc:
                raise ChainError(f"no receipt for {tx_hash} after {timeout}s") from exc
        if receipt["status"] != 1:
            raise self.revert_reason(tx_hash, receipt)
        return receipt

    def transact(self, fn: ContractFunction | ContractConstructor, *, gas: int | None = None) -> TxReceipt:
        """Sign, send and wait for one transaction."""
        signed = self.sign(fn, gas=gas)
        try:
            self.send_raw(signed.raw)
        except ChainError as exc:
            if "nonce" not in str(exc).lower():
                raise
            # Another client sent from this key since we counted: re-read the nonce and try once more.
            self.resync_nonce()
            signed = self.sign(fn, gas=gas)
            self.send_raw(signed.raw)
        return self.wait(signed.tx_hash)

    def deploy(self, artifact: Artifact, *args: Any) -> tuple[str, TxReceipt]:
        """Deploy `artifact` with constructor `args`; returns its address and the receipt."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        receipt = self.transact(factory.constructor(*args))
        return str(receipt["contractAddress"]), receipt

    def revert_reason(self, tx_hash: str, receipt: TxReceipt | Receipt) -> ChainError:
        """Replay a reverted transaction as a call at its block to recover the custom error."""
        block = receipt.block_number if isinstance(receipt, Receipt) else receipt["blockNumber"]
        try:
            tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
            call: TxParams = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
            with translate_errors():
                self.w3.eth.call(call, block)
        except ContractRevert as exc:
            return exc
        except ChainError:
            pass
        return TransactionFailed(f"transaction {tx_hash} reverted in block {block}")


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
