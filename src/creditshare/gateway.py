"""A lender's gateway: everything one `creditshare serve` process holds, built from the settings."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from creditshare import governance
from creditshare.chain import Transactor, contract_at, make_web3, translate_errors
from creditshare.config import Settings
from creditshare.contracts import LEDGER, REGISTRY, load_artifact
from creditshare.crypto import RecordCipher
from creditshare.db import OutboxItem, make_engine, session_factory
from creditshare.deploy import Deployment
from creditshare.exceptions import ChainError, ConfigError, CreditShareError
from creditshare.keyfiles import consortium_secret, record_key
from creditshare.keys import load_keystore, read_password
from creditshare.ledger import LedgerClient
from creditshare.metrics import Metrics
from creditshare.outbox import Outbox
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
        if settings.keystore is None or settings.keystore_password_file is None:
            raise ConfigError("set CREDITSHARE_KEYSTORE and CREDITSHARE_KEYSTORE_PASSWORD_FILE (the lender's key)")
        account = load_keystore(settings.keystore, read_password(settings.keystore_password_file))
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
        self._thread: threading.Thread | None = None
        self._checkpointer: threading.Thread | None = None
        self.metrics.outbox_depth.set_function(self.backlog)

    def start(self) -> None:
        """Start the submitter thread (if enabled in the settings)."""
        if self.settings.submitter and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self.submitter.run, args=(self._stop,), name="submitter", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.engine.dispose()

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
        if self.submitter.last_error:
            checks["submitter_error"] = self.submitter.last_error
        return Readiness(ready, checks)
