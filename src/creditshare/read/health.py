"""Readiness: what `/readyz` reports — chain reachable, contracts found, signer an active lender, ledger not
paused — beside the gateway's own progress (backlog, last confirmed block, indexed block, errors)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.contract import Contract

from creditshare.chain import governance
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import translate_errors
from creditshare.core.db.tables import IndexState
from creditshare.core.exceptions import ChainError, CreditShareError


@dataclass(frozen=True)
class Progress:
    """The gateway's own state, as its parts report it."""

    backlog: int
    last_confirmed_block: int | None = None
    errors: dict[str, str] = field(default_factory=dict)  # e.g. {"index_error": "..."}
    #: The follower in this process: its lag behind the head, and whether it has stopped advancing (None: the
    #: follower runs in another process, which reports for itself).
    index_lag: int | None = None
    index_stalled: bool | None = None
    #: Why the node looks stalled (its head stands still, or our transactions get no receipt), or None.
    node_stalled: str | None = None
    #: What the node last refused for now (a full pool, too many pending from our signer), or None: the
    #: submitter waits and re-offers, so the gateway stays ready.
    node_busy: str | None = None
    #: Which of several configured nodes is in use (None: only one configured).
    node_in_use: str | None = None


@dataclass(frozen=True)
class Readiness:
    """What /readyz reports."""

    ready: bool
    checks: dict[str, object]


def readiness(
    w3: Web3,
    deployment: Deployment,
    registry: Contract,
    lender: str,
    factory: sessionmaker[Session],
    progress: Progress,
) -> Readiness:
    """Chain reachable, contracts found, signer an active lender, ledger not paused; plus the gateway's progress."""
    checks: dict[str, object] = {"signer": lender, "backlog": progress.backlog}
    ready = True
    try:
        started = time.perf_counter()
        with translate_errors():
            checks["block"] = w3.eth.block_number
        checks["chain_rpc_ms"] = round((time.perf_counter() - started) * 1000, 1)
        deployment.check(w3)
        checks["contracts"] = "ok"
        m = governance.member(registry, lender)
        with translate_errors():
            paused = bool(registry.functions.paused().call())
        active = m.role == governance.Role.LENDER and m.status == governance.MemberStatus.ACTIVE
        checks["signer_active_lender"] = active
        checks["signer_status"] = f"{m.role.name.lower()}/{m.status.name.lower()}"
        checks["ledger_paused"] = paused
        ready = active and not paused
    except (ChainError, CreditShareError) as exc:
        checks["chain_error"] = str(exc)
        ready = False
    checks["last_confirmed_block"] = progress.last_confirmed_block
    with factory() as session:
        state = session.get(IndexState, 1)
        checks["indexed_block"] = state.last_block if state else None
    if progress.index_stalled is not None:
        checks["index_lag"] = progress.index_lag
        checks["index_stalled"] = progress.index_stalled
        ready = ready and not progress.index_stalled
    if progress.node_stalled is not None:
        checks["node_stalled"] = progress.node_stalled
        ready = False
    if progress.node_busy is not None:
        checks["node_busy"] = progress.node_busy
    if progress.node_in_use is not None:
        checks["chain_node"] = progress.node_in_use
    checks.update({name: error for name, error in progress.errors.items() if error})
    return Readiness(ready, checks)
