"""`chain.keyshares`, the Python side of KeyShareDirectory, and the deployment that carries its address."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract

from creditshare.chain import keyshares
from creditshare.chain.artifacts import KEYSHARES, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.governance import GovernanceError
from creditshare.chain.keyshares import LogAnchor, OnChainShareSet, ShareHolder
from creditshare.chain.rpc import contract_at
from creditshare.core.exceptions import ContractRevert
from tests.support import Consortium, events, expect_revert

FIXTURE_EPOCH = 4  # governance epoch of the `consortium` fixture


@pytest.fixture
def directory(consortium: Consortium) -> Contract:
    assert consortium.deployment.keyshares is not None
    return contract_at(consortium.w3, load_artifact(KEYSHARES), consortium.deployment.keyshares)


def sample(c: Consortium, version: int = 1, threshold: int = 2) -> OnChainShareSet:
    return OnChainShareSet.of(
        version,
        threshold,
        os.urandom(32),
        [
            (i + 1, os.urandom(32), a.address, f"https://holder-{i + 1}.example")
            for i, a in enumerate(c.accounts[11:14])
        ],
    )


def test_read_share_set_is_none_before_the_first_set(directory: Contract) -> None:
    assert keyshares.read_share_set(directory) is None


def test_publish_approves_until_current_and_read_returns_the_set(consortium: Consortium, directory: Contract) -> None:
    share_set = sample(consortium)
    receipt = keyshares.publish_share_set(directory, consortium.governor_txs(), share_set)
    assert keyshares.share_set_activated(receipt)
    approved = [e.args for e in events(receipt, "ShareSetApproved")]
    assert approved == [
        {
            "digest": keyshares.share_set_digest(share_set, FIXTURE_EPOCH),
            "version": 1,
            "governor": consortium.governors[1].address,
            "approvals": 2,
        }
    ]
    assert keyshares.read_share_set(directory) == share_set
    assert [keyshares.holder_index(directory, a.address) for a in consortium.accounts[10:14]] == [0, 1, 2, 3]


def test_publish_skips_governors_that_already_approved(consortium: Consortium, directory: Contract) -> None:
    g = consortium.governor_txs()
    share_set = sample(consortium)
    first = keyshares.approve_share_set(directory, g[0], share_set)
    assert not keyshares.share_set_activated(first)
    receipt = keyshares.publish_share_set(directory, [g[0], g[2]], share_set)
    assert [e.args["governor"] for e in events(receipt, "ShareSetApproved")] == [g[2].address]
    assert keyshares.read_share_set(directory) == share_set


def test_publish_with_too_few_governors_says_so(consortium: Consortium, directory: Contract) -> None:
    share_set = sample(consortium)
    with pytest.raises(GovernanceError, match="1 approval"):
        keyshares.publish_share_set(directory, consortium.governor_txs()[:1], share_set)
    assert keyshares.read_share_set(directory) is None


def test_reverts_surface_as_contract_revert_with_the_error_name(consortium: Consortium, directory: Contract) -> None:
    lender = consortium.tx(consortium.accounts[3])
    share_set = sample(consortium)
    expect_revert(lambda: keyshares.approve_share_set(directory, lender, share_set), "KeyShareNotGovernor")
    bad = OnChainShareSet(2, share_set.threshold, share_set.group_public_key, share_set.holders)
    err = expect_revert(
        lambda: keyshares.approve_share_set(directory, consortium.governor_txs()[0], bad),
        "KeyShareInvalidVersion",
        1,
        2,
    )
    assert isinstance(err, ContractRevert)
    holder = consortium.tx(consortium.accounts[11])
    expect_revert(lambda: keyshares.anchor(directory, holder, 1, os.urandom(32)), "KeyShareNotHolder", holder.address)


def test_anchor_and_last_anchor(consortium: Consortium, directory: Contract) -> None:
    keyshares.publish_share_set(directory, consortium.governor_txs(), sample(consortium))
    holder = consortium.tx(consortium.accounts[12])
    assert keyshares.last_anchor(directory, 2) is None
    head = os.urandom(32)
    receipt = keyshares.anchor(directory, holder, 42, head)
    at = int(consortium.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    assert keyshares.last_anchor(directory, 2) == LogAnchor(2, 42, head, at)
    expect_revert(
        lambda: keyshares.anchor(directory, holder, 41, os.urandom(32)), "KeyShareAnchorOutOfOrder", 2, 42, 41
    )
    with pytest.raises(ValueError, match="32 bytes"):
        keyshares.anchor(directory, holder, 43, b"\x01" * 31)


def test_share_set_normalises_holders() -> None:
    account = "0x" + "ab" * 20
    s = OnChainShareSet(1, 1, bytearray(b"\x01" * 32), ((1, bytearray(b"\x02" * 32), account, "u"),))  # type: ignore[arg-type]
    (holder,) = s.holders
    assert holder == ShareHolder(1, b"\x02" * 32, Web3.to_checksum_address(account), "u")
    assert tuple(holder) == (1, b"\x02" * 32, Web3.to_checksum_address(account), "u")
    assert isinstance(s.group_public_key, bytes)
    assert OnChainShareSet.of(1, 1, b"\x01" * 32, [(1, b"\x02" * 32, account, "u")]) == s
    short = OnChainShareSet.of(1, 1, b"\x01" * 31, [(1, b"\x02" * 32, account, "u")])
    with pytest.raises(ValueError, match="group public key"):
        keyshares.share_set_digest(short, 1)


def test_deploy_records_the_directory_and_old_deployment_files_still_load(
    consortium: Consortium, tmp_path: Path
) -> None:
    d = consortium.deployment
    assert d.keyshares is not None and consortium.w3.eth.get_code(Web3.to_checksum_address(d.keyshares))
    path = tmp_path / "deployment.json"
    d.save(path)
    assert json.loads(path.read_text())["keyshares"] == d.keyshares
    assert Deployment.load(path) == d
    d.check(consortium.w3)

    old = {k: v for k, v in json.loads(path.read_text()).items() if k != "keyshares"}
    path.write_text(json.dumps(old))
    loaded = Deployment.load(path)
    assert loaded.keyshares is None
    assert (loaded.registry, loaded.ledger) == (d.registry, d.ledger)
    loaded.check(consortium.w3)
