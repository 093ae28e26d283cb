"""Brownie-native smoke test of the deployed consortium: governance admits a lender, the lender records a batch.

Runs only under `brownie test` (see tests/brownie/pytest.ini and tests/brownie_guard.py).
"""

from __future__ import annotations

from typing import Any

import brownie
from brownie import web3

ROLE_LENDER = 1  # IConsortiumRegistry.Role.Lender
ACTION_ADMIT = 1  # IConsortiumRegistry.Action.Admit
THRESHOLD = 2  # set by the `registry` fixture
LOAN_OPENED = 1  # item type byte
DAY = 20_000  # days since 1970-01-01
AMOUNT_FEN = 1_000_000


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def key(label: str) -> str:
    return "0x" + bytes(web3.keccak(text=label)).hex()


def credit_item(n: int) -> list[str]:
    """Four words: subject key, loan key, record hash, data (type byte 1 = LoanOpened, day, amount in fen)."""
    data = (LOAN_OPENED << 248) | (DAY << 216) | ((AMOUNT_FEN + n) << 152)
    return [key(f"subject-{n}"), key(f"loan-{n}"), key(f"record-{n}"), word(data)]


def test_admission_needs_two_governor_votes(registry: Any, governors: list[Any], accounts: Any) -> None:
    lender = accounts[4]  # not a member (the `admitted_lender` fixture admits accounts[3])
    assert registry.threshold() == THRESHOLD
    assert registry.activeGovernors() == 3

    proposed = registry.propose(ACTION_ADMIT, lender, ROLE_LENDER, 0, "Lender B", {"from": governors[0]})
    proposal_id = proposed.return_value
    assert proposal_id == registry.proposalCount()
    assert proposed.events["ProposalCreated"]["proposer"] == governors[0]
    assert proposed.events["ProposalApproved"]["approvals"] == 1
    assert "ProposalExecuted" not in proposed.events
    assert not registry.isActive(lender, ROLE_LENDER)

    approved = registry.approve(proposal_id, {"from": governors[1]})
    assert approved.events["ProposalApproved"]["approvals"] == 2
    assert approved.events["ProposalExecuted"]["proposalId"] == proposal_id
    admitted = approved.events["MemberAdmitted"]
    assert (admitted["account"], admitted["role"], admitted["name"]) == (lender, ROLE_LENDER, "Lender B")
    assert registry.isActive(lender, ROLE_LENDER)


def test_record_batch_emits_one_event_per_item_and_the_batch(ledger: Any, admitted_lender: Any) -> None:
    items = [credit_item(0), credit_item(1)]
    words = [w for item in items for w in item]

    tx = ledger.recordBatch(0, words, {"from": admitted_lender})

    recorded = tx.events["CreditEventRecorded"]
    assert len(recorded) == len(items)
    for event, (subject, loan, record, data) in zip(recorded, items, strict=True):
        assert event["subjectKey"] == subject
        assert event["lender"] == admitted_lender
        assert event["recordHash"] == record
        assert event["loanKey"] == loan
        assert event["data"] == int(data, 16)
    batch = tx.events["BatchRecorded"]
    digest = "0x" + bytes(web3.keccak(hexstr="".join(item[2][2:] for item in items))).hex()
    assert (batch["lender"], batch["seq"], batch["itemCount"]) == (admitted_lender, 0, len(items))
    assert batch["digest"] == digest
    assert ledger.nextSequence(admitted_lender) == 1
    assert ledger.batchDigest(admitted_lender, 0) == digest


def test_replayed_batch_reverts_out_of_order(ledger: Any, admitted_lender: Any) -> None:
    words = credit_item(0)
    ledger.recordBatch(0, words, {"from": admitted_lender})

    with brownie.reverts("LedgerBatchOutOfOrder: 1, 0"):
        ledger.recordBatch(0, words, {"from": admitted_lender})
    assert ledger.nextSequence(admitted_lender) == 1


def test_non_member_cannot_record(ledger: Any, accounts: Any) -> None:
    outsider = accounts[5]
    # Brownie renders a custom error as "Name: arg, ..." with addresses in lower case.
    with brownie.reverts(f"LedgerNotActiveLender: {outsider.address.lower()}"):
        ledger.recordBatch(0, credit_item(0), {"from": outsider})
