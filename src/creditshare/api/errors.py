"""HTTP errors: every error body is `{"error": {"code", "message", "field", ...}}`. Only this layer makes them.

Some errors add keys inside `error` (a 422 for a submission in which every record was rejected adds `results`,
the per-record outcomes).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import Scope

from creditshare.domain.identity import InvalidIdentity
from creditshare.domain.json_input import OversizeNumber
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.read.queries import IndexNotReady, LenderNotActive

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Raised by routes and dependencies to answer with an error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra


class UnreadableBody:
    """Handed to FastAPI in place of a body that is not JSON (`api.body.JsonBodyRoute`), so that the route's
    dependencies (authentication first) still run; validation then fails on it and the handler answers `error`."""

    def __init__(self, error: ApiError) -> None:
        self.error = error


def error_body(code: str, message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field, **extra}}


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the error body."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _answer(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        if isinstance(first.get("input"), UnreadableBody):
            return _answer(first["input"].error)
        field = ".".join(str(p) for p in first["loc"][1:]) or None  # drop "body" / "path" / "query"
        if first["type"] == "json_invalid":
            return JSONResponse(error_body("invalid_json", "request body is not valid JSON"), status_code=400)
        message = "number out of range" if isinstance(first.get("input"), OversizeNumber) else str(first["msg"])
        return JSONResponse(error_body("invalid_request", message, field), status_code=422)

    @app.exception_handler(KeyshareUnavailable)
    async def _keyshare(_: Request, exc: KeyshareUnavailable) -> JSONResponse:
        if exc.not_member:
            message = f"this gateway's lender is not an active member of the consortium: {exc}"
            return JSONResponse(error_body("lender_not_active", message), status_code=503)
        if exc.quota:
            return JSONResponse(error_body("keyshare_quota_exceeded", str(exc)), status_code=429)
        return JSONResponse(error_body("keyshare_unavailable", str(exc)), status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "internal error; see the gateway log"), status_code=500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # The framework's 400 is a body it could not parse (the JSON routes parse their own bodies: a fallback).
        # Its headers are kept: a 405 carries `Allow` (RFC 9110), with the methods of every route of the path (the
        # router names only the first one's; /v1/disputes has a GET and a POST route).
        code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405 and (allowed := _methods_at(request.app.router.routes, request.scope)):
            headers["Allow"] = ", ".join(sorted(allowed))
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=headers)


def _methods_at(routes: Sequence[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route matching the request's path (included routers searched too)."""
    allowed: set[str] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            allowed |= _methods_at(inner.routes, scope)
        elif (methods := getattr(route, "methods", None)) and route.matches(scope)[0] != Match.NONE:
            allowed |= set(methods)
    return allowed


def _answer(exc: ApiError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    body = error_body(exc.code, exc.message, exc.field, **exc.extra)
    return JSONResponse(body, status_code=exc.status, headers=headers)


@contextmanager
def query_errors() -> Iterator[None]:
    """What a report request can fail with, as the API's errors (the report and own-report routes)."""
    try:
        yield
    except InvalidIdentity as exc:
        field = "id_type" if exc.code == "invalid_id_type" else "id_number"
        raise ApiError(422, exc.code, str(exc), field) from None
    except IndexNotReady as exc:
        raise ApiError(503, "index_not_ready", str(exc)) from None
    except LenderNotActive as exc:
        raise ApiError(503, "lender_not_active", str(exc)) from None
