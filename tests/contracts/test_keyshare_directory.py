"""KeyShareDirectory: share sets published by the registry's governors at its threshold, bound to its governance
epoch; every validation with its custom error; holders anchoring their evaluation-log heads.

The `consortium` fixture has governors accounts[0..2] (threshold 2) and lenders accounts[3..4]; its governance epoch
is 4. `deploy_consortium` deployed the directory bound to that registry. Holders here are accounts[11..16].
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain.artifacts import KEYSHARES, load_artifact
from creditshare.chain.governance import ZERO_ADDRESS, Action, Role
from creditshare.chain.keyshares import OnChainShareSet, share_set_digest
from creditshare.chain.rpc import contract_at
from tests.support import Consortium, events, expect_revert

FIXTURE_EPOCH = 4
MAX_HOLDERS = 16
MAX_URL_LENGTH = 200

Row = tuple[int, bytes, str, str]


@dataclass(frozen=True)
class SetArgs:
    """The arguments of `approveShareSet`."""

    version: int
    threshold: int
    group_key: bytes
    holders: list[Row] = field(default_factory=list)

    def call(self, directory: Contract) -> Any:
        return directory.functions.approveShareSet(self.version, self.threshold, self.group_key, self.holders)

    def digest(self, epoch: int = FIXTURE_EPOCH) -> bytes:
        return share_set_digest(OnChainShareSet.of(self.version, self.threshold, self.group_key, self.holders), epoch)


def key() -> bytes:
    return os.urandom(32)


def holder_accounts(c: Consortium, n: int = 3) -> list[LocalAccount]:
    return c.accounts[11 : 11 + n]


def share_set(c: Consortium, version: int = 1, threshold: int = 2, n: int = 3, first_index: int = 1) -> SetArgs:
    """A valid share set: holders accounts[11..] with indexes first_index, first_index + 1, …"""
    rows = [
        (first_index + i, key(), a.address, f"https://holder-{first_index + i}.example:8443")
        for i, a in enumerate(holder_accounts(c, n))
    ]
    return SetArgs(version, threshold, key(), rows)


@pytest.fixture
def directory(consortium: Consortium) -> Contract:
    assert consortium.deployment.keyshares is not None
    return contract_at(consortium.w3, load_artifact(KEYSHARES), consortium.deployment.keyshares)


def approve(c: Consortium, directory: Contract, who: LocalAccount, args: SetArgs) -> TxReceipt:
    return c.tx(who).transact(args.call(directory))


def publish(c: Consortium, directory: Contract, args: SetArgs) -> TxReceipt:
    """Approve with governors 0, 1, … until the set is current; returns the activating receipt."""
    for governor in c.governors:
        receipt = approve(c, directory, governor, args)
        if events(receipt, "ShareSetActivated"):
            return receipt
    raise AssertionError("share set never activated")


def anchor_tx(c: Consortium, directory: Contract, who: LocalAccount, seq: int, head: bytes) -> TxReceipt:
    return c.tx(who).transact(directory.functions.anchor(seq, head))


def names_of(receipt: TxReceipt) -> list[str]:
    return [e.name for e in events(receipt)]


def only(receipt: TxReceipt, name: str, directory: Contract) -> dict[str, Any]:
    found = events(receipt, name)
    assert len(found) == 1, f"expected one {name}, got {names_of(receipt)}"
    assert found[0].address == directory.address
    return found[0].args


def current(directory: Contract) -> tuple[int, int, bytes, list[Row]]:
    f = directory.functions
    holders = [tuple(h) for h in f.holders().call()]
    return f.currentVersion().call(), f.threshold().call(), f.groupPublicKey().call(), holders


def block_time(w3: Web3, receipt: TxReceipt) -> int:
    return int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])


# ---------------------------------------------------------------------------------------------------- deployment


def test_deploy_consortium_deploys_an_empty_directory_bound_to_the_registry(
    consortium: Consortium, directory: Contract
) -> None:
    assert consortium.w3.eth.get_code(directory.address)
    f = directory.functions
    assert f.registry().call() == consortium.registry.address
    assert current(directory) == (0, 0, bytes(32), [])
    assert f.holderIndexOf(consortium.accounts[11].address).call() == 0
    assert f.lastAnchor(1).call() == [0, bytes(32), 0]
    assert (f.MAX_HOLDERS().call(), f.MAX_URL_LENGTH().call()) == (MAX_HOLDERS, MAX_URL_LENGTH)


# ---------------------------------------------------------------------------------------------------- approval


def test_share_set_becomes_current_only_at_threshold_approvals(consortium: Consortium, directory: Contract) -> None:
    g, f = consortium.governors, directory.functions
    args = share_set(consortium)
    digest = args.digest()

    first = approve(consortium, directory, g[0], args)
    assert names_of(first) == ["ShareSetApproved"]
    assert only(first, "ShareSetApproved", directory) == {
        "digest": digest,
        "version": 1,
        "governor": g[0].address,
        "approvals": 1,
    }
    assert f.approvals(digest).call() == 1
    assert [f.hasApproved(digest, a.address).call() for a in g] == [True, False, False]
    assert current(directory) == (0, 0, bytes(32), [])
    assert f.holderIndexOf(args.holders[0][2]).call() == 0

    second = approve(consortium, directory, g[2], args)
    assert names_of(second) == ["ShareSetApproved", "ShareSetActivated"]
    assert only(second, "ShareSetApproved", directory) == {
        "digest": digest,
        "version": 1,
        "governor": g[2].address,
        "approvals": 2,
    }
    assert only(second, "ShareSetActivated", directory) == {
        "version": 1,
        "threshold": 2,
        "groupPublicKey": args.group_key,
        "digest": digest,
    }
    assert current(directory) == (1, 2, args.group_key, args.holders)
    assert [f.holderIndexOf(row[2]).call() for row in args.holders] == [1, 2, 3]
    assert f.holderIndexOf(g[0].address).call() == 0
    assert f.approvals(digest).call() == 2


def test_threshold_three_activates_on_third_approval(w3: Web3, accounts: list[LocalAccount]) -> None:
    c = Consortium.deploy(w3, accounts, governors=accounts[5:9], threshold=3)
    assert c.deployment.keyshares is not None
    directory = contract_at(w3, load_artifact(KEYSHARES), c.deployment.keyshares)
    args = share_set(c, threshold=3, n=4)
    assert names_of(approve(c, directory, accounts[5], args)) == ["ShareSetApproved"]
    assert names_of(approve(c, directory, accounts[7], args)) == ["ShareSetApproved"]
    assert directory.functions.currentVersion().call() == 0
    third = approve(c, directory, accounts[8], args)
    assert names_of(third) == ["ShareSetApproved", "ShareSetActivated"]
    assert only(third, "ShareSetApproved", directory)["approvals"] == 3
    assert current(directory) == (1, 3, args.group_key, args.holders)


def test_threshold_one_activates_on_first_approval(w3: Web3, accounts: list[LocalAccount]) -> None:
    c = Consortium.deploy(w3, accounts, governors=accounts[5:6], threshold=1)
    assert c.deployment.keyshares is not None
    directory = contract_at(w3, load_artifact(KEYSHARES), c.deployment.keyshares)
    args = share_set(c, threshold=1, n=1)
    assert names_of(approve(c, directory, accounts[5], args)) == ["ShareSetApproved", "ShareSetActivated"]
    assert current(directory) == (1, 1, args.group_key, args.holders)


def test_second_approval_by_the_same_governor_reverts(consortium: Consortium, directory: Contract) -> None:
    g = consortium.governors
    args = share_set(consortium)
    approve(consortium, directory, g[0], args)
    expect_revert(
        lambda: approve(consortium, directory, g[0], args), "KeyShareAlreadyApproved", args.digest(), g[0].address
    )
    assert directory.functions.approvals(args.digest()).call() == 1
    assert directory.functions.currentVersion().call() == 0


def test_approvals_of_different_sets_do_not_add_up(consortium: Consortium, directory: Contract) -> None:
    """Governors approve exactly the same set: one differing byte is another digest."""
    g = consortium.governors
    args = share_set(consortium)
    other = replace(args, holders=[*args.holders[:2], (3, args.holders[2][1], args.holders[2][2], "https://x.example")])
    approve(consortium, directory, g[0], args)
    assert names_of(approve(consortium, directory, g[1], other)) == ["ShareSetApproved"]
    assert directory.functions.currentVersion().call() == 0
    assert names_of(approve(consortium, directory, g[2], other)) == ["ShareSetApproved", "ShareSetActivated"]
    assert current(directory)[3] == other.holders
    # The losing set of the same version can no longer be approved.
    expect_revert(lambda: approve(consortium, directory, g[1], args), "KeyShareInvalidVersion", 2, 1)


def _non_member(c: Consortium) -> LocalAccount:
    return c.accounts[10]


def _lender(c: Consortium) -> LocalAccount:
    return c.accounts[3]


def _holder(c: Consortium) -> LocalAccount:
    return c.accounts[11]


def _auditor(c: Consortium) -> LocalAccount:
    c.enact(Action.ADMIT, c.accounts[5].address, Role.AUDITOR, name="Auditor")
    return c.accounts[5]


def _suspended_governor(c: Consortium) -> LocalAccount:
    c.enact(Action.SUSPEND, c.accounts[2].address)
    return c.accounts[2]


def _removed_governor(c: Consortium) -> LocalAccount:
    c.enact(Action.REMOVE, c.accounts[2].address)
    return c.accounts[2]


NOT_GOVERNORS: dict[str, Callable[[Consortium], LocalAccount]] = {
    "non_member": _non_member,
    "lender": _lender,
    "holder": _holder,
    "auditor": _auditor,
    "suspended_governor": _suspended_governor,
    "removed_governor": _removed_governor,
}


@pytest.mark.parametrize("make", NOT_GOVERNORS.values(), ids=list(NOT_GOVERNORS))
def test_approve_by_non_governor_reverts_not_governor(
    consortium: Consortium, directory: Contract, make: Callable[[Consortium], LocalAccount]
) -> None:
    caller = make(consortium)
    args = share_set(consortium)
    expect_revert(lambda: approve(consortium, directory, caller, args), "KeyShareNotGovernor", caller.address)
    # Checked before the arguments: an invalid set from a non-governor is refused as such.
    expect_revert(
        lambda: approve(consortium, directory, caller, replace(args, version=9)), "KeyShareNotGovernor", caller.address
    )
    assert directory.functions.approvals(args.digest(directory_epoch(consortium))).call() == 0


def directory_epoch(c: Consortium) -> int:
    return int(c.registry.functions.governanceEpoch().call())


# ---------------------------------------------------------------------------------------------------- validation


def _set(**changes: Any) -> Callable[[SetArgs], SetArgs]:
    return lambda a: replace(a, **changes)


def _holder_field(position: int, column: int, value: Any) -> Callable[[SetArgs], SetArgs]:
    def change(a: SetArgs) -> SetArgs:
        rows = [list(r) for r in a.holders]
        rows[position][column] = value
        return replace(a, holders=[tuple(r) for r in rows])

    return change


def _many_holders(n: int) -> Callable[[SetArgs], SetArgs]:
    def change(a: SetArgs) -> SetArgs:
        rows = [(i + 1, key(), Web3.to_checksum_address(os.urandom(20)), f"https://h{i + 1}.example") for i in range(n)]
        return replace(a, holders=rows)

    return change


@dataclass(frozen=True)
class BadSet:
    change: Callable[[SetArgs], SetArgs]
    error: str
    args: Callable[[SetArgs], tuple[Any, ...]] = lambda a: ()


BAD_SETS: dict[str, BadSet] = {
    "version_zero": BadSet(_set(version=0), "KeyShareInvalidVersion", lambda a: (1, 0)),
    "version_skips": BadSet(_set(version=2), "KeyShareInvalidVersion", lambda a: (1, 2)),
    "no_holders": BadSet(_set(holders=[]), "KeyShareInvalidHolderCount", lambda a: (0, MAX_HOLDERS)),
    "17_holders": BadSet(_many_holders(17), "KeyShareInvalidHolderCount", lambda a: (17, MAX_HOLDERS)),
    "threshold_zero": BadSet(_set(threshold=0), "KeyShareInvalidThreshold", lambda a: (0, 3)),
    "threshold_above_n": BadSet(_set(threshold=4), "KeyShareInvalidThreshold", lambda a: (4, 3)),
    "zero_group_key": BadSet(_set(group_key=bytes(32)), "KeyShareZeroGroupKey"),
    "index_zero": BadSet(_holder_field(0, 0, 0), "KeyShareInvalidIndex", lambda a: (0, 0)),
    "index_repeated": BadSet(_holder_field(1, 0, 1), "KeyShareInvalidIndex", lambda a: (1, 1)),
    "index_decreasing": BadSet(_holder_field(2, 0, 1), "KeyShareInvalidIndex", lambda a: (2, 1)),
    "zero_public_key": BadSet(_holder_field(1, 1, bytes(32)), "KeyShareZeroPublicKey", lambda a: (1,)),
    "zero_account": BadSet(_holder_field(2, 2, ZERO_ADDRESS), "KeyShareZeroAccount", lambda a: (2,)),
    "duplicate_account": BadSet(
        lambda a: _holder_field(2, 2, a.holders[0][2])(a), "KeyShareDuplicateAccount", lambda a: (2, a.holders[0][2])
    ),
    "empty_url": BadSet(_holder_field(1, 3, ""), "KeyShareInvalidUrl", lambda a: (1, 0)),
    "url_201_bytes": BadSet(_holder_field(1, 3, "h" * 201), "KeyShareInvalidUrl", lambda a: (1, 201)),
    "url_202_utf8_bytes": BadSet(_holder_field(0, 3, "é" * 101), "KeyShareInvalidUrl", lambda a: (0, 202)),
}


@pytest.mark.parametrize("case", BAD_SETS.values(), ids=list(BAD_SETS))
def test_invalid_share_set_reverts_with_its_error(consortium: Consortium, directory: Contract, case: BadSet) -> None:
    bad = case.change(share_set(consortium))
    nonce = consortium.w3.eth.get_transaction_count(consortium.accounts[0].address)
    expect_revert(lambda: approve(consortium, directory, consortium.accounts[0], bad), case.error, *case.args(bad))
    assert consortium.w3.eth.get_transaction_count(consortium.accounts[0].address) == nonce
    assert current(directory) == (0, 0, bytes(32), [])


def test_checks_run_in_the_stated_order(consortium: Consortium, directory: Contract) -> None:
    """Version, holder count, threshold, group key, then holder by holder: index, public key, account, URL."""
    a, gov = share_set(consortium), consortium.accounts[0]
    worst = replace(a, version=5, threshold=0, group_key=bytes(32), holders=[(0, bytes(32), ZERO_ADDRESS, "")])
    steps = [
        ("KeyShareInvalidVersion", _set(version=1)),
        ("KeyShareInvalidThreshold", _set(threshold=1)),
        ("KeyShareZeroGroupKey", _set(group_key=key())),
        ("KeyShareInvalidIndex", _holder_field(0, 0, 1)),
        ("KeyShareZeroPublicKey", _holder_field(0, 1, key())),
        ("KeyShareZeroAccount", _holder_field(0, 2, consortium.accounts[11].address)),
        ("KeyShareInvalidUrl", _holder_field(0, 3, "https://h.example")),
    ]
    for error, fix in steps:
        expect_revert(lambda w=worst: approve(consortium, directory, gov, w), error)
        worst = fix(worst)
    assert names_of(approve(consortium, directory, gov, worst)) == ["ShareSetApproved"]


@pytest.mark.parametrize("n", [1, MAX_HOLDERS])
def test_holder_count_bounds_are_accepted(consortium: Consortium, directory: Contract, n: int) -> None:
    args = _many_holders(n)(replace(share_set(consortium), threshold=1))
    publish(consortium, directory, args)
    assert current(directory) == (1, 1, args.group_key, args.holders)


def test_url_of_200_bytes_and_sparse_indexes_are_accepted(consortium: Consortium, directory: Contract) -> None:
    args = share_set(consortium)
    args = replace(args, holders=[(2, *args.holders[0][1:3], "u" * 200), (7, *args.holders[1][1:]), args.holders[2]])
    args = _holder_field(2, 0, 65535)(args)
    publish(consortium, directory, args)
    assert [h[0] for h in current(directory)[3]] == [2, 7, 65535]
    assert current(directory)[3][0][3] == "u" * 200


# ---------------------------------------------------------------------------------------------------- versions


def test_version_must_be_current_plus_one_and_new_set_replaces_old(consortium: Consortium, directory: Contract) -> None:
    g, f, acc = consortium.governors, directory.functions, consortium.accounts
    v1 = share_set(consortium)
    publish(consortium, directory, v1)

    for version in (0, 1, 3):
        expect_revert(
            lambda v=version: approve(consortium, directory, g[0], replace(v1, version=v)),
            "KeyShareInvalidVersion",
            2,
            version,
        )

    # v2: fewer holders (holder 1 leaves, holder 2 keeps its index with a refreshed key, a newcomer takes index 4).
    v2 = SetArgs(2, 2, key(), [(2, key(), acc[12].address, "https://two.example"), (4, key(), acc[15].address, "u")])
    receipt = publish(consortium, directory, v2)
    assert only(receipt, "ShareSetActivated", directory)["version"] == 2
    assert current(directory) == (2, 2, v2.group_key, v2.holders)
    assert [f.holderIndexOf(a.address).call() for a in acc[11:16]] == [0, 2, 0, 0, 4]

    # v3: more holders than v2 again (the stored list grows back).
    v3 = share_set(consortium, version=3, threshold=3, n=5, first_index=5)
    publish(consortium, directory, v3)
    assert current(directory) == (3, 3, v3.group_key, v3.holders)
    assert [f.holderIndexOf(a.address).call() for a in acc[11:16]] == [5, 6, 7, 8, 9]


# ---------------------------------------------------------------------------------------------------- governance epoch


def _admit_governor(c: Consortium) -> None:
    c.enact(Action.ADMIT, c.accounts[6].address, Role.GOVERNOR, name="Gov 4")


def _suspend_governor(c: Consortium) -> None:
    c.enact(Action.SUSPEND, c.accounts[2].address)


def _demote_governor(c: Consortium) -> None:
    c.enact(Action.CHANGE_ROLE, c.accounts[2].address, Role.AUDITOR)


def _raise_threshold(c: Consortium) -> None:
    c.enact(Action.SET_THRESHOLD, value=3)


def _lower_threshold(c: Consortium) -> None:
    c.enact(Action.SET_THRESHOLD, value=1)


GOVERNANCE_CHANGES: dict[str, Callable[[Consortium], None]] = {
    "admit_governor": _admit_governor,
    "suspend_governor": _suspend_governor,
    "demote_governor": _demote_governor,
    "raise_threshold": _raise_threshold,
    "lower_threshold": _lower_threshold,
}


@pytest.mark.parametrize("change", GOVERNANCE_CHANGES.values(), ids=list(GOVERNANCE_CHANGES))
def test_approvals_before_a_governance_change_do_not_count_after_it(
    consortium: Consortium, directory: Contract, change: Callable[[Consortium], None]
) -> None:
    g, f, reg = consortium.governors, directory.functions, consortium.registry
    args = share_set(consortium)
    old = args.digest(FIXTURE_EPOCH)
    approve(consortium, directory, g[0], args)
    assert f.approvals(old).call() == 1

    change(consortium)
    epoch = reg.functions.governanceEpoch().call()
    assert epoch == FIXTURE_EPOCH + 1
    new = args.digest(epoch)
    assert new != old

    # g[1]'s approval counts towards the new digest only: g[0]'s old one is not added, whatever the threshold.
    needed = reg.functions.threshold().call()
    candidates = [g[1], g[0], g[2], consortium.accounts[6]]  # g[1] first
    approvers = [a for a in candidates if reg.functions.isActive(a.address, Role.GOVERNOR).call()]
    for count, governor in enumerate(approvers[:needed], start=1):
        receipt = approve(consortium, directory, governor, args)
        assert only(receipt, "ShareSetApproved", directory) == {
            "digest": new,
            "version": 1,
            "governor": governor.address,
            "approvals": count,
        }
        assert ("ShareSetActivated" in names_of(receipt)) is (count == needed)
    assert f.currentVersion().call() == 1
    assert (f.approvals(old).call(), f.approvals(new).call()) == (1, needed)


def test_approval_before_a_change_is_not_reused_by_the_same_governor(
    consortium: Consortium, directory: Contract
) -> None:
    """After the epoch moves on, a governor who approved before may (and must) approve again."""
    g = consortium.governors
    args = share_set(consortium)
    approve(consortium, directory, g[0], args)
    _admit_governor(consortium)
    assert only(approve(consortium, directory, g[0], args), "ShareSetApproved", directory)["approvals"] == 1
    assert "ShareSetActivated" in names_of(approve(consortium, directory, g[1], args))


def test_approvals_survive_changes_that_keep_the_epoch(consortium: Consortium, directory: Contract) -> None:
    g = consortium.governors
    args = share_set(consortium)
    approve(consortium, directory, g[0], args)
    consortium.enact(Action.ADMIT, consortium.accounts[5].address, Role.LENDER, name="Lender C")
    consortium.enact(Action.PAUSE)
    assert consortium.registry.functions.governanceEpoch().call() == FIXTURE_EPOCH
    assert "ShareSetActivated" in names_of(approve(consortium, directory, g[1], args))


# ---------------------------------------------------------------------------------------------------- anchors


def test_anchor_stores_and_emits_the_head(consortium: Consortium, directory: Contract) -> None:
    args = share_set(consortium)
    publish(consortium, directory, args)
    holder = consortium.accounts[12]  # index 2
    head = key()
    receipt = anchor_tx(consortium, directory, holder, 7, head)
    assert names_of(receipt) == ["LogAnchored"]
    assert only(receipt, "LogAnchored", directory) == {"index": 2, "account": holder.address, "seq": 7, "head": head}
    assert directory.functions.lastAnchor(2).call() == [7, head, block_time(consortium.w3, receipt)]
    assert directory.functions.lastAnchor(1).call() == [0, bytes(32), 0]

    head2 = key()
    later = anchor_tx(consortium, directory, holder, 8, head2)
    assert directory.functions.lastAnchor(2).call() == [8, head2, block_time(consortium.w3, later)]


def _not_holders(c: Consortium) -> list[LocalAccount]:
    return [c.accounts[0], c.accounts[3], c.accounts[10], c.accounts[14]]


def test_anchor_by_non_holder_reverts(consortium: Consortium, directory: Contract) -> None:
    holder = consortium.accounts[11]
    # Before any share set, nobody is a holder.
    expect_revert(lambda: anchor_tx(consortium, directory, holder, 1, key()), "KeyShareNotHolder", holder.address)
    publish(consortium, directory, share_set(consortium))
    for caller in _not_holders(consortium):
        expect_revert(
            lambda c=caller: anchor_tx(consortium, directory, c, 1, key()), "KeyShareNotHolder", caller.address
        )


def test_anchor_seq_must_increase_and_head_be_nonzero(consortium: Consortium, directory: Contract) -> None:
    publish(consortium, directory, share_set(consortium))
    holder = consortium.accounts[13]  # index 3
    expect_revert(lambda: anchor_tx(consortium, directory, holder, 0, key()), "KeyShareAnchorOutOfOrder", 3, 0, 0)
    expect_revert(lambda: anchor_tx(consortium, directory, holder, 1, bytes(32)), "KeyShareZeroHead")
    head = key()
    anchor_tx(consortium, directory, holder, 5, head)
    expect_revert(lambda: anchor_tx(consortium, directory, holder, 5, key()), "KeyShareAnchorOutOfOrder", 3, 5, 5)
    expect_revert(lambda: anchor_tx(consortium, directory, holder, 4, key()), "KeyShareAnchorOutOfOrder", 3, 5, 4)
    assert directory.functions.lastAnchor(3).call()[:2] == [5, head]
    # Another holder's log is its own.
    anchor_tx(consortium, directory, consortium.accounts[11], 1, key())
    assert directory.functions.lastAnchor(1).call()[0] == 1


def test_anchors_follow_the_index_across_versions(consortium: Consortium, directory: Contract) -> None:
    acc = consortium.accounts
    publish(consortium, directory, share_set(consortium))
    anchor_tx(consortium, directory, acc[12], 10, key())
    anchor_tx(consortium, directory, acc[11], 3, key())
    # v2 refreshes holder 2's share (same index) and drops holder 1.
    publish(consortium, directory, SetArgs(2, 1, key(), [(2, key(), acc[12].address, "https://two.example")]))
    expect_revert(lambda: anchor_tx(consortium, directory, acc[12], 10, key()), "KeyShareAnchorOutOfOrder", 2, 10, 10)
    anchor_tx(consortium, directory, acc[12], 11, key())
    expect_revert(lambda: anchor_tx(consortium, directory, acc[11], 4, key()), "KeyShareNotHolder", acc[11].address)
    assert directory.functions.lastAnchor(1).call()[0] == 3  # kept, but no longer current


# ---------------------------------------------------------------------------------------------------- gas


def test_gas_of_approval_activation_and_anchor(consortium: Consortium, directory: Contract) -> None:
    """Bounded storage writes, 3 holders: the figures in docs/contracts.md, with a margin."""
    g = consortium.governors
    args = share_set(consortium)
    approval = approve(consortium, directory, g[0], args)
    activation = approve(consortium, directory, g[1], args)
    anchor_first = anchor_tx(consortium, directory, consortium.accounts[11], 1, key())
    anchor_next = anchor_tx(consortium, directory, consortium.accounts[11], 2, key())
    refresh = share_set(consortium, version=2)  # same holders and indexes, new keys: slots overwritten in place
    approve(consortium, directory, g[0], refresh)
    refresh_activation = approve(consortium, directory, g[1], refresh)
    gas = {
        "approve": approval["gasUsed"],
        "approve_activating": activation["gasUsed"],
        "approve_activating_refresh": refresh_activation["gasUsed"],
        "anchor_first": anchor_first["gasUsed"],
        "anchor_next": anchor_next["gasUsed"],
    }
    print(gas)
    assert gas["approve"] < 100_000, gas
    assert gas["approve_activating"] < 450_000, gas
    assert gas["approve_activating_refresh"] < 200_000, gas
    assert gas["anchor_first"] < 80_000 and gas["anchor_next"] < 45_000, gas


def test_share_set_digest_matches_the_contract(consortium: Consortium, directory: Contract) -> None:
    args = share_set(consortium)
    receipt = approve(consortium, directory, consortium.accounts[1], args)
    expected = keccak(
        consortium.w3.codec.encode(
            ["uint64", "uint16", "bytes32", "(uint16,bytes32,address,string)[]", "uint64"],
            [1, 2, args.group_key, args.holders, FIXTURE_EPOCH],
        )
    )
    assert only(receipt, "ShareSetApproved", directory)["digest"] == expected == args.digest()
