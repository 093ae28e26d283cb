"""GET /healthz, /readyz and /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from creditshare.api.deps import GatewayDep
from creditshare.api.schemas import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Chain reachable, contracts found, signer an active lender",
    response_model=None,
    responses={
        200: {"model": Readiness, "description": "Ready"},
        503: {"model": Readiness, "description": "Not ready: `ready` is false and the body says why"},
    },
)
async def readyz(gateway: GatewayDep) -> Any:
    readiness = await run_in_threadpool(gateway.readiness)
    body = {"ready": readiness.ready, **readiness.checks}
    return JSONResponse(body, status_code=200 if readiness.ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "The `creditshare_*` series in Prometheus's text format"}},
)
def metrics(gateway: GatewayDep) -> Response:
    gateway.refresh_metrics()
    return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)
