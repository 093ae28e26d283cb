"""The local demo consortium: a chain, the contracts, three lenders admitted by real governance votes, a
gateway per lender and a synthetic multi-lender credit history loaded through the gateways' API and indexed —
what `creditshare demo` (README command 1) brings up.

Everything lives in one folder (HOME) and is reused on the next run: the chain's data, the deployment file,
each gateway's keys, database and demo API key, the history's plan (HOME/demo-history.json) and, per lender,
a marker that its book was loaded (so a re-run sends nothing).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from web3 import Web3

from creditshare.chain import governance
from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment, deploy_consortium
from creditshare.chain.governance import Action, MemberStatus, ProposalRequest, Role
from creditshare.chain.rpc import contract_at
from creditshare.chain.transactor import Transactor
from creditshare.core.clock import today_cst
from creditshare.core.db import make_engine, session_factory
from creditshare.core.db.tables import OutboxItem
from creditshare.core.exceptions import ConfigError, CreditShareError, DeploymentError
from creditshare.core.people import Role as ConsoleRole
from creditshare.devtools.devchain import dev_accounts
from creditshare.devtools.localnet import GatewayEnv, GatewayProcess, HolderEnv, local_holders, wait_until
from creditshare.devtools.synthetic import DEFAULT_SEED, MULTI_BORROWER, History, generate_history
from creditshare.write.outbox import MAX_RECORDS_PER_REQUEST

GOVERNORS = ("Consortium Governor 1", "Consortium Governor 2", "Consortium Governor 3")
LENDERS = ("Jinhe Microcredit", "Dongfang Small Loans", "Xinyuan Credit")
FIRST_PORT = 8001
HISTORY_FILE = "demo-history.json"
DEMO_UNDERWRITER, DEMO_AUDITOR = "演示信审员", "演示审计员"  # display names of the demo's console users
LOADED_MARKER = "demo-history.loaded"


@dataclass
class DemoLender:
    name: str
    env: GatewayEnv
    api_key: str
    process: GatewayProcess | None = None
    console_password: str = ""

    @property
    def key_file(self) -> Path:
        return self.env.home / "demo-api-key"

    @property
    def console_url(self) -> str:
        return self.env.url + "/console/"


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
            governance.enact(
                registry, governors, ProposalRequest(Action.ADMIT, account.address, Role.LENDER, name=name)
            )
            admitted.append(name)
    return admitted


HOLDER_PORT_OFFSET = 100  # the holders listen 100 above the gateways (8101-8103 for gateways on 8001-8003)
THRESHOLD = 2


def prepare_holders(
    home: Path, w3: Web3, rpc_url: str, deployment: Deployment, first_port: int = FIRST_PORT + HOLDER_PORT_OFFSET
) -> tuple[list[HolderEnv], bool]:
    """The key-share holders of the demo — one per lender organisation (dev accounts 3-5 anchor), 2-of-3 — each
    in its lender's folder (HOME/lender-i/keyshare), published by two of the governors (dev accounts 0-2)."""
    accounts = dev_accounts(6)[3:]
    folders = [home / f"lender-{i + 1}" / "keyshare" for i in range(len(accounts))]
    governors = [Transactor(w3, a) for a in dev_accounts(3)]
    return local_holders(folders, accounts, w3, rpc_url, deployment, governors, THRESHOLD, first_port)


