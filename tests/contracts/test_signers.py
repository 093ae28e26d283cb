"""Delegate signers against a real chain (Ganache and anvil): enlisting with the signer's consent, lanes and their
sequence numbers, records that count as the lender's, and every way a hostile member or caller could misuse them."""

from __future__ import annotations

from collections.abc import Callable

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.chain import signers
from creditshare.chain.governance import Action, Role
from creditshare.chain.signers import LANE_SHIFT, MAX_LANES, lane_start
from creditshare.domain import codec
from tests.support import Consortium, credit_item, events, expect_revert
from tests.support.engines import on_every_engine

pytestmark = on_every_engine


def fresh_signer(c: Consortium) -> LocalAccount:
    """A new key with gas money (sent by a governor, who has nothing else to do with it)."""
    account: LocalAccount = Account.create()
    c.tx(c.governors[0]).pay(account.address, Web3.to_wei(1, "ether"))
    return account


def enlist(c: Consortium, lender: LocalAccount, lane: int) -> LocalAccount:
    signer = fresh_signer(c)
    signers.add_signer(c.registry, c.tx(lender), signer, lane)
    return signer


def add_as(c: Consortium, sender: LocalAccount, signer: LocalAccount, lane: int) -> Callable[[], object]:
    """A deferred `addSigner` from `sender` with `signer`'s consent, for `expect_revert`."""
    return lambda: signers.add_signer(c.registry, c.tx(sender), signer, lane)


def remove_as(c: Consortium, sender: LocalAccount, signer: LocalAccount) -> Callable[[], object]:
    return lambda: signers.remove_signer(c.registry, c.tx(sender), signer.address)


def record_as(c: Consortium, sender: LocalAccount, seq: int, count: int = 2) -> Callable[[], object]:
    items = [credit_item() for _ in range(count)]
    return lambda: c.tx(sender).transact(c.ledger.functions.recordBatch(seq, codec.encode_items(items)))


def lane_next(c: Consortium, lender: LocalAccount, lane: int) -> int:
    return int(c.ledger.functions.nextSequenceInLane(lender.address, lane).call())


def test_signer_records_for_its_lender_in_its_own_lane(consortium: Consortium, lender_a: LocalAccount) -> None:
    signer = enlist(consortium, lender_a, 3)
    assert signers.signer_record(consortium.registry, signer.address) == signers.SignerRecord(
        signer.address, lender_a.address, 3, True
    )
    assert consortium.registry.functions.recorderOf(signer.address).call() == [lender_a.address, 3]
    assert consortium.registry.functions.recorderOf(lender_a.address).call() == [lender_a.address, 0]
    assert lane_next(consortium, lender_a, 3) == 3 << LANE_SHIFT

    receipt = record_as(consortium, signer, lane_start(3))()
    items = events(receipt, "CreditEventRecorded")
    assert [e.args["lender"] for e in items] == [lender_a.address] * 2  # the lender's records, not the signer's
    (batch,) = events(receipt, "BatchRecorded")
    assert (batch.args["lender"], batch.args["seq"]) == (lender_a.address, lane_start(3))
    # The lanes advance independently: lane 3 moved, lane 0 did not, and the lender's own key still starts at 0.
    assert lane_next(consortium, lender_a, 3) == lane_start(3) + 1
    assert consortium.ledger.functions.nextSequence(lender_a.address).call() == 0
    record_as(consortium, lender_a, 0)()
    record_as(consortium, signer, lane_start(3) + 1)()
    assert (lane_next(consortium, lender_a, 0), lane_next(consortium, lender_a, 3)) == (1, lane_start(3) + 2)


def test_sequence_of_another_lane_or_replay_reverts(consortium: Consortium, lender_a: LocalAccount) -> None:
    signer = enlist(consortium, lender_a, 1)
    expect_revert(record_as(consortium, signer, 0), "LedgerBatchOutOfOrder", lane_start(1), 0)
    expect_revert(record_as(consortium, lender_a, lane_start(1)), "LedgerBatchOutOfOrder", 0, lane_start(1))
    record_as(consortium, signer, lane_start(1))()
    expect_revert(
        record_as(consortium, signer, lane_start(1)), "LedgerBatchOutOfOrder", lane_start(1) + 1, lane_start(1)
    )


def test_signer_corrects_the_lenders_record(consortium: Consortium, lender_a: LocalAccount) -> None:
    original = credit_item()
    consortium.record(lender_a, [original], seq=0)
    signer = enlist(consortium, lender_a, 2)
    replacement = credit_item()
    ref = (lender_a.address, 0, 0, [original[2]])
    fn = consortium.ledger.functions.correctRecord(lane_start(2), ref, codec.encode_items([replacement]))
    (corrected,) = events(consortium.tx(signer).transact(fn), "CreditEventCorrected")
    assert corrected.args["lender"] == lender_a.address and corrected.args["originalRecordHash"] == original[2]


