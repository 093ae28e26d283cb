"""The operator scripts' argument parsing (`creditshare.brownie_support`), under `brownie test` because the module
imports Brownie. The scripts themselves run in `make brownie-test` (`brownie run scripts/... --network ganache-cli`).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from creditshare.chain.governance import ZERO_ADDRESS, Action, ProposalRequest, Role
from creditshare.chain.rpc import make_web3
from creditshare.core.exceptions import ConfigError
from creditshare.devtools.brownie_support import dev_signers, governors_from_args, proposal_from_args

LENDER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


@pytest.fixture(autouse=True)
def isolation() -> None:
    """Replaces conftest's `fn_isolation`: nothing here writes to the chain, and each snapshot costs ~0.3 s."""


def test_proposal_from_args_admit_takes_address_role_and_name() -> None:
    parsed = proposal_from_args("admit", LENDER.lower(), "Lender", "Jinhe Microcredit")
    assert parsed == ProposalRequest(Action.ADMIT, LENDER, Role.LENDER, 0, "Jinhe Microcredit")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("change-role", LENDER, "auditor"), ProposalRequest(Action.CHANGE_ROLE, LENDER, Role.AUDITOR)),
        (("suspend", LENDER), ProposalRequest(Action.SUSPEND, LENDER)),
        (("REINSTATE", LENDER), ProposalRequest(Action.REINSTATE, LENDER)),
        (("remove", LENDER), ProposalRequest(Action.REMOVE, LENDER)),
        (("set_threshold", "3"), ProposalRequest(Action.SET_THRESHOLD, ZERO_ADDRESS, Role.NONE, 3)),
        (("pause",), ProposalRequest(Action.PAUSE)),
        (("unpause",), ProposalRequest(Action.UNPAUSE)),
    ],
)
def test_proposal_from_args_each_action(args: tuple[str, ...], expected: ProposalRequest) -> None:
    assert proposal_from_args(*args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bogus",), "unknown action 'bogus'"),
        (("none",), "unknown action 'none'"),
        (("admit", LENDER, "lender"), "admit takes ADDRESS ROLE NAME; got 2 argument(s)"),
        (("pause", LENDER), "pause takes no arguments; got 1 argument(s)"),
        (("suspend", "0x1234"), "'0x1234' is not an address"),
        (("admit", LENDER, "none", "X"), "unknown role 'none'"),
        (("set_threshold", "two"), "the threshold is a number of approvals (1 or more), not 'two'"),
    ],
)
def test_proposal_from_args_rejects_bad_arguments(args: tuple[str, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        proposal_from_args(*args)


def test_governors_from_args_names_default_to_their_position() -> None:
    addresses, names = governors_from_args((f"{LENDER.lower()}=Bank A", ZERO_ADDRESS))
    assert addresses == [LENDER, ZERO_ADDRESS]
    assert names == ["Bank A", "Governor 2"]


def test_governors_from_args_rejects_a_non_address() -> None:
    with pytest.raises(ConfigError, match="governor 'bank=Bank A'"):
        governors_from_args(("bank=Bank A",))


def test_dev_signers_are_brownie_accounts_of_the_dev_network(accounts: Any) -> None:
    from brownie import web3

    signers = dev_signers(make_web3(web3.provider.endpoint_uri), 10)
    assert [s.address for s in signers] == [a.address for a in accounts[:10]]
