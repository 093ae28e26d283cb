"""A consortium of three lenders on the test Ganache, a multi-lending borrower with loans at all three, and lender
A's real gateway (`creditshare serve`) with console users made by the real CLI (`creditshare users add`)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from creditshare.devtools.devchain import DevChain
from creditshare.domain.codec import ItemType
from tests.support import Consortium, credit_item
from tests.support.gateways import GatewayEnv, GatewayProcess, wait_until
from tests.support.holders import subject_key_of

#: Dev accounts of the console's consortium (lenders A, B, C); A runs the console's gateway.
LENDERS = (14, 15, 19)
NAMES = ("Console Lender A", "Console Lender B", "Console Lender C")
#: A valid resident ID with loans at all three lenders (one of them overdue) and one outside the ledger.
BORROWER = "110105198801010014"
STRANGER = "110105199003070025"
PASSWORDS = {"uw": "underwriter-pass-1", "aud": "auditor-pass-12", "locky": "lockout-pass-123"}


@dataclass
class ConsoleSite:
    """Lender A's running gateway and what the tests need to drive its console."""

    env: GatewayEnv
    process: GatewayProcess
    consortium: Consortium
    query_key: str

    @property
    def url(self) -> str:
        return self.env.url + "/console/"

    def api_report(self, id_number: str, consent_ref: str) -> dict[str, Any]:
        """The JSON API's report of the same borrower (another request, another inquiry)."""
        body = {
            "id_type": "resident_id",
            "id_number": id_number,
            "purpose": "loan_application",
            "consent_ref": consent_ref,
        }
        response = httpx.post(
            self.env.url + "/v1/reports", json=body, headers={"Authorization": f"Bearer {self.query_key}"}, timeout=30
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        import sqlite3

        with sqlite3.connect(self.env.home / "gateway.db", timeout=10) as db:
            return list(db.execute(statement, args))


def run_cli(env: GatewayEnv, *args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real `creditshare` command with the gateway's settings (a password, if any, from a file)."""
    extra: list[str] = []
    if password is not None:
        path = env.home / f"pw-{os.getpid()}-{args[-1]}"
        path.write_text(password + "\n")
        extra = ["--password-file", str(path)]
    return subprocess.run(
        [sys.executable, "-m", "creditshare.cli", *args, *extra],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _record_borrower(consortium: Consortium, lenders: list[LocalAccount]) -> int:
    """Loans for BORROWER at each lender, recorded straight on chain; lender C's is 45 days overdue. Returns the
    last block."""
    subject = subject_key_of("resident_id", BORROWER)
    receipt = None
    for i, lender in enumerate(lenders):
        loan = os.urandom(32)
        items = [
            credit_item(
                ItemType.LOAN_OPENED, dt.date(2025, 1 + i, 5), 1_000_000 * (i + 1), subject_key=subject, loan_key=loan
            ),
            credit_item(ItemType.REPAYMENT, dt.date(2025, 6, 5), 100_000, subject_key=subject, loan_key=loan),
        ]
        if i == 2:
            items.append(
                credit_item(
                    ItemType.OVERDUE, dt.date(2025, 9, 1), 2_900_000, 250_000, 45, subject_key=subject, loan_key=loan
                )
            )
        receipt = consortium.record(lender, items)
        assert receipt["status"] == 1
    return int(receipt["blockNumber"]) if receipt else 0


@contextmanager
def console_site(w3: Web3, accounts: list[LocalAccount], devchain: DevChain, home: Path) -> Iterator[ConsoleSite]:
    consortium = Consortium.deploy(w3, accounts, governors=accounts[:3], threshold=2)
    lenders = [accounts[i] for i in LENDERS]
    for lender, name in zip(lenders, NAMES, strict=True):
        consortium.admit_lender(lender, name)
    last_block = _record_borrower(consortium, lenders)
    env = GatewayEnv(home=home, lender=lenders[0], rpc_url=devchain.rpc_url, deployment=consortium.deployment)
    query_key = env.add_client("console-api-query", "query")
    for username, role, name in (
        ("uw", "underwriter", "张三"),
        ("aud", "auditor", "李四"),
        ("locky", "underwriter", ""),
    ):
        done = run_cli(env, "users", "add", username, "--role", role, "--name", name, password=PASSWORDS[username])
        assert done.returncode == 0, done.stderr
    process = GatewayProcess(env).start()
    try:
        wait_until(lambda: (httpx.get(env.url + "/readyz").json().get("indexed_block") or 0) >= last_block, 30)
        yield ConsoleSite(env, process, consortium, query_key)
    finally:
        process.stop()
