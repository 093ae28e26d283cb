"""Request bodies: read within the size limit and parsed as UTF-8 JSON here, so that every body failure is the
documented error (`413 body_too_large`, `400 invalid_json`) and never FastAPI's generic
`400 "There was an error parsing the body"` or a 500.

`POST /v1/events` reads its body itself with `read_json` (after authentication). Routes that declare a JSON body
model (`POST /v1/reports`, `POST /v1/verify`) use `JsonBodyRoute`, which does the same before FastAPI validates
the body against the model. Numbers are read by value and a number too large for any field becomes
`OversizeNumber`, which validation rejects like any out-of-range value (`creditshare.domain.json_input`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from creditshare.api.errors import ApiError, UnreadableBody
from creditshare.domain import json_input


async def read_body(request: Request, limit: int) -> bytes:
    """The body, at most `limit` bytes: by its Content-Length, and counted while reading (chunked bodies)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "body_too_large", f"request body over {limit} bytes")
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """Parse a body as UTF-8 JSON; `ApiError` 400 `invalid_json` if it is not."""
    try:
        return json_input.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_json", "request body is not valid UTF-8") from None
    except RecursionError:
        raise ApiError(400, "invalid_json", "request body is nested too deeply") from None
    except json_input.NotJson as exc:
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    except ValueError as exc:  # json.JSONDecodeError, or anything else the parser refuses
        message = getattr(exc, "msg", None) or "unreadable value"
        position = getattr(exc, "pos", None)
        where = f" at {position}" if position is not None else ""
        raise ApiError(400, "invalid_json", f"request body is not valid JSON: {message}{where}") from None


async def read_json(request: Request, limit: int) -> Any:
    """Read the body within `limit` bytes (413 otherwise) and parse it as UTF-8 JSON (400 otherwise)."""
    return parse_json(await read_body(request, limit))


class _ParsedRequest(Request):
    """The request with its body already read and parsed: what FastAPI's body handling asks for."""

    def __init__(self, request: Request, body: bytes, parsed: Any) -> None:
        super().__init__(request.scope, request.receive)
        self._raw_body = body
        self._parsed = parsed

    async def body(self) -> bytes:
        return self._raw_body

    async def json(self) -> Any:
        return self._parsed


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is read (limit: the gateway's `max_body_bytes`) and parsed here before FastAPI
    validates it against the route's body model. A body that is not JSON reaches FastAPI as `UnreadableBody`:
    the dependencies still run first (no key is 401 whatever the body), then validation fails on it and the
    error handler answers `400 invalid_json`. Routes without a body are left as they are."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def parse_then_handle(request: Request) -> Response:
            limit: int = request.app.state.gateway.settings.max_body_bytes
            body = await read_body(request, limit)
            try:
                parsed = parse_json(body)
            except ApiError as exc:
                parsed = UnreadableBody(exc)
            return await handler(_ParsedRequest(request, body or b"null", parsed))

        return parse_then_handle