def prepare_gateways(
    home: Path, rpc_url: str, deployment: Deployment, first_port: int = FIRST_PORT
) -> list[DemoLender]:
    """Each lender's gateway folder (keys, secrets, database), a demo API key with every scope, and two console
    users, `underwriter` and `auditor`, sharing a password made for this demo (in HOME/demo-console-password)."""
    lenders = []
    for i, (account, name) in enumerate(zip(dev_accounts(6)[3:], LENDERS, strict=True)):
        env = GatewayEnv(home / f"lender-{i + 1}", account, rpc_url, deployment, port=first_port + i)
        key_file = env.home / "demo-api-key"
        if not key_file.exists():
            key_file.write_text(env.add_client("demo", "submit,query,verify,admin,borrower_service,disputes,alerts"))
            key_file.chmod(0o600)
        password_file = env.home / "demo-console-password"
        if not password_file.exists():
            password = "demo-" + secrets.token_urlsafe(9)
            env.add_console_user("underwriter", ConsoleRole.UNDERWRITER, DEMO_UNDERWRITER, password)
            env.add_console_user("auditor", ConsoleRole.AUDITOR, DEMO_AUDITOR, password)
            password_file.write_text(password)
            password_file.chmod(0o600)
        lender = DemoLender(name, env, key_file.read_text().strip(), console_password=password_file.read_text().strip())
        lenders.append(lender)
    return lenders


def forget_gateways(home: Path) -> list[Path]:
    """Remove the lenders' gateway folders and the history plan: after a fresh deployment they describe a chain
    that is gone (their outbox says "confirmed", their index is of other blocks). Returns what was removed."""
    stale = sorted(home.glob("lender-*")) + [p for p in (home / HISTORY_FILE,) if p.exists()]
    for path in stale:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return stale


def plan_history(home: Path, borrowers: int) -> History:
    """The demo's synthetic history: the one planned in HOME before (its size, seed and as-of date), else a new
    plan of `borrowers` borrowers as of today, saved so that a re-run regenerates exactly the same records."""
    path = home / HISTORY_FILE
    try:
        plan = json.loads(path.read_text())
        borrowers, seed, as_of = int(plan["borrowers"]), int(plan["seed"]), dt.date.fromisoformat(plan["as_of"])
    except FileNotFoundError:
        seed, as_of = DEFAULT_SEED, today_cst()
        path.write_text(json.dumps({"borrowers": borrowers, "seed": seed, "as_of": as_of.isoformat()}) + "\n")
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not a demo history plan ({exc}); run `creditshare demo --reset`") from None
    return generate_history(borrowers, as_of=as_of, seed=seed)


def _first_problem(body: dict[str, Any], text: str) -> str:
    """The first rejected record of a submission's answer (200 with rejections, or a 4xx error body)."""
    error = body.get("error") or {}
    results = body.get("results") or error.get("results") or []
    first = next((r for r in results if r.get("status") == "rejected"), error)
    if not first:
        return text[:200]
    return f"record {first.get('record_id')}: {first.get('code')}: {first.get('message')}"


class BootstrapError(CreditShareError):
    """Raised when the demo's gateways refuse the synthetic history or do not get it confirmed and indexed in
    time; the message says which gateway and what is stuck."""


@dataclass(frozen=True)
class LoadResult:
    """What loading the history sent: `submitted` new records, `duplicates` already stored (an interrupted
    earlier load), and whether every lender's book had been loaded before (then nothing was sent at all)."""

    submitted: int
    duplicates: int
    reused: bool


