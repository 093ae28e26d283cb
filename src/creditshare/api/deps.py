"""Dependencies: the gateway's services and the authenticated caller.

The cheap ones are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread pool, and each
such hop costs a thread switch (and a wait for the GIL under load) on every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from creditshare.alerts.feed import AlertFeed
from creditshare.api.errors import ApiError
from creditshare.core.api_clients import Caller, Scope, authenticate
from creditshare.disputes.desk import DisputeDesk
from creditshare.gateway import Gateway
from creditshare.read.borrower import BorrowerDesk
from creditshare.read.queries import Queries
from creditshare.write.outbox import Outbox


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def get_outbox(gateway: GatewayDep) -> Outbox:
    return gateway.outbox


OutboxDep = Annotated[Outbox, Depends(get_outbox)]


async def get_borrowers(gateway: GatewayDep) -> BorrowerDesk:
    return gateway.borrowers


BorrowersDep = Annotated[BorrowerDesk, Depends(get_borrowers)]


async def get_disputes(gateway: GatewayDep) -> DisputeDesk:
    return gateway.disputes


DisputesDep = Annotated[DisputeDesk, Depends(get_disputes)]


async def get_alerts(gateway: GatewayDep) -> AlertFeed:
    return gateway.alerts


AlertsDep = Annotated[AlertFeed, Depends(get_alerts)]


async def get_queries(gateway: GatewayDep) -> Queries:
    return gateway.queries


QueriesDep = Annotated[Queries, Depends(get_queries)]


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


async def get_caller(request: Request, gateway: GatewayDep) -> Caller:
    """The caller owning the request's API key (`Authorization: Bearer KEY` or `X-API-Key: KEY`).

    The key is checked against the database on every request, so a revoked key stops working at once."""
    key = _api_key(request)
    if not key:
        raise ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>")

    def lookup() -> Caller | None:
        with gateway.factory() as session:
            return authenticate(session, key)

    # On SQLite (a local file) the indexed read takes ~0.2 ms, less than the hop to the thread pool (~2 ms
    # measured under load), so it runs right here; a database server is a network round trip that must not
    # block the event loop.
    caller = lookup() if gateway.engine.dialect.name == "sqlite" else await run_in_threadpool(lookup)
    if caller is None:
        raise ApiError(401, "unauthorized", "unknown or revoked API key")
    request.state.caller = caller
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def require(scope: Scope) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that admits only callers holding `scope`."""

    async def check(caller: CallerDep) -> Caller:
        if scope not in caller.scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the {scope.value!r} scope")
        return caller

    return check


SubmitterDep = Annotated[Caller, Depends(require(Scope.SUBMIT))]
QueryDep = Annotated[Caller, Depends(require(Scope.QUERY))]
VerifyDep = Annotated[Caller, Depends(require(Scope.VERIFY))]
BorrowerServiceDep = Annotated[Caller, Depends(require(Scope.BORROWER_SERVICE))]
DisputesScopeDep = Annotated[Caller, Depends(require(Scope.DISPUTES))]
AlertsScopeDep = Annotated[Caller, Depends(require(Scope.ALERTS))]


async def rate_limited(gateway: GatewayDep, caller: CallerDep) -> None:
    """429 when the caller, or this gateway's lender as a whole, exceeds its query rate."""
    if not gateway.caller_limit.allow(f"caller:{caller.id}"):
        gateway.metrics.rate_limited.labels("caller").inc()
        raise ApiError(429, "rate_limited", "too many queries from this API key; slow down")
    if not gateway.lender_limit.allow("lender"):
        gateway.metrics.rate_limited.labels("lender").inc()
        raise ApiError(429, "rate_limited", "too many queries from this lender's gateway; slow down")


RateLimitDep = Depends(rate_limited)
