"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from creditshare import __version__
from creditshare.api import errors
from creditshare.api.routes import events, health, reports, verify
from creditshare.gateway import Gateway
from creditshare.records import CreditEventIn


def create_app(gateway: Gateway, *, manage_lifecycle: bool = True) -> FastAPI:
    """Build the app around a gateway; with `manage_lifecycle` the app starts and stops its submitter."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            gateway.start()
        yield
        if manage_lifecycle:
            gateway.stop()

    app = FastAPI(
        title="creditshare gateway",
        version=__version__,
        description="A lender's gateway to the creditshare consortium ledger. Authenticate with "
        '`Authorization: Bearer <API key>`. Errors are `{"error": {"code", "message", "field"}}`.',
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    errors.install(app)
    app.include_router(events.router)
    app.include_router(reports.router)
    app.include_router(verify.router)
    app.include_router(health.router)

    @app.middleware("http")
    async def count_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        gateway.metrics.http_requests.labels(request.method, path, str(response.status_code)).inc()
        return response

    # The submit route reads its body itself (per-record validation); publish the record schema for /docs.
    original_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = original_openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "CreditEventIn" not in components:
            record = CreditEventIn.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(record.pop("$defs", {}))
            components["CreditEventIn"] = record
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
