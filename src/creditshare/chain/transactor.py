"""Signing and sending transactions from one account, with nonces allocated locally.

web3.py fills nonces from the node's pending count without a lock, so concurrent senders reuse them; one
`Transactor` per key, shared by its users, avoids that. Signed bytes are returned before sending, so a caller can
persist them and re-send exactly the same transaction after a crash.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import TimeExhausted
from web3.types import Nonce, TxParams, TxReceipt, Wei

from creditshare.chain.artifacts import Artifact
from creditshare.chain.rpc import Receipt, rpc, translate_errors
from creditshare.core.exceptions import ChainError, ContractRevert, TransactionFailed


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction: the exact bytes to (re)send, their hash and the nonce used."""

    raw: HexBytes
    tx_hash: str
    nonce: int


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

    def sign_data(self, to: str, data: bytes, gas: int, *, value: int = 0) -> SignedTx:
        """Sign a call with pre-encoded calldata and a known gas limit (no estimation round trip)."""
        nonce = self.next_nonce()
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": self.gas_price,
            "nonce": nonce,
            "chainId": self.chain_id,
            "value": value,
        }
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        return SignedTx(HexBytes(signed.raw_transaction), "0x" + signed.hash.hex().removeprefix("0x"), nonce)

    def pay(self, to: str, wei: int) -> TxReceipt:
        """Send `wei` to `to` (e.g. gas money for a delegate signer) and wait for it."""
        signed = self.sign_data(to, b"", 21_000, value=wei)
        self.send_raw(signed.raw)
        return self.wait(signed.tx_hash)

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