def load_history(
    lenders: list[DemoLender], history: History, progress: Callable[[str], object] | None = None
) -> LoadResult:
    """Submit each lender's book through its gateway's API, in requests of at most 1,000 records. A lender whose
    book was loaded before (its marker file exists) is skipped; an interrupted load resumes with duplicates."""
    todo = [
        (lender, book)
        for lender, book in zip(lenders, history.per_lender, strict=True)
        if not (lender.env.home / LOADED_MARKER).exists()
    ]
    total, done, submitted, duplicates = sum(len(book) for _, book in todo), 0, 0, 0
    for lender, book in todo:
        with httpx.Client(
            base_url=lender.env.url, headers={"Authorization": f"Bearer {lender.api_key}"}, timeout=120
        ) as client:
            for start in range(0, len(book), MAX_RECORDS_PER_REQUEST):
                chunk = book[start : start + MAX_RECORDS_PER_REQUEST]
                try:
                    response = client.post("/v1/events", json=chunk)
                except httpx.TransportError as exc:
                    raise BootstrapError(
                        f"{lender.name}'s gateway at {lender.env.url} did not answer ({exc!r}); "
                        f"see {lender.env.home / 'gateway.log'}"
                    ) from None
                body = response.json() if response.headers.get("content-type") == "application/json" else {}
                if response.status_code != 200 or body.get("rejected"):
                    raise BootstrapError(
                        f"{lender.name}'s gateway refused the synthetic history (HTTP {response.status_code}): "
                        + _first_problem(body, response.text)
                    )
                submitted += body["accepted"]
                duplicates += body["duplicates"]
                done += len(chunk)
                if progress:
                    progress(f"loading the synthetic history: {done:,} of {total:,} records")
        (lender.env.home / LOADED_MARKER).write_text(f"{len(book)}\n")
    return LoadResult(submitted, duplicates, reused=not todo)


def index_status(lenders: list[DemoLender], w3: Web3) -> tuple[int, list[str]]:
    """(target block, what is still pending per gateway). Done when the list is empty: no gateway has records
    waiting for the chain, and every index reached the head and every gateway's last confirmation."""
    head = int(w3.eth.block_number)
    checks = []
    for lender in lenders:
        if lender.process and lender.process.proc and lender.process.proc.poll() is not None:
            log = (lender.env.home / "gateway.log").read_text(errors="replace").strip().splitlines()
            raise BootstrapError(
                f"{lender.name}'s gateway exited ({lender.process.proc.returncode}): {log[-1] if log else ''}"
            )
        try:
            checks.append(httpx.get(lender.env.url + "/readyz", timeout=10).json())
        except (httpx.HTTPError, ValueError) as exc:
            checks.append({"chain_error": f"/readyz did not answer: {exc}"})
    target = max([head] + [int(c.get("last_confirmed_block") or 0) for c in checks])
    pending = []
    for lender, check in zip(lenders, checks, strict=True):
        backlog, indexed = check.get("backlog"), check.get("indexed_block")
        what = []
        if backlog:
            what.append(f"{backlog:,} records not yet confirmed")
        if indexed is None or indexed < target:
            what.append(f"index at block {indexed} of {target}")
        what += [f"{k}: {check[k]}" for k in ("chain_error", "submitter_error", "index_error") if check.get(k)]
        if what:
            pending.append(f"{lender.name} ({lender.env.url}): {', '.join(what)}")
    return target, pending


def wait_until_indexed(
    lenders: list[DemoLender], w3: Web3, timeout: float, progress: Callable[[str], object] | None = None
) -> int:
    """Wait until every gateway's outbox is empty and every index has the chain's head (so a report on any
    gateway shows every lender's records); returns that block. Raises `BootstrapError` naming what is stuck."""
    last: list[str] = []

    def indexed() -> int | None:
        target, pending = index_status(lenders, w3)
        last[:] = pending
        if progress:
            progress(f"waiting for the chain and the indexes (block {target}): {'; '.join(pending) or 'done'}")
        return None if pending else target

    try:
        block = wait_until(indexed, timeout=timeout, interval=0.5)
    except TimeoutError:
        raise BootstrapError(
            f"the history was not confirmed and indexed within {timeout:.0f} s: {'; '.join(last)} "
            f"(see gateway.log in each lender's folder)"
        ) from None
    assert block is not None  # wait_until returns only a truthy value
    return block


