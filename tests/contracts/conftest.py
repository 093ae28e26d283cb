"""The contract tests' `consortium` (one deployment per module, the chain reverted after each test) and its roles
by name."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from tests.support import Consortium


@pytest.fixture(scope="module")
def deployed(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """The root `consortium` fixture's deployment, made once per module (and engine)."""
    return Consortium.standard(w3, accounts)


@pytest.fixture
def consortium(deployed: Consortium, w3: Web3) -> Iterator[Consortium]:
    """Fresh registry and ledger as far as a test can tell: governors accounts[0..2] with threshold 2, lenders
    accounts[3..4] admitted. The module's deployment is reused and the whole chain reverted to it after each test
    (`evm_snapshot`/`evm_revert`, which Ganache and anvil both have): deploying and admitting anew took about a
    second per test, some 400 of them. Transactors are new per test, so nonces are read from the reverted chain."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield dataclasses.replace(deployed, _tx={})
    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]


@pytest.fixture
def lender_a(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[3]


@pytest.fixture
def lender_b(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[4]


@pytest.fixture
def governor(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[1]
