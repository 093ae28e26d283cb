"""The roles of the root `consortium` fixture, by name, for the contract tests."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from tests.support import Consortium


@pytest.fixture
def lender_a(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[3]


@pytest.fixture
def lender_b(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[4]


@pytest.fixture
def governor(consortium: Consortium) -> LocalAccount:
    return consortium.accounts[1]