def test_consent_binds_lender_and_lane(consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount) -> None:
    """A front-runner copying lender A's pending addSigner cannot take the key: the consent names A and the lane."""
    signer = fresh_signer(consortium)
    proof = signers.consent(consortium.registry, lender_a.address, signer, 1)
    add = consortium.registry.functions.addSigner
    expect_revert(lambda: consortium.tx(lender_b).transact(add(signer.address, 1, proof)), "RegistryInvalidSignerProof")
    expect_revert(lambda: consortium.tx(lender_a).transact(add(signer.address, 2, proof)), "RegistryInvalidSignerProof")
    forged = Account.create()  # a key that is not the signer's signs the consent
    bad = signers.consent(consortium.registry, lender_a.address, forged, 1)
    expect_revert(lambda: consortium.tx(lender_a).transact(add(signer.address, 1, bad)), "RegistryInvalidSignerProof")
    expect_revert(
        lambda: consortium.tx(lender_a).transact(add(signer.address, 1, proof[:64])), "RegistryInvalidSignerProof"
    )
    consortium.tx(lender_a).transact(add(signer.address, 1, proof))
    assert consortium.registry.functions.laneSigner(lender_a.address, 1).call() == signer.address


def test_who_may_enlist_which_address_in_which_lane(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    governor = consortium.governors[0]
    taken = enlist(consortium, lender_a, 1)
    # Not a lender: a governor cannot enlist signers.
    stranger = fresh_signer(consortium)
    expect_revert(add_as(consortium, governor, stranger, 1), "RegistryNotActiveLender", governor.address)
    # A member, or a key already enlisted (by anyone), is unavailable.
    for unavailable in (lender_b, governor, taken):
        expect_revert(add_as(consortium, lender_a, unavailable, 2), "RegistrySignerUnavailable", unavailable.address)
    # Lanes: 0 is the lender's own, at most MAX_LANES, one signer each.
    for lane in (0, MAX_LANES + 1):
        expect_revert(add_as(consortium, lender_a, stranger, lane), "RegistryInvalidLane", lane)
    expect_revert(add_as(consortium, lender_a, stranger, 1), "RegistryLaneTaken", lender_a.address, 1, taken.address)
    add_as(consortium, lender_a, stranger, MAX_LANES)()
    assert signers.lane_signers(consortium.registry, lender_a.address) == [
        (1, taken.address), (MAX_LANES, stranger.address)
    ]  # fmt: skip


def test_governance_cannot_admit_a_signer(consortium: Consortium, lender_a: LocalAccount) -> None:
    signer = enlist(consortium, lender_a, 1)
    expect_revert(
        lambda: consortium.enact(Action.ADMIT, signer.address, Role.LENDER, name="Signer as lender"),
        "RegistryAccountIsSigner",
        signer.address,
    )


def test_removed_signer_stops_and_frees_its_lane(
    consortium: Consortium, lender_a: LocalAccount, lender_b: LocalAccount
) -> None:
    first = enlist(consortium, lender_a, 1)
    second = enlist(consortium, lender_a, 2)
    record_as(consortium, first, lane_start(1))()
    # Only the signer's lender or a governor may remove it.
    expect_revert(remove_as(consortium, lender_b, first), "RegistryCannotRemoveSigner", lender_b.address, first.address)
    (removed,) = events(signers.remove_signer(consortium.registry, consortium.tx(lender_a), first.address))
    assert removed.name == "SignerRemoved"
    assert removed.args == {"lender": lender_a.address, "signer": first.address, "lane": 1, "by": lender_a.address}
    remove_as(consortium, consortium.governors[1], second)()
    expect_revert(record_as(consortium, first, lane_start(1) + 1), "LedgerNotActiveLender", first.address)
    expect_revert(remove_as(consortium, lender_a, first), "RegistryCannotRemoveSigner")
    # Never enlisted again; the lane is free for a new key, which continues the lane's sequence.
    expect_revert(add_as(consortium, lender_a, first, 1), "RegistrySignerUnavailable", first.address)
    successor = enlist(consortium, lender_a, 1)
    expect_revert(
        record_as(consortium, successor, lane_start(1)), "LedgerBatchOutOfOrder", lane_start(1) + 1, lane_start(1)
    )
    record_as(consortium, successor, lane_start(1) + 1)()


def test_suspended_lender_silences_its_signers(consortium: Consortium, lender_a: LocalAccount) -> None:
    signer = enlist(consortium, lender_a, 1)
    consortium.enact(Action.SUSPEND, lender_a.address)
    assert consortium.registry.functions.recorderOf(signer.address).call() == ["0x" + "00" * 20, 0]
    expect_revert(record_as(consortium, signer, lane_start(1)), "LedgerNotActiveLender", signer.address)
    # A suspended lender can still retire a leaked key.
    remove_as(consortium, lender_a, signer)()
    consortium.enact(Action.REINSTATE, lender_a.address)
    expect_revert(record_as(consortium, signer, lane_start(1)), "LedgerNotActiveLender", signer.address)
