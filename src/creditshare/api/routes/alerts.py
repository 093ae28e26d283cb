"""/v1/alerts and /v1/watchlist: this lender's post-loan alerts by cursor, and the subjects it watches beyond its
open loans (scope `alerts`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from fastapi.concurrency import run_in_threadpool

from creditshare.api.body import JsonBodyRoute
from creditshare.api.deps import AlertsDep, AlertsScopeDep, RateLimitDep
from creditshare.api.errors import query_errors
from creditshare.api.schemas import AlertOut, AlertPageOut, WatchRequest

router = APIRouter(prefix="/v1", tags=["alerts"], route_class=JsonBodyRoute)


@router.get("/alerts", response_model=AlertPageOut, summary="Alerts after a cursor")
async def list_alerts(
    _: AlertsScopeDep,
    feed: AlertsDep,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The next_cursor of the last page processed (0: from the start)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPageOut:
    """Oldest first. Store `next_cursor` once a page is processed and ask with it: every alert is read exactly
    once, whatever restarts on either side."""

    def work() -> AlertPageOut:
        page = feed.page(after, limit)
        return AlertPageOut(alerts=[AlertOut(**a) for a in page.alerts], next_cursor=page.next_cursor)

    return await run_in_threadpool(work)


@router.put("/watchlist", status_code=204, summary="Watch a person (or stop watching them)")
async def watch(
    body: Annotated[WatchRequest, Body()],
    _: AlertsScopeDep,
    feed: AlertsDep,
    __: None = RateLimitDep,
) -> None:
    """Subjects with an open loan at this lender are watched automatically; this adds one (with this lender's
    reference) or, with `watching: false`, stops watching one."""

    def work() -> None:
        with query_errors():
            feed.watch_person(body.id_type, body.id_number, body.reference, watching=body.watching)

    await run_in_threadpool(work)
