"""Shared fixtures: one real Ganache chain per test session, fresh contracts per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import connect
from creditshare.devchain import DevChain, dev_accounts
from tests.brownie_guard import pytest_ignore_collect  # noqa: F401 (hook: keeps tests/brownie out of this suite)
from tests.support import Consortium

ACCOUNTS = 20


@pytest.fixture(scope="session")
def devchain() -> Iterator[DevChain]:
    """A Ganache process on a free port for the whole session."""
    chain = DevChain(accounts=ACCOUNTS)
    chain.start()
    yield chain
    chain.stop()


@pytest.fixture(scope="session")
def w3(devchain: DevChain) -> Web3:
    return connect(devchain.rpc_url)


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    """The dev chain's funded accounts: 0-2 bootstrap governors, the rest free for tests."""
    return dev_accounts(ACCOUNTS)


@pytest.fixture
def consortium(w3: Web3, accounts: list[LocalAccount]) -> Consortium:
    """Fresh registry and ledger: governors accounts[0..2] with threshold 2, lenders accounts[3..4] admitted."""
    c = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    c.admit_lender(accounts[3], "Lender A")
    c.admit_lender(accounts[4], "Lender B")
    return c
