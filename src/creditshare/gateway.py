"""The composition root: builds one lender's gateway — every part `creditshare serve` runs — from the settings,
and wires the parts together. No logic of its own lives here."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from creditshare.alerts.delivery import Deliverer, RetryPolicy
from creditshare.alerts.feed import AlertFeed
from creditshare.alerts.raiser import AlertRaiser
from creditshare.alerts.webhooks import WebhookBook
from creditshare.chain.artifacts import LEDGER, REGISTRY, load_artifact
from creditshare.chain.deploy import Deployment
from creditshare.chain.disputes import DisputeSender
from creditshare.chain.ledger import LedgerClient
from creditshare.chain.nodes import NodeSet
from creditshare.chain.rpc import contract_at, make_web3
from creditshare.chain.signers import delegate_lanes
from creditshare.chain.transactor import Transactor
from creditshare.core.config import Settings
from creditshare.core.crypto import RecordCipher
from creditshare.core.db import Sessions, checkpoint_loop, make_engine, session_factory
from creditshare.core.db.group_commit import GroupCommit
from creditshare.core.db.lease import Lease
from creditshare.core.keystore import load_delegate_signers, load_signer
from creditshare.core.metrics import Metrics
from creditshare.core.ratelimit import RateLimiter
from creditshare.core.secrets import consortium_secret, record_key
from creditshare.disputes.desk import DisputeDesk
from creditshare.domain.identity import HmacKeys, HmacSource, SubjectKeySource
from creditshare.domain.report import Policy
from creditshare.domain.status import OPEN_STATUSES
from creditshare.keyshare.directory import published_share_set
from creditshare.keyshare.holder_set import HolderSet
from creditshare.keyshare.shares import ShareSet
from creditshare.keyshare.subject_keys import OprfSource, SubjectCache, derived_key
from creditshare.read.audit import AuditLog
from creditshare.read.borrower import BorrowerDesk
from creditshare.read.follower import Follower
from creditshare.read.health import Progress, Readiness, readiness
from creditshare.read.provenance import ProvenanceChecker
from creditshare.read.queries import Queries
from creditshare.write.lanes import LanePlan
from creditshare.write.outbox import Outbox
from creditshare.write.references import OwnReferences
from creditshare.write.reseal import reseal_legacy
from creditshare.write.seal import RowSeal
from creditshare.write.submitter import Submitter, SubmitterConfig

log = logging.getLogger(__name__)


class Gateway:
    """One lender's gateway: its outbox, submitter, index follower, queries and the chain clients they share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        account = load_signer(settings, " (the lender's key)")
        self.lender = account.address
        self.deployment = Deployment.load(settings.deployment_path)
        self.engine: Engine = make_engine(settings.database)
        self.factory: Sessions = session_factory(self.engine)
        self.metrics = Metrics()
        own_key = record_key(settings)
        cipher = RecordCipher(own_key)
        self.node = node = settings.node_profile
        self.w3 = make_web3(
            settings.rpc_urls,
            poa=node.poa_headers,
            observe=self.metrics.observe_rpc,
            on_switch=self.metrics.observe_failover,
        )
        self.registry = contract_at(self.w3, load_artifact(REGISTRY), self.deployment.registry)
        self.holders: HolderSet | None = None
        if settings.subject_keys == "hmac":
            secret = consortium_secret(settings)
            self.keys: SubjectKeySource = HmacSource(secret)
            consent_key = secret.key
        else:
            self.holders = HolderSet(
                self._published_share_set,
                account,
                timeout=settings.keyshare_timeout,
                hedge_after=settings.keyshare_hedge_after or None,
                query_batch=settings.keyshare_query_batch,
                observe=lambda holder, outcome: self.metrics.keyshare_answers.labels(str(holder), outcome).inc(),
            )
            self.keys = OprfSource(self.holders.client, SubjectCache(self.factory, own_key))
            consent_key = derived_key(own_key, "consent")
        self.outbox = Outbox(self.factory, cipher, self.lender, self.keys)
        self.seal = RowSeal(cipher, self.lender)
        ledger = contract_at(self.w3, load_artifact(LEDGER), self.deployment.ledger)
        # One nonce sequence for lane-0 batches and disputes; each delegate signer has its own.
        transactor = Transactor(self.w3, account, gas_price=node.fixed_gas_price)
        lanes = [(0, transactor)] + [
            (lane, Transactor(self.w3, signer, gas_price=node.fixed_gas_price))
            for lane, signer in delegate_lanes(self.registry, self.lender, load_delegate_signers(settings))
        ]
        self.lanes = LanePlan([lane for lane, _ in lanes])
        config = SubmitterConfig(
            batch_size=settings.batch_size,
            batch_interval=settings.batch_interval,
            from_block=self.deployment.block,
            max_in_flight=node.in_flight_per_sender,
        )
        #: One submitter per lane; the first is the lender's own key.
        self.submitters = [
            Submitter(
                self.factory,
                tx,
                LedgerClient(ledger, self.registry, self.lender, lane, tx.address),
                self.metrics,
                self.seal,
                config,
                self.lanes,
            )
            for lane, tx in lanes
        ]
        self.submitter = self.submitters[0]
        self.deliverer = Deliverer(
            self.factory,
            RecordCipher(derived_key(own_key, "webhooks")),
            policy=RetryPolicy(
                first_delay=settings.webhook_first_retry,
                max_delay=settings.webhook_max_retry,
                window=settings.webhook_retry_window,
                timeout=settings.webhook_timeout,
            ),
            metrics=self.metrics,
        )
        self.webhooks = WebhookBook(self.factory, RecordCipher(derived_key(own_key, "webhooks")), self.deliverer)
        self.alerts = AlertFeed(self.factory, self.keys)
        references = OwnReferences(self.outbox)
        raiser = AlertRaiser(
            self.lender,
            references.of_subjects,
            references.of_records,
            backfill_seconds=settings.alerts_backfill_seconds,
            event_age_days=settings.alerts_event_age_days,
        )
        self.follower = Follower(
            self.w3,
            self.factory,
            self.deployment,
            confirmations=settings.confirmations,
            max_range=node.max_logs_range,
            max_results=node.max_logs_results,
            metrics=self.metrics,
            lease=Lease(self.factory, f"follower:{self.deployment.ledger.lower()}"),
            on_stored=raiser.raise_alerts if settings.alerts else None,
            after_commit=self._alerts_raised,
        )
        commit_sizes = self.metrics.group_commit_size.observe
        self.commits = GroupCommit(self.factory, max_batch=settings.commit_batch, on_commit=commit_sizes)
        self.audit = AuditLog(self.factory, self.commits)
        self.queries = Queries(
            self.factory,
            lender=self.lender,
            keys=self.keys,
            consent_key=consent_key,
            policy=Policy.load(settings.policy_file),
            audit=self.audit,
            inquiries=self.outbox,
            metrics=self.metrics,
        )
        self.borrowers = BorrowerDesk(self.factory, self.queries)
        self.disputes = DisputeDesk(
            self.factory,
            DisputeSender(ledger, transactor),
            self.lender,
            self.keys,
            RecordCipher(derived_key(own_key, "objections")),
            self.audit,
        )
        self.provenance = ProvenanceChecker(self.w3, self.deployment.ledger, self.deployment.registry)
        self.caller_limit = RateLimiter(settings.query_rate_per_minute)
        self.lender_limit = RateLimiter(settings.lender_query_rate_per_minute)
        self.metrics.outbox_depth.set_function(self.backlog)
        self.metrics.signing_lanes.set_function(lambda: len(self.lanes.live))
        self._stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}

    def start(self) -> None:
        """Start the background threads: submitter and index follower (as the settings say) and the WAL
        checkpointer. Rows stored before seals bound every on-chain column are checked and re-sealed first."""
        if self.settings.submitter and self.settings.consortium_secret_file is not None:  # v1 rows need v1 keys
            legacy = HmacKeys(consortium_secret(self.settings))
            resealed = reseal_legacy(self.factory, self.seal, self.lender, legacy)
            if resealed.resealed or resealed.refused:
                log.warning("outbox: %s rows re-sealed, %s refused as tampered", resealed.resealed, resealed.refused)
        self._stop.clear()
        threads = {
            **{
                f"submitter-lane{s.lane}" if s.lane else "submitter": (self.settings.submitter, s.run)
                for s in self.submitters
            },
            "index": (self.settings.index, lambda stop: self.follower.run(stop, self.settings.poll_interval)),
            "webhooks": (self.settings.webhooks, self.deliverer.run),  # woken by the follower as alerts commit
            "checkpoint": (True, lambda stop: checkpoint_loop(self.engine, stop)),
        }
        for name, (enabled, target) in threads.items():
            if enabled and name not in self._threads:
                thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
                thread.start()
                self._threads[name] = thread

    def stop(self) -> None:
        """Stop the threads, give the follower lease back (if this process took it) and close the database."""
        self._stop.set()
        for thread in self._threads.values():
            thread.join(timeout=30)
        self._threads.clear()
        self.deliverer.close()
        if self.follower.lease is not None and self.follower.lease.token is not None:
            self.follower.lease.release()
        if self.holders is not None:
            self.holders.close()
        self.commits.close()
        self.engine.dispose()

    def _alerts_raised(self, count: int) -> None:
        """The follower committed `count` new alerts: count them and wake the webhook delivery."""
        self.metrics.alerts_raised.inc(count)
        self.deliverer.wake.set()

    def refresh_metrics(self) -> None:
        """Set the gauges computed from the index on demand (before /metrics is answered)."""
        for state, count in self.disputes.counts().items():
            self.metrics.disputes.labels(state).set(count)
        for member, count in self.disputes.opened_by_member().items():
            self.metrics.disputes_opened.labels(member).set(count)
        self.metrics.webhook_dead_letters.set(self.deliverer.dead_count())
        self.metrics.chain_head_age.set(self.follower.head_age() or 0.0)
        self.metrics.oldest_unsettled_batch.set(self.oldest_unsettled_seconds())

    def oldest_unsettled_seconds(self) -> float:
        """Seconds the oldest batch in flight, in any lane, has waited to settle."""
        return max(s.oldest_unsettled_seconds() for s in self.submitters)

    def _node_in_use(self) -> str | None:
        """Which node the gateway talks to, when fallbacks are configured (None otherwise)."""
        nodes = self.w3.provider
        if not isinstance(nodes, NodeSet) or len(nodes.urls) == 1:
            return None
        active = nodes.active
        where = "its own node" if active == 0 else f"fallback {active} of {len(nodes.urls) - 1}"
        return f"{where}: {urlsplit(nodes.urls[active]).netloc}"

    def node_stalled(self) -> str | None:
        """Why the chain node looks stalled, or None: a sent batch has waited too long for its receipt, or, on a
        chain with a block time, the head has stood still too long (a node that stopped advancing, or one that
        dropped our transactions — e.g. zero-price ones under a non-zero minimum gas price)."""
        limit = self.settings.stall_seconds
        waiting = self.oldest_unsettled_seconds()
        if waiting > limit:
            return f"a sent batch has waited {waiting:.0f}s for its receipt"
        head_age = self.follower.head_age() if self.settings.index else None
        if self.node.block_time > 0 and head_age is not None and head_age > limit:
            return f"the chain's head has not moved for {head_age:.0f}s"
        return None

    def _published_share_set(self) -> ShareSet:
        """The key-share holders governance published on chain (`KeyShareDirectory`)."""
        return published_share_set(self.w3, self.deployment)

    def backlog(self) -> int:
        """Outbox items not yet confirmed or failed."""
        counts = self.outbox.counts()
        return sum(counts.get(status, 0) for status in OPEN_STATUSES)

    def readiness(self) -> Readiness:
        """What /readyz reports."""
        progress = Progress(
            backlog=self.backlog(),
            last_confirmed_block=max(
                (s.last_confirmed_block for s in self.submitters if s.last_confirmed_block is not None), default=None
            ),
            errors={
                "index_error": self.follower.last_error or "",
                "submitter_error": "; ".join(
                    (f"lane {s.lane}: " if s.lane else "") + s.last_error for s in self.submitters if s.last_error
                ),
            },
            index_lag=self.follower.lag if self.settings.index else None,
            index_stalled=self.follower.stalled(self.settings.index_stall_seconds) if self.settings.index else None,
            node_stalled=self.node_stalled(),
            node_busy=next(filter(None, (s.broadcaster.busy_note() for s in self.submitters)), None),
            node_in_use=self._node_in_use(),
        )
        return readiness(self.w3, self.deployment, self.registry, self.lender, self.factory, progress)
