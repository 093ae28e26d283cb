"""A key-share holder process, wired from the settings: its share, its database, the registry it checks members
against, and the loop that anchors its evaluation log's head on chain (`creditshare keyshare serve`)."""

from __future__ import annotations

import logging
import threading
import time

from creditshare.chain import keyshares
from creditshare.chain.artifacts import REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.rpc import contract_at, make_web3
from creditshare.chain.transactor import Transactor
from creditshare.core.config import Settings
from creditshare.core.db import checkpoint_loop, make_engine, session_factory, transaction
from creditshare.core.exceptions import ConfigError, CreditShareError
from creditshare.core.keystore import load_signer
from creditshare.keyshare import evaluation_log
from creditshare.keyshare.directory import directory
from creditshare.keyshare.holder import CachedMembership, Holder, Quota, registry_membership
from creditshare.keyshare.shares import ShareFile

log = logging.getLogger(__name__)


class HolderNode:
    """Everything `creditshare keyshare serve` runs besides the HTTP app."""

    def __init__(self, settings: Settings) -> None:
        if settings.keyshare_share_file is None:
            raise ConfigError("set CREDITSHARE_KEYSHARE_SHARE_FILE to this holder's share file (`keyshare init`)")
        share_file = ShareFile.read(settings.keyshare_share_file)
        self.settings = settings
        self.deployment = Deployment.load(settings.deployment_path)
        node = settings.node_profile
        self.w3 = make_web3(settings.rpc_urls, poa=node.poa_headers)
        registry = contract_at(self.w3, load_artifact(REGISTRY), self.deployment.registry)
        self.engine = make_engine(settings.database)
        self.sessions = session_factory(self.engine)
        self.holder = Holder(
            share_file.share,
            self.sessions,
            CachedMembership(registry_membership(registry)),
            Quota(settings.keyshare_quota_per_minute, settings.keyshare_quota_per_day),
        )
        self.directory = directory(self.w3, self.deployment)
        self._signer = Transactor(
            self.w3,
            load_signer(settings, " (the holder's anchoring key)"),
            gas_price=node.fixed_gas_price,
        )
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def anchor_once(self) -> int | None:
        """Put the log's head on chain if it moved since the last anchor; returns the anchored sequence."""
        with self.sessions() as session:
            seq, head = evaluation_log.head(session)
            last = evaluation_log.last_anchor(session)
        if seq == 0 or (last is not None and last.seq >= seq):
            return None
        receipt = keyshares.anchor(self.directory, self._signer, seq, head)
        with transaction(self.sessions) as session:
            tx_hash = receipt["transactionHash"]
            evaluation_log.record_anchor(session, seq, head, "0x" + bytes(tx_hash).hex(), int(time.time()))
        return seq

    def _anchor_loop(self) -> None:
        while not self._stop.wait(self.settings.keyshare_anchor_interval):
            try:
                self.anchor_once()
            except CreditShareError as exc:  # the node is down or we are not in the set: try again next time
                log.warning("anchoring the evaluation log failed: %s", exc)

    def start(self) -> None:
        """Start anchoring, and checkpointing the SQLite WAL (auto-checkpoints are off: see `core.db.engine`)."""
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._anchor_loop, name="anchor", daemon=True),
            threading.Thread(target=checkpoint_loop, args=(self.engine, self._stop), name="checkpoint", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        try:
            self.anchor_once()  # the last answers are anchored before the holder goes away
        except CreditShareError as exc:
            log.warning("anchoring the evaluation log at shutdown failed: %s", exc)
        self.engine.dispose()
