"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from creditshare import __version__
from creditshare.api import errors
from creditshare.api.errors import error_body
from creditshare.api.routes import events, health, reports, verify
from creditshare.domain.records import CreditEventIn
from creditshare.gateway import Gateway


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
        declared = request.headers.get("content-length", "")
        limit = gateway.settings.max_body_bytes
        if declared.isdigit() and int(declared) > limit:  # before routing and auth: never read an oversize body
            response: Response = JSONResponse(
                error_body("body_too_large", f"request body over {limit} bytes"), status_code=413
            )
        else:
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
        _document_auth_and_errors(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable code (docs/api.md)"},
                "message": {"type": "string", "description": "What is wrong, for a human"},
                "field": {"type": ["string", "null"], "description": "The offending field, if any"},
            },
        }
    },
}
_ERRORS = {
    "400": "Malformed JSON",
    "401": "Missing, unknown or revoked API key",
    "403": "The API key lacks the scope",
    "413": "Body too large (or too many records)",
    "422": "Invalid request",
    "429": "Query rate exceeded",
    "503": "Not ready (index not synced)",
}

#: Errors only some routes answer with.
_ONLY = {
    "413": ("/v1/events", "/v1/reports", "/v1/verify"),
    "429": ("/v1/reports", "/v1/verify"),
    "503": ("/v1/reports",),
}


def _document_auth_and_errors(schema: dict[str, Any]) -> None:
    """Declare the Bearer API key and the real error body (not FastAPI's default `detail`) on /v1 routes."""
    components = schema["components"]
    components.setdefault("securitySchemes", {})["apiKey"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `creditshare clients add` (also accepted as `X-API-Key`).",
    }
    components["schemas"]["Error"] = _ERROR_SCHEMA
    components["schemas"].pop("HTTPValidationError", None)
    components["schemas"].pop("ValidationError", None)
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            operation["security"] = [{"apiKey": []}]
            responses = operation.setdefault("responses", {})
            for status, text in _ERRORS.items():
                if path in _ONLY.get(status, (path,)):
                    responses.setdefault(status, {"description": text})["content"] = error_ref
