"""Test helpers: a deployed consortium with a transactor per account, and revert/event assertions."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from creditshare.chain import governance
from creditshare.chain.artifacts import LEDGER, REGISTRY, DecodedEvent, decode_logs, load_artifact
from creditshare.chain.deploy import Deployment, deploy_consortium
from creditshare.chain.governance import Action, ProposalRequest, Role
from creditshare.chain.rpc import contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core.exceptions import ContractRevert
from creditshare.domain import codec

#: Every consortium this test process deployed, by registry address (so a gateway started on a deployment can be
#: given key-share holders for it: `tests.support.holders.ensure_keyshares`).
DEPLOYED: dict[str, Consortium] = {}


@dataclass
class Consortium:
    """A freshly deployed registry + ledger and one Transactor per dev account."""

    w3: Web3
    accounts: list[LocalAccount]
    deployment: Deployment
    registry: Contract
    ledger: Contract
    governors: list[LocalAccount]
    _tx: dict[str, Transactor] = field(default_factory=dict)

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        accounts: list[LocalAccount],
        governors: list[LocalAccount],
        threshold: int,
        lifetime: int = 3600,
    ) -> Consortium:
        deployer = Transactor(w3, accounts[-1])
        names = [f"Governor {i + 1}" for i in range(len(governors))]
        d = deploy_consortium(deployer, [g.address for g in governors], names, threshold, lifetime)
        c = cls(
            w3=w3,
            accounts=accounts,
            deployment=d,
            registry=contract_at(w3, load_artifact(REGISTRY), d.registry),
            ledger=contract_at(w3, load_artifact(LEDGER), d.ledger),
            governors=list(governors),
        )
        DEPLOYED[d.registry.lower()] = c
        c._tx[deployer.address] = deployer
        return c

    @classmethod
    def standard(cls, w3: Web3, accounts: list[LocalAccount]) -> Consortium:
        """The suite's usual consortium: governors accounts[0..2] with threshold 2, lenders accounts[3..4]
        ("Lender A", "Lender B") admitted."""
        c = cls.deploy(w3, accounts, governors=accounts[:3], threshold=2)
        c.admit_lender(accounts[3], "Lender A")
        c.admit_lender(accounts[4], "Lender B")
        return c

    def tx(self, account: LocalAccount) -> Transactor:
        """The (cached) transactor for `account`, so nonces stay consistent within a test."""
        if account.address not in self._tx:
            self._tx[account.address] = Transactor(self.w3, account)
        return self._tx[account.address]

    def governor_txs(self) -> list[Transactor]:
        return [self.tx(g) for g in self.governors]

    def enact(
        self,
        action: Action,
        target: str = governance.ZERO_ADDRESS,
        role: Role = Role.NONE,
        value: int = 0,
        name: str = "",
    ) -> governance.ProposalOutcome:
        """Run a proposal through enough governor approvals to execute it."""
        outcome = governance.enact(
            self.registry, self.governor_txs(), ProposalRequest(action, target, role, value, name)
        )
        assert outcome.executed, outcome
        return outcome

    def admit_lender(self, account: LocalAccount, name: str) -> None:
        self.enact(Action.ADMIT, account.address, Role.LENDER, name=name)

    def record(
        self, lender: LocalAccount, items: list[tuple[bytes, bytes, bytes, int]], seq: int | None = None
    ) -> TxReceipt:
        """Record a batch from `lender` at its next sequence number (or `seq`)."""
        if seq is None:
            seq = self.ledger.functions.nextSequence(lender.address).call()
        return self.tx(lender).transact(self.ledger.functions.recordBatch(seq, codec.encode_items(items)))


def random_key() -> bytes:
    return os.urandom(32)


def credit_item(
    item_type: codec.ItemType = codec.ItemType.LOAN_OPENED,
    occurred_on: dt.date = dt.date(2025, 3, 1),
    amount_fen: int = 1_000_000,
    overdue_fen: int = 0,
    days_past_due: int = 0,
    subject_key: bytes | None = None,
    loan_key: bytes | None = None,
    record_hash: bytes | None = None,
) -> tuple[bytes, bytes, bytes, int]:
    """One credit-event item with random keys unless given."""
    return (
        subject_key or random_key(),
        loan_key or random_key(),
        record_hash or random_key(),
        codec.pack_event_data(item_type, occurred_on, amount_fen, overdue_fen, days_past_due),
    )


def inquiry_item(purpose: int = 1, subject_key: bytes | None = None) -> tuple[bytes, bytes, bytes, int]:
    """One inquiry item: (subject key, consent hash, inquiry hash, data)."""
    return (subject_key or random_key(), random_key(), random_key(), codec.pack_inquiry_data(purpose))


def expect_revert(action: Callable[[], Any], name: str, *args: Any) -> ContractRevert:
    """Run `action` and assert it reverts with custom error `name` and exactly `args` (when given)."""
    with pytest.raises(ContractRevert) as info:
        action()
    err = info.value
    assert err.name == name, f"expected {name}{args}, got {err}"
    if args:
        assert tuple(err.args_) == tuple(args), f"expected {name}{args}, got {err}"
    return err


def events(receipt: TxReceipt, name: str | None = None) -> list[DecodedEvent]:
    """Decoded events of a receipt, optionally only those called `name`."""
    decoded = decode_logs(receipt["logs"])
    return [e for e in decoded if name is None or e.name == name]
