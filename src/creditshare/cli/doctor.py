"""`creditshare doctor`: check a gateway's configuration, chain, contracts, signer, database and versions.

Each check stands alone and ends in one line saying what is wrong and what to do; a check whose prerequisite
failed is skipped (not reported as a second, derived failure).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.table import Table
from sqlalchemy import func, select
from web3 import Web3

from creditshare import __version__
from creditshare.chain import governance
from creditshare.chain.artifacts import LEDGER, REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import connect, contract_at, rpc
from creditshare.cli._shared import console, err_console
from creditshare.core.config import Settings
from creditshare.core.db import make_engine, schema
from creditshare.core.db.tables import IndexState, OutboxItem
from creditshare.core.exceptions import CreditShareError
from creditshare.core.keystore import load_signer
from creditshare.core.secrets import consortium_secret, record_key
from creditshare.devtools.compiler import SOLC_VERSION
from creditshare.domain.status import OPEN_STATUSES
from creditshare.keyshare.directory import published_share_set


@dataclass(frozen=True)
class Check:
    """One check's verdict: `ok` None means skipped."""

    name: str
    ok: bool | None
    detail: str


@dataclass
class _Context:
    settings: Settings
    facts: dict[str, Any] = field(default_factory=dict)
    extra_versions: tuple[Path, ...] = ()  # extra migration folders (tests: a newer creditshare)


def _keystore(ctx: _Context) -> str:
    account = load_signer(ctx.settings, " (the lender's key)")
    ctx.facts["signer"] = account.address
    return f"signer {account.address}"


def _secrets(ctx: _Context) -> str:
    record_key(ctx.settings)
    if ctx.settings.subject_keys == "hmac" or ctx.settings.consortium_secret_file is not None:
        secret = consortium_secret(ctx.settings)
        keys = ctx.settings.subject_keys
        return f"record key and v1 consortium secret v{secret.version} readable (subject keys: {keys})"
    return "record key readable (subject keys v2: no consortium secret needed)"


def _keyshares(ctx: _Context) -> str:
    if ctx.settings.subject_keys != "oprf":
        return "not used (CREDITSHARE_SUBJECT_KEYS=hmac)"
    share_set = published_share_set(ctx.facts["w3"], ctx.facts["deployment"])
    answering = []
    for holder in share_set.holders:
        try:
            if httpx.get(f"{holder.url.rstrip('/')}/healthz", timeout=ctx.settings.keyshare_timeout).status_code == 200:
                answering.append(holder.index)
        except httpx.HTTPError:
            pass
    detail = (
        f"share set v{share_set.version}: {share_set.threshold}-of-{len(share_set.holders)}, "
        f"{len(answering)} answering (holders {', '.join(map(str, answering)) or 'none'})"
    )
    if len(answering) < share_set.threshold:
        raise CreditShareError(f"{detail}: fewer than {share_set.threshold}, so no new subject key can be made")
    return detail


def _deployment(ctx: _Context) -> str:
    d = Deployment.load(ctx.settings.deployment_path)
    ctx.facts["deployment"] = d
    return f"{ctx.settings.deployment_path}: chain {d.chain_id}, deployed in block {d.block}"


def _chain(ctx: _Context) -> str:
    w3 = connect(ctx.settings.rpc_url)
    ctx.facts["w3"] = w3
    client = rpc(w3, "web3_clientVersion", [])
    chain_id = int(rpc(w3, "eth_chainId", []), 16)
    head = int(rpc(w3, "eth_blockNumber", []), 16)
    ctx.facts["head"] = head
    return f"{ctx.settings.rpc_url}: {client}, chain {chain_id}, block {head}"


def _contracts(ctx: _Context) -> str:
    d: Deployment = ctx.facts["deployment"]
    w3: Web3 = ctx.facts["w3"]
    try:
        d.check(w3)
    except CreditShareError as exc:
        raise CreditShareError(
            f"{exc}; fix CREDITSHARE_DEPLOYMENT_FILE or redeploy with `creditshare deploy`"
        ) from None
    registry = contract_at(w3, load_artifact(REGISTRY), d.registry)
    ledger = contract_at(w3, load_artifact(LEDGER), d.ledger)
    try:
        bound = ledger.functions.registry().call()
    except Exception:
        raise CreditShareError(f"no CreditLedger at {d.ledger}; fix CREDITSHARE_DEPLOYMENT_FILE") from None
    if bound.lower() != d.registry.lower():
        raise CreditShareError(f"the ledger at {d.ledger} belongs to registry {bound}, not {d.registry}")
    try:
        ctx.facts["paused"] = bool(registry.functions.paused().call())
        registry.functions.threshold().call()
    except Exception:
        raise CreditShareError(f"no ConsortiumRegistry at {d.registry}; fix CREDITSHARE_DEPLOYMENT_FILE") from None
    ctx.facts["registry"] = registry
    return f"registry {d.registry}, ledger {d.ledger}" + (
        " (ledger PAUSED by governance)" if ctx.facts["paused"] else ""
    )


