"""Response models of GET /healthz and GET /readyz (GET /metrics is Prometheus text)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    status: str = Field(description='Always "ok": the process answers')


class Readiness(BaseModel):
    """The readiness checks (docs/api.md, "Health, readiness, metrics"); more keys than these may appear."""

    model_config = ConfigDict(extra="allow")

    ready: bool = Field(description="Chain reachable, contracts found, signer an active lender, ledger not paused")
    signer: str = Field(description="Address of this gateway's signing key")
    backlog: int = Field(description="Records accepted and not yet confirmed or failed")