def tour_record(lender: DemoLender, day: dt.date | None = None) -> dict[str, object]:
    """The record the tour's submit command sends: a new loan of `MULTI_BORROWER` at `lender`, with the first
    record id TOUR-<n> this lender has not used yet (so the printed command is accepted, not a duplicate)."""
    engine = make_engine(lender.env.database)
    try:
        with session_factory(engine)() as session:
            used = set(
                session.scalars(
                    select(OutboxItem.record_id).where(
                        OutboxItem.lender == lender.env.lender.address, OutboxItem.record_id.like("TOUR-%")
                    )
                )
            )
    finally:
        engine.dispose()
    n = next(i for i in itertools.count(1) if f"TOUR-{i}" not in used)
    return {
        "record_id": f"TOUR-{n}",
        "event_type": "loan_opened",
        "id_type": "resident_id",
        "id_number": MULTI_BORROWER,
        "loan_number": f"TOUR-LOAN-{n}",
        "occurred_on": (day or today_cst()).isoformat(),
        "principal_fen": 1_200_000,
    }


POST_LOAN_MARKER = "demo-post-loan.done"


@dataclass(frozen=True)
class PostLoanStory:
    """What the demo's post-loan story left for the tour: the overdue at the second lender that the first lender
    is alerted to, and the dispute the first lender opened on it for the borrower."""

    overdue_record_hash: str
    dispute_id: str


def post_loan_story(lenders: list[DemoLender], w3: Web3, timeout: float = 60) -> PostLoanStory:
    """Make `MULTI_BORROWER` (a borrower of the first lender) go overdue at the second lender, and open a dispute
    on that overdue through the first lender, as the borrower objects there: the first lender gets an `overdue`
    alert, the second a `dispute_opened` one. Done once per demo home (a marker keeps what it made)."""
    first, second = lenders[0], lenders[1]
    marker = first.env.home / POST_LOAN_MARKER
    if marker.exists():
        done = json.loads(marker.read_text())
        return PostLoanStory(done["overdue_record_hash"], done["dispute_id"])
    today = today_cst()
    person = {"id_type": "resident_id", "id_number": MULTI_BORROWER}
    records = [
        {**person, "record_id": "DEMO-PL-OPEN", "event_type": "loan_opened", "loan_number": "DEMO-PL-LOAN",
         "occurred_on": (today - dt.timedelta(days=45)).isoformat(), "principal_fen": 2_000_000},
        {**person, "record_id": "DEMO-PL-OVERDUE", "event_type": "overdue", "loan_number": "DEMO-PL-LOAN",
         "occurred_on": today.isoformat(), "outstanding_fen": 1_500_000, "overdue_fen": 180_000,
         "days_past_due": 12},
    ]  # fmt: skip
    with httpx.Client(
        base_url=second.env.url, headers={"Authorization": f"Bearer {second.api_key}"}, timeout=60
    ) as api:
        answer = api.post("/v1/events", json=records)
        body = answer.json() if answer.headers.get("content-type") == "application/json" else {}
        if answer.status_code != 200 or body.get("rejected"):
            raise BootstrapError(f"{second.name} refused the post-loan story: " + _first_problem(body, answer.text))
        overdue_id = body["results"][1]["event_id"]

        def confirmed() -> str | None:
            status = api.get(f"/v1/events/{overdue_id}").json()
            return str(status["record_hash"]) if status["status"] == "confirmed" else None

        record_hash = str(wait_until(confirmed, timeout))
    wait_until_indexed(lenders, w3, timeout=timeout)
    objection = {**person, "verification_ref": "DEMO-KYC-1", "record_hash": record_hash,
                 "statement": "借款人称该笔逾期已于当日结清，申请核查。"}  # fmt: skip
    with httpx.Client(base_url=first.env.url, headers={"Authorization": f"Bearer {first.api_key}"}, timeout=60) as api:
        opened = api.post("/v1/disputes", json=objection)
        if opened.status_code != 201:
            raise BootstrapError(f"{first.name} could not open the demo dispute: {opened.text[:300]}")
        story = PostLoanStory(record_hash, str(opened.json()["id"]))
    marker.write_text(json.dumps({"overdue_record_hash": story.overdue_record_hash, "dispute_id": story.dispute_id}))
    wait_until_indexed(lenders, w3, timeout=timeout)
    return story
