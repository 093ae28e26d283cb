"""A lender's gateway: everything one `creditshare serve` process holds, built from the settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from creditshare import governance
from creditshare.audit import AuditLog
from creditshare.chain import Transactor, contract_at, make_web3, translate_errors
from creditshare.config import Settings
from creditshare.contracts import LEDGER, REGISTRY, load_artifact
from creditshare.crypto import RecordCipher
from creditshare.db import IndexState, OutboxItem, checkpoint, make_engine, session_factory
from creditshare.deploy import Deployment
from creditshare.exceptions import ChainError, CreditShareError
from creditshare.index import Follower
from creditshare.keyfiles import consortium_secret, record_key
from creditshare.keys import load_signer
from creditshare.ledger import LedgerClient
from creditshare.metrics import Metrics
from creditshare.outbox import Outbox
from creditshare.ratelimit import RateLimiter
from creditshare.report import Policy
from creditshare.submitter import Submitter, SubmitterConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """What /readyz reports."""

    ready: bool
    checks: dict[str, object]


class Gateway:
    """Wires settings into the outbox, the submitter and the chain clients."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        account = load_signer(settings, " (the lender's key)")
        self.lender = account.address
        self.deployment = Deployment.load(settings.deployment_path)
        self.engine: Engine = make_engine(settings.database)
        self.factory: sessionmaker[Session] = session_factory(self.engine)
        self.metrics = Metrics()
        self.outbox = Outbox(self.factory, RecordCipher(record_key(settings)), self.lender, consortium_secret(settings))
        self.w3 = make_web3(settings.rpc_url)
        self.registry = contract_at(self.w3, load_artifact(REGISTRY), self.deployment.registry)
        self.ledger = contract_at(self.w3, load_artifact(LEDGER), self.deployment.ledger)
        self.transactor = Transactor(self.w3, account)
        self.submitter = Submitter(
            self.factory,
            self.transactor,
            LedgerClient(self.ledger, self.registry, self.lender),
            self.metrics,
            SubmitterConfig(
                batch_size=settings.batch_size,
                batch_interval=settings.batch_interval,
                from_block=self.deployment.block,
            ),
        )
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}
        self.audit = AuditLog(self.factory)
        self.follower = Follower(
            self.w3,
            self.factory,
            self.deployment,
            confirmations=settings.confirmations,
            max_range=settings.index_range,
        )
        self.policy = Policy.load(settings.policy_file)
        self.secret = consortium_secret(settings)
        self.caller_limit = RateLimiter(settings.query_rate_per_minute)
        self.lender_limit = RateLimiter(settings.lender_query_rate_per_minute)
        self.metrics.outbox_depth.set_function(self.backlog)

    def start(self) -> None:
        """Start the background threads: submitter and index follower (as the settings say) and the WAL
        checkpointer."""
        self._stop.clear()
        threads = {
            "submitter": (self.settings.submitter, self.submitter.run),
            "index": (self.settings.index, self.follower.run),
            "checkpoint": (True, self._checkpoint_loop),
        }
        for name, (enabled, target) in threads.items():
            if enabled and name not in self._threads:
                thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
                thread.start()
                self._threads[name] = thread

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads.values():
            thread.join(timeout=30)
        self._threads.clear()
        self.engine.dispose()

    def _checkpoint_loop(self, stop: threading.Event) -> None:
        while not stop.wait(1.0):
            try:
                checkpoint(self.engine)
            except Exception:  # a failed checkpoint is retried next second
                log.warning("WAL checkpoint failed", exc_info=True)

    def backlog(self) -> int:
        """Outbox items not yet confirmed or failed."""
        with self.factory() as session:
            return int(
                session.scalar(
                    select(func.count()).where(
                        OutboxItem.lender == self.lender, OutboxItem.status.in_(("pending", "submitted"))
                    )
                )
                or 0
            )

    def readiness(self) -> Readiness:
        """Chain reachable, contracts found, signer an active lender; plus backlog and last confirmed block."""
        checks: dict[str, object] = {"signer": self.lender, "backlog": self.backlog()}
        ready = True
        try:
            with translate_errors():
                checks["block"] = self.w3.eth.block_number
            self.deployment.check(self.w3)
            checks["contracts"] = "ok"
            m = governance.member(self.registry, self.lender)
            with translate_errors():
                paused = bool(self.registry.functions.paused().call())
            active = m.role == governance.Role.LENDER and m.status == governance.MemberStatus.ACTIVE
            checks["signer_active_lender"] = active
            checks["signer_status"] = f"{m.role.name.lower()}/{m.status.name.lower()}"
            checks["ledger_paused"] = paused
            ready = active and not paused
        except (ChainError, CreditShareError) as exc:
            checks["chain_error"] = str(exc)
            ready = False
        checks["last_confirmed_block"] = self.submitter.last_confirmed_block
        with self.factory() as session:
            state = session.get(IndexState, 1)
            checks["indexed_block"] = state.last_block if state else None
        if self.follower.last_error:
            checks["index_error"] = self.follower.last_error
        if self.submitter.last_error:
            checks["submitter_error"] = self.submitter.last_error
        return Readiness(ready, checks)
