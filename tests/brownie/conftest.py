"""Fixtures for the Brownie-native tests, run by `brownie test` (Brownie's pytest plugin), never by the main `pytest`.

`accounts`, the contract containers `ConsortiumRegistry` / `CreditLedger` and `fn_isolation` come from Brownie's
plugin; the development chain is the `ganache-cli` network of brownie-config.yaml (creditshare's dev mnemonic, so
`accounts[i]` are `creditshare.devchain.dev_accounts()[i]`). Contracts are deployed once per module; `fn_isolation`
reverts the chain to that state before every test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: IConsortiumRegistry.Role and .Action values.
ROLE_LENDER = 1
ACTION_ADMIT = 1
THRESHOLD = 2
PROPOSAL_LIFETIME = 7 * 24 * 3600


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Second line of defence (the first is tests/brownie_guard.py): nothing here runs without Brownie's plugin."""
    return None if config.pluginmanager.has_plugin("brownie-core") else True


@pytest.fixture(scope="session")
def accounts() -> Any:
    """Brownie's own `accounts`, restated so that tests/conftest.py's `accounts` (the main suite's eth-account keys)
    can never shadow the plugin's fixture, whatever paths and conftests a run picks up."""
    from brownie import accounts as brownie_accounts

    return brownie_accounts


@pytest.fixture(autouse=True)
def isolation(fn_isolation: Any) -> None:
    """Every test starts from the chain state left by the module-scoped fixtures."""


@pytest.fixture(scope="module")
def governors(accounts: Any) -> list[Any]:
    return list(accounts[0:3])


@pytest.fixture(scope="module")
def registry(ConsortiumRegistry: Any, governors: list[Any]) -> Any:
    """Registry bootstrapped with accounts[0..2] as governors and threshold 2."""
    names = [f"Governor {i + 1}" for i in range(len(governors))]
    return ConsortiumRegistry.deploy(governors, names, THRESHOLD, PROPOSAL_LIFETIME, {"from": governors[0]})


@pytest.fixture(scope="module")
def ledger(CreditLedger: Any, registry: Any, governors: list[Any]) -> Any:
    return CreditLedger.deploy(registry, {"from": governors[0]})


@pytest.fixture(scope="module")
def admitted_lender(registry: Any, governors: list[Any], accounts: Any) -> Any:
    """accounts[3], admitted by two governor votes (propose counts the proposer's approval, then one approval)."""
    lender = accounts[3]
    tx = registry.propose(ACTION_ADMIT, lender, ROLE_LENDER, 0, "Lender A", {"from": governors[0]})
    registry.approve(tx.return_value, {"from": governors[1]})
    assert registry.isActive(lender, ROLE_LENDER)
    return lender
