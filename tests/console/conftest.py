"""Console fixtures: lender A's running gateway with its console (one per test package run) and a headless
Chromium per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.devtools.devchain import DevChain
from tests.support.browser import Browser
from tests.support.console import ConsoleSite, console_site


@pytest.fixture(scope="package")
def site(
    w3: Web3, accounts: list[LocalAccount], devchain: DevChain, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleSite]:
    """Lender A's gateway with its console, a three-lender consortium and a multi-lending borrower."""
    with console_site(w3, accounts, devchain, tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium with a fresh profile for the module's tests (Debian's, through Debian's chromedriver)."""
    started = Browser()
    yield started
    started.quit()