def _membership(ctx: _Context) -> str:
    signer: str = ctx.facts["signer"]
    m = governance.member(ctx.facts["registry"], signer)
    if m.role != governance.Role.LENDER or m.status != governance.MemberStatus.ACTIVE:
        what = "not a member" if m.status == governance.MemberStatus.NONE else f"{m.role.name} / {m.status.name}"
        raise CreditShareError(
            f"signer {signer} is {what.lower()}, not an active lender: its submissions will fail; "
            "ask the governors to admit or reinstate it (`creditshare members propose admit ...`)"
        )
    return f"{m.name} is an active lender"


def _schema(ctx: _Context) -> str:
    engine = make_engine(ctx.settings.database, check_schema=False)  # the check is what this reports
    try:
        found = schema.status(engine, ctx.extra_versions)
    finally:
        engine.dispose()
    if found.state is schema.State.EMPTY:
        return f"empty: the first open creates the tables at revision {found.head}"
    found.check()
    return f"at revision {found.current} (head)"


def _database(ctx: _Context) -> str:
    engine = make_engine(ctx.settings.database)
    try:
        with engine.connect() as conn:
            counts = dict(conn.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all())
            state = conn.execute(select(IndexState.last_block).where(IndexState.id == 1)).scalar_one_or_none()
    finally:
        engine.dispose()
    backlog = sum(counts.get(status, 0) for status in OPEN_STATUSES)
    detail = f"{engine.url.render_as_string(hide_password=True)}: backlog {backlog}, failed {counts.get('failed', 0)}"
    head = ctx.facts.get("head")
    if state is not None and head is not None:
        detail += f", indexed to block {state} of {head}"
    if state is not None and head is not None and state > head:
        raise CreditShareError(
            f"the index is at block {state} but the chain only at {head}: a reset chain? "
            "use a fresh database (or delete it) with this chain"
        )
    return detail


def _versions(ctx: _Context) -> str:
    compiled = str(load_artifact(REGISTRY).compiler["version"])
    detail = (
        f"creditshare {__version__}, Python {platform.python_version()}, web3 {version('web3')}, "
        f"contracts compiled with solc {compiled}"
    )
    if compiled.split("+")[0] != SOLC_VERSION:
        raise CreditShareError(
            f"artifacts were built with solc {compiled}, the project pins {SOLC_VERSION}: run `creditshare compile`"
        )
    d = ctx.facts.get("deployment")
    if d is not None and d.solc_version != compiled:
        detail += f" (deployment built with {d.solc_version})"
    return detail


#: (name, check, checks it needs): a check runs only when the checks it builds on passed.
CHECKS: tuple[tuple[str, Callable[[_Context], str], tuple[str, ...]], ...] = (
    ("signing key", _keystore, ()),
    ("secrets", _secrets, ()),
    ("deployment file", _deployment, ()),
    ("chain", _chain, ()),
    ("contracts", _contracts, ("deployment file", "chain")),
    ("signer membership", _membership, ("signing key", "contracts")),
    ("key-share holders", _keyshares, ("contracts",)),
    ("database schema", _schema, ()),
    ("database", _database, ("database schema",)),
    ("versions", _versions, ()),
)


def run_checks(settings: Settings, extra_versions: tuple[Path, ...] = ()) -> list[Check]:
    """Run every check; never raises for a failed check."""
    ctx = _Context(settings, extra_versions=extra_versions)
    results: list[Check] = []
    for name, check, needs in CHECKS:
        failed = [r.name for r in results if r.name in needs and not r.ok]
        if failed:
            results.append(Check(name, None, f"skipped: needs {' and '.join(failed)}"))
            continue
        try:
            results.append(Check(name, True, check(ctx)))
        except CreditShareError as exc:
            results.append(Check(name, False, str(exc)))
        except Exception as exc:  # a doctor reports, it does not crash
            results.append(Check(name, False, f"{type(exc).__name__}: {exc}"))
    return results


def doctor() -> None:
    """Check configuration, chain, contracts, the signer's membership, database schema and contents, and versions."""
    settings = Settings.from_env()
    checks = run_checks(settings)
    marks = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]skip[/]"}
    table = Table("check", "", "detail", title="creditshare doctor")
    for check in checks:
        table.add_row(check.name, marks[check.ok], check.detail)
    console.print(table)
    failed = [c for c in checks if c.ok is False]
    if failed:
        for check in failed:
            err_console.print(f"[red]✗[/] {check.name}: {check.detail}", highlight=False)
        raise typer.Exit(1)
