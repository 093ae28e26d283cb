"""Prometheus metrics of one gateway, in a registry of its own (no process-global state)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class Metrics:
    """The gateway's instruments; `registry` is what /metrics exposes."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.http_requests = Counter(
            "creditshare_http_requests", "HTTP requests by route and status", ["method", "route", "status"], registry=r
        )
        self.records = Counter("creditshare_records", "Submitted records by outcome", ["outcome"], registry=r)
        self.outbox_depth = Gauge("creditshare_outbox_depth", "Outbox items not yet confirmed or failed", registry=r)
        self.batches = Counter("creditshare_batches", "Ledger batches by result", ["result"], registry=r)
        self.gas_used = Counter("creditshare_gas_used", "Gas used by confirmed batches", registry=r)
        self.items_confirmed = Counter("creditshare_items_confirmed", "Outbox items confirmed on chain", registry=r)
        self.accept_to_confirm = Histogram(
            "creditshare_accept_to_confirm_seconds",
            "Time from acceptance to on-chain confirmation",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
            registry=r,
        )
        self.last_confirmed_block = Gauge(
            "creditshare_last_confirmed_block", "Block of the last confirmed batch", registry=r
        )
        self.tampered_rows = Counter(
            "creditshare_outbox_tampered_rows",
            "Outbox rows refused because they no longer match their seal",
            registry=r,
        )
        self.chain_errors = Counter("creditshare_chain_errors", "Chain errors by kind", ["kind"], registry=r)
        self.rpc_requests = Counter(
            "creditshare_rpc_requests",
            "JSON-RPC requests to the chain node by method and outcome (ok, rpc_error, timeout, reset, cut, "
            "http_<status>, other)",
            ["method", "outcome"],
            registry=r,
        )
        self.rpc_seconds = Histogram(
            "creditshare_rpc_seconds",
            "Time the chain node took to answer a JSON-RPC request (retries included)",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.rpc_node = Gauge(
            "creditshare_rpc_node",
            "Which chain node the gateway uses: 0 its own (CREDITSHARE_RPC_URL), n the n-th fallback",
            registry=r,
        )
        self.rpc_failovers = Counter(
            "creditshare_rpc_failovers", "Changes of the chain node in use (to a fallback or back)", registry=r
        )
        self.chain_head_age = Gauge(
            "creditshare_chain_head_age_seconds",
            "Seconds since the index follower last saw the chain's head move",
            registry=r,
        )
        self.oldest_unsettled_batch = Gauge(
            "creditshare_oldest_unsettled_batch_seconds",
            "Seconds the oldest batch sent by this gateway has waited for its receipt (0: none waiting)",
            registry=r,
        )
        self.reports = Counter("creditshare_reports", "Credit reports served by purpose", ["purpose"], registry=r)
        self.verifications = Counter("creditshare_verifications", "Verify requests by result", ["match"], registry=r)
        self.rate_limited = Counter("creditshare_rate_limited", "Queries refused by rate limit", ["scope"], registry=r)
        self.signing_lanes = Gauge(
            "creditshare_signing_lanes",
            "Signing keys (lanes) that take new batches; a lane retires when its delegate signer is removed",
            registry=r,
        )
        self.chain_head = Gauge(
            "creditshare_chain_head_block", "The chain's head block, as the index follower saw it", registry=r
        )
        self.indexed_block = Gauge("creditshare_indexed_block", "The last block in the index", registry=r)
        self.index_lag = Gauge(
            "creditshare_index_lag_blocks", "Blocks between the head (less confirmations) and the index", registry=r
        )
        self.quarantined = Gauge(
            "creditshare_quarantined_logs",
            "Logs the index holds in quarantine (refused: left out of every report), by reason",
            ["reason"],
            registry=r,
        )
        self.keyshare_answers = Counter(
            "creditshare_keyshare_answers",
            "Answers of key-share holders to this gateway, by holder index and outcome (ok, unreachable, "
            "invalid, or the holder's refusal code)",
            ["holder", "outcome"],
            registry=r,
        )
        self.group_commit_size = Histogram(
            "creditshare_group_commit_size",
            "Requests' writes (audit entry and inquiry) committed by one transaction",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=r,
        )
        self.report_seconds = Histogram(
            "creditshare_report_seconds",
            "Time to build a report from the index",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1),
            registry=r,
        )
        self.alerts_raised = Counter("creditshare_alerts_raised", "Post-loan alerts raised for this lender", registry=r)
        self.webhook_attempts = Counter(
            "creditshare_webhook_attempts",
            "Webhook delivery attempts, by outcome (delivered, failed, dead)",
            ["outcome"],
            registry=r,
        )
        self.alert_delivery_seconds = Histogram(
            "creditshare_alert_delivery_seconds",
            "Time from the block that caused an alert to its first successful webhook delivery",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 60, 600, 3600),
            registry=r,
        )
        self.webhook_dead_letters = Gauge(
            "creditshare_webhook_dead_letters", "Webhook deliveries given up (listed until re-delivered)", registry=r
        )
        self.disputes = Gauge(
            "creditshare_disputes",
            "Disputes in the index by state (open, overdue: unanswered past the 20-day deadline) across the consortium",
            ["state"],
            registry=r,
        )
        self.disputes_opened = Gauge(
            "creditshare_disputes_opened_by_member",
            "Disputes each member has opened (as indexed), so that abuse is visible",
            ["member"],
            registry=r,
        )

    def observe_rpc(self, method: str, seconds: float, outcome: str) -> None:
        """Count one JSON-RPC request to the node and its time (`chain.rpc.RpcObserver`)."""
        self.rpc_requests.labels(method, outcome).inc()
        self.rpc_seconds.observe(seconds)

    def observe_failover(self, previous: int, now: int) -> None:
        """Count a change of chain node and show which one is in use (`chain.nodes.NodeSet`)."""
        self.rpc_failovers.inc()
        self.rpc_node.set(now)
