"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from creditshare import __version__, console
from creditshare.api import errors
from creditshare.api.errors import error_body
from creditshare.api.routes import alerts, borrower, disputes, events, health, reports, verify
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
    app.include_router(borrower.router)
    app.include_router(disputes.router)
    app.include_router(alerts.router)
    app.include_router(health.router)
    console.install(app)

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
#: The operations whose body is JSON (they answer 400 for a body that is not).
_BORROWER = {"POST /v1/borrower/report", "POST /v1/borrower/objections"}
_DISPUTE_WRITES = {"POST /v1/disputes", "POST /v1/disputes/{dispute_id}/resolve", "POST /v1/borrower/objections"}
_JSON_BODY = {"POST /v1/events", "POST /v1/reports", "POST /v1/verify", "PUT /v1/watchlist"} | _BORROWER
_JSON_BODY |= _DISPUTE_WRITES
_QUERIES = {"POST /v1/reports", "POST /v1/verify", "POST /v1/borrower/report"}

#: Every error status an operation can answer, with the operations that can ("v1": every /v1 operation, "all":
#: every operation). 404 and 405 for an unknown path or method are not an operation's answers.
_ERRORS: dict[str, tuple[str, str | set[str]]] = {
    "400": ("The body is not UTF-8 JSON, or is nested too deeply (`invalid_json`)", _JSON_BODY),
    "401": ("No API key, or an unknown or revoked one (`unauthorized`)", "v1"),
    "403": (
        "The API key lacks the operation's scope (`forbidden`); a dispute on another lender's record "
        "(`not_record_owner`)",
        "v1",
    ),
    "404": (
        "No such event of this lender (`not_found`), an objection's record is not in the person's report "
        "(`event_not_found`), or no such dispute (`dispute_not_found`)",
        {"GET /v1/events/{event_id}", "GET /v1/disputes/{dispute_id}"} | _DISPUTE_WRITES,
    ),
    "409": (
        "A dispute on the record is already open (`dispute_already_open`), the dispute is not open "
        "(`dispute_not_open`), or the correction is not on chain yet (`correction_not_indexed`)",
        _DISPUTE_WRITES,
    ),
    "413": (
        "The body is over the size limit (`body_too_large`, any route), or holds more than 1,000 records "
        "(`too_many_records`)",
        "all",
    ),
    "422": ("Invalid request: a bad parameter or body, or every record rejected (the code says which)", "v1"),
    "429": (
        "Query rate of this API key or of this gateway exceeded (`rate_limited`), or this lender's evaluation quota "
        "at the key-share holders used up (`keyshare_quota_exceeded`), or this member's disputes of the day "
        "(`dispute_quota_exceeded`)",
        _QUERIES | {"POST /v1/events", "POST /v1/borrower/objections", "POST /v1/disputes", "PUT /v1/watchlist"},
    ),
    "503": (
        "Not ready: the index has not synced a block yet (`index_not_ready`), this gateway's lender is not an "
        "active member (`lender_not_active`, also when the key-share holders refuse it), or fewer than t key-share "
        "holders answered (`keyshare_unavailable`; nothing was stored), or a dispute transaction could not be sent "
        "(`chain_unavailable`, `consortium_paused`); retry later",
        _QUERIES | {"POST /v1/events", "PUT /v1/watchlist"} | _DISPUTE_WRITES,
    ),
}
_WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "`Bearer`: send the API key as a bearer token", "schema": {"type": "string"}}
}


def _answers(status: str, operation: str) -> bool:
    where = _ERRORS[status][1]
    if where == "all":
        return True
    if where == "v1":
        return operation.split(" ", 1)[1].startswith("/v1/")
    return operation in where


def _document_auth_and_errors(schema: dict[str, Any]) -> None:
    """Declare the Bearer API key on /v1 routes and every error status each operation can answer, with the real
    error body (not FastAPI's default `detail`)."""
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
        for method, operation in operations.items():
            name = f"{method.upper()} {path}"
            if path.startswith("/v1/"):
                operation["security"] = [{"apiKey": []}]
            responses = operation.setdefault("responses", {})
            for status, (text, _) in _ERRORS.items():
                if _answers(status, name):
                    responses[status] = {"description": text, "content": error_ref}
                    if status == "401":
                        responses[status]["headers"] = _WWW_AUTHENTICATE
