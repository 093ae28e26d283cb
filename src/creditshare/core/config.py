"""One typed settings object, read from `CREDITSHARE_*` environment variables.

pydantic-settings would be the usual choice, but every release of it needs a python-dotenv newer than the one
eth-brownie pins exactly, so the same job is done here by a small `from_env()` over a pydantic model: names are
the field names upper-cased with the `CREDITSHARE_` prefix, values are validated by pydantic.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from creditshare.core.exceptions import ConfigError
from creditshare.core.node_profile import PROFILES, GasPriceMode, NodeProfile, ProfileName

ENV_PREFIX = "CREDITSHARE_"


class Settings(BaseModel):
    """Everything a creditshare process can be configured with; defaults run the local demo."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Literal["development", "production"] = Field("development", description="development | production")
    home: Path = Field(Path(".creditshare"), description="Folder for the local chain, deployment file and data")
    rpc_url: str = Field("http://127.0.0.1:8545", description="JSON-RPC endpoint of the chain node")
    rpc_fallback_urls: str = Field(
        "",
        description="Other nodes of the chain the consortium allows, comma-separated: asked in order when the "
        "node at rpc_url fails",
    )
    chain_port: int = Field(8545, description="Port of the local dev chain started by `creditshare chain up`")
    chain_engine: Literal["ganache", "anvil"] = Field(
        "ganache", description="Program of the local dev chain (`chain up`, `demo`): ganache | anvil"
    )
    chain_profile: ProfileName | None = Field(
        None, description="Node profile: ganache | anvil | besu-qbft (default: the chain engine's)"
    )
    index_range: int | None = Field(
        None, ge=1, le=100_000, description="Widest eth_getLogs block range (default: the profile's)"
    )
    logs_max_results: int | None = Field(
        None, ge=1, description="Most logs one eth_getLogs answer may carry (default: the profile's)"
    )
    max_in_flight: int | None = Field(
        None, ge=1, le=64, description="Signed transactions pending at the node per sender (default: the profile's)"
    )
    gas_price_mode: GasPriceMode | None = Field(
        None, description="node: sign at eth_gasPrice; zero: always 0 (default: the profile's)"
    )
    poa_headers: bool | None = Field(None, description="Blocks carry POA/QBFT extraData (default: the profile's)")
    block_time: float | None = Field(None, ge=0, le=600, description="Seconds between blocks (default: the profile's)")
    deployment_file: Path | None = Field(None, description="Deployment file (default: HOME/deployment.json)")
    keystore: Path | None = Field(None, description="Keystore v3 JSON of this gateway's signing key")
    keystore_password_file: Path | None = Field(None, description="File holding the keystore passphrase")
    signer_keystores: str = Field(
        "",
        description="Keystores of delegate signers enlisted for this lender (`creditshare signers add`), "
        "comma-separated, same passphrase: each signs in its own lane beside the lender's key",
    )
    database_url: str | None = Field(None, description="SQLAlchemy URL (default: SQLite in HOME/gateway.db)")
    subject_keys: Literal["oprf", "hmac"] = Field(
        "oprf", description="oprf: v2 keys from the key-share holders; hmac: v1 keys (migration only)"
    )
    keyshare_query_batch: int = Field(
        256,
        ge=1,
        le=256,
        description="Most reports whose look-ups share one key-share round (1: a round per report)",
    )
    commit_batch: int = Field(
        256,
        ge=1,
        le=256,
        description="Most requests whose audit entries and inquiries one transaction commits (1: each alone)",
    )
    keyshare_timeout: float = Field(2.0, gt=0, le=60, description="Seconds to wait for a key-share holder")
    keyshare_hedge_after: float = Field(
        0.015,
        ge=0,
        le=60,
        description="Seconds after which a key-share round still short of answers also asks the "
        "next holder (0: only on failure)",
    )
    consortium_secret_file: Path | None = Field(
        None, description="Hex file of the v1 consortium HMAC secret (subject_keys=hmac, migration)"
    )
    consortium_secret_version: int = Field(1, ge=1, description="Version of that secret")
    record_key_file: Path | None = Field(None, description="Hex file of the AES-256 key sealing stored records")
    listen_host: str = Field("127.0.0.1", description="Address `creditshare serve` listens on")
    listen_port: int = Field(8000, ge=1, le=65535, description="Port `creditshare serve` listens on")
    batch_size: int = Field(256, ge=1, le=256, description="Most records per ledger transaction")
    batch_interval: float = Field(0.2, gt=0, le=60, description="Seconds a record may wait for a fuller batch")
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest request body accepted")
    submitter: bool = Field(True, description="Run the batch submitter in this process")
    index: bool = Field(True, description="Run the chain index follower in this process")
    confirmations: int = Field(
        0, ge=0, le=1000, description="Blocks the index stays behind the head (0: QBFT finality)"
    )
    index_poll_interval: float | None = Field(
        None,
        gt=0,
        le=60,
        description="Seconds the index follower waits before asking the node for new blocks (default: from the "
        "profile's block time)",
    )
    chain_stall_seconds: float | None = Field(
        None,
        gt=0,
        description="/readyz fails when a sent batch waits this long for its receipt, or (on a chain with a block "
        "time) the head stands still this long (default: ten block times, at least 30 s)",
    )
    index_stall_seconds: float = Field(
        30.0, gt=0, description="/readyz fails when the index follower has not advanced or caught up for this long"
    )
    policy_file: Path | None = Field(None, description="Report policy JSON (default: the shipped policy)")
    query_rate_per_minute: int = Field(120, ge=1, description="Report/verify requests per minute per API client")
    keyshare_share_file: Path | None = Field(None, description="Key-share holder: this holder's share file")
    keyshare_quota_per_minute: int = Field(600, ge=1, description="Key-share holder: evaluations/minute per member")
    keyshare_quota_per_day: int = Field(10_000, ge=1, description="Key-share holder: evaluations/day per member")
    keyshare_anchor_interval: float = Field(
        60.0, gt=0, description="Key-share holder: seconds between anchoring the evaluation log's head on chain"
    )
    lender_query_rate_per_minute: int = Field(1200, ge=1, description="Report/verify requests per minute, all clients")
    console_idle_minutes: float = Field(15, gt=0, description="Console: minutes without a request that end a session")
    console_session_hours: float = Field(8, gt=0, description="Console: hours after sign-in that end a session")
    console_max_failures: int = Field(5, ge=1, description="Console: wrong passwords in a row that lock an account")
    console_lockout_minutes: float = Field(15, gt=0, description="Console: minutes an account stays locked")
    console_secure_cookies: bool = Field(
        False, description="Console: mark cookies Secure (set it when the console is served over HTTPS)"
    )
    alerts: bool = Field(True, description="Raise post-loan alerts as the index follows the chain")
    alerts_backfill_seconds: int = Field(
        86_400, ge=0, description="Alerts: logs older than this when indexed raise none (no alerts on history)"
    )
    alerts_event_age_days: int = Field(
        7, ge=0, description="Alerts: credit events dated more than this many days ago raise none (imported history)"
    )
    webhooks: bool = Field(True, description="Run the webhook delivery thread in this process")
    webhook_timeout: float = Field(5.0, gt=0, le=60, description="Webhooks: seconds to wait for a receiver")
    webhook_first_retry: float = Field(1.0, gt=0, description="Webhooks: seconds before the first retry (then x2)")
    webhook_max_retry: float = Field(3600.0, gt=0, description="Webhooks: longest wait between two attempts")
    webhook_retry_window: float = Field(
        86_400.0, gt=0, description="Webhooks: seconds after the first attempt a delivery is dead-lettered"
    )

    @property
    def deployment_path(self) -> Path:
        return self.deployment_file or self.home / "deployment.json"

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'gateway.db'}"

    @property
    def node_profile(self) -> NodeProfile:
        """The chain node's profile (`chain_profile`, else the dev chain engine's), with any setting that overrides
        one of its fields applied."""
        profile = PROFILES[self.chain_profile or self.chain_engine]
        overrides: dict[str, Any] = {
            "max_logs_range": self.index_range,
            "max_logs_results": self.logs_max_results,
            "in_flight_per_sender": self.max_in_flight,
            "gas_price": self.gas_price_mode,
            "poa_headers": self.poa_headers,
            "block_time": self.block_time,
        }
        return dataclasses.replace(profile, **{k: v for k, v in overrides.items() if v is not None})

    @property
    def rpc_urls(self) -> list[str]:
        """The chain nodes to use, in order of preference: `rpc_url`, then the fallbacks."""
        return [self.rpc_url, *(url.strip() for url in self.rpc_fallback_urls.split(",") if url.strip())]

    @property
    def signer_keystore_paths(self) -> list[Path]:
        """The delegate signers' keystores, in the order given."""
        return [Path(p.strip()) for p in self.signer_keystores.split(",") if p.strip()]

    @property
    def stall_seconds(self) -> float:
        """Seconds after which a node that does not move counts as stalled."""
        return self.chain_stall_seconds or self.node_profile.stall_seconds

    @property
    def poll_interval(self) -> float:
        """Seconds between the index follower's looks for new blocks."""
        return self.index_poll_interval or self.node_profile.poll_interval

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from `CREDITSHARE_*` variables, then `overrides` (e.g. CLI options that were given)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in environ
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)  # type: ignore[arg-type]
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"setting {ENV_PREFIX}{field.upper()}: {first['msg']}") from exc
