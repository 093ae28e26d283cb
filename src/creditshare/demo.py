"""The local demo consortium: a chain, the contracts, three lenders admitted by real governance votes, and a
gateway per lender — what `creditshare demo` (README command 1) brings up.

Everything lives in one folder (HOME) and is reused on the next run: the chain's data, the deployment file,
each gateway's keys, database and demo API key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import httpx
from web3 import Web3

from creditshare import governance
from creditshare.chain import Transactor, contract_at
from creditshare.contracts import REGISTRY, load_artifact
from creditshare.deploy import Deployment, deploy_consortium
from creditshare.devchain import dev_accounts
from creditshare.exceptions import DeploymentError
from creditshare.governance import Action, MemberStatus, Role
from creditshare.identity import resident_check_char
from creditshare.localnet import GatewayEnv, GatewayProcess

GOVERNORS = ("Consortium Governor 1", "Consortium Governor 2", "Consortium Governor 3")
LENDERS = ("Jinhe Microcredit", "Dongfang Small Loans", "Xinyuan Credit")
FIRST_PORT = 8001
#: A synthetic borrower (valid check character) who borrows from all three demo lenders.
MULTI_BORROWER = "110105199001011234"[:17] + resident_check_char("11010519900101123")


@dataclass
class DemoLender:
    name: str
    env: GatewayEnv
    api_key: str
    process: GatewayProcess | None = None


def ensure_deployment(w3: Web3, path: Path) -> tuple[Deployment, bool]:
    """The deployment in `path` if this chain has it, else a fresh one (governors: dev accounts 0-2, 2 of 3)."""
    try:
        deployment = Deployment.load(path)
        deployment.check(w3)
        return deployment, False
    except DeploymentError:
        governors = dev_accounts(3)
        deployment = deploy_consortium(
            Transactor(w3, governors[0]), [g.address for g in governors], list(GOVERNORS), threshold=2
        )
        deployment.save(path)
        return deployment, True


def admit_lenders(w3: Web3, deployment: Deployment) -> list[str]:
    """Admit the demo lenders (dev accounts 3-5) by proposal + second governor's approval, if not yet members."""
    registry = contract_at(w3, load_artifact(REGISTRY), deployment.registry)
    governors = [Transactor(w3, a) for a in dev_accounts(3)]
    admitted = []
    for account, name in zip(dev_accounts(6)[3:], LENDERS, strict=True):
        if governance.member(registry, account.address).status == MemberStatus.NONE:
            governance.enact(registry, governors, Action.ADMIT, account.address, Role.LENDER, name=name)
            admitted.append(name)
    return admitted


def prepare_gateways(
    home: Path, rpc_url: str, deployment: Deployment, first_port: int = FIRST_PORT
) -> list[DemoLender]:
    """Each lender's gateway folder (keys, secrets, database) and a demo API key with every scope."""
    lenders = []
    for i, (account, name) in enumerate(zip(dev_accounts(6)[3:], LENDERS, strict=True)):
        env = GatewayEnv(home / f"lender-{i + 1}", account, rpc_url, deployment, port=first_port + i)
        key_file = env.home / "demo-api-key"
        if not key_file.exists():
            key_file.write_text(env.add_client("demo", "submit,query,verify,admin"))
            key_file.chmod(0o600)
        lenders.append(DemoLender(name, env, key_file.read_text().strip()))
    return lenders


def sample_records(lender_index: int) -> list[dict[str, object]]:
    """A loan of the multi-lending borrower at this lender (with an overdue at the second lender)."""
    opened = dt.date(2026, 3, 1) + dt.timedelta(days=20 * lender_index)
    records: list[dict[str, object]] = [
        {
            "record_id": f"DEMO-{lender_index}-OPEN",
            "event_type": "loan_opened",
            "id_type": "resident_id",
            "id_number": MULTI_BORROWER,
            "loan_number": f"DEMO-LOAN-{lender_index}",
            "occurred_on": opened.isoformat(),
            "principal_fen": 3_000_000 + 1_000_000 * lender_index,
        }
    ]
    if lender_index == 1:
        records.append(
            {
                "record_id": "DEMO-1-OVERDUE",
                "event_type": "overdue",
                "id_type": "resident_id",
                "id_number": MULTI_BORROWER,
                "loan_number": "DEMO-LOAN-1",
                "occurred_on": (opened + dt.timedelta(days=65)).isoformat(),
                "outstanding_fen": 3_600_000,
                "overdue_fen": 450_000,
                "days_past_due": 35,
            }
        )
    return records


def load_samples(lenders: list[DemoLender]) -> int:
    """Submit the sample history through each gateway's API (duplicates on re-runs are harmless)."""
    accepted = 0
    for i, lender in enumerate(lenders):
        response = httpx.post(
            lender.env.url + "/v1/events",
            json=sample_records(i),
            headers={"Authorization": f"Bearer {lender.api_key}"},
            timeout=30,
        )
        response.raise_for_status()
        accepted += response.json()["accepted"]
    return accepted
