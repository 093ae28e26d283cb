"""The post-loan page (贷后预警): this lender's newest alerts, and the disputes on its records or opened by it,
with their 20-day deadlines — what a risk officer looks at each morning."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from creditshare.console.auth import PREFIX, GatewayDep, SessionDep, UnderwriterDep
from creditshare.console.templating import render
from creditshare.disputes.desk import Dispute

router = APIRouter(prefix=PREFIX)

#: How many of the newest alerts and disputes the page shows (the API and CLI page through all of them).
SHOWN = 200


@router.get("/post-loan", response_class=HTMLResponse, include_in_schema=False)
async def post_loan_page(request: Request, live: SessionDep, _: UnderwriterDep, gateway: GatewayDep) -> HTMLResponse:
    def load() -> tuple[list[dict[str, object]], list[tuple[str, Dispute]]]:
        alerts = gateway.alerts.recent(SHOWN)
        disputes = [("against_me", d) for d in gateway.disputes.find("against_me", limit=SHOWN)]
        disputes += [("opened", d) for d in gateway.disputes.find("opened", limit=SHOWN)]
        disputes.sort(key=lambda pair: pair[1].opened_at, reverse=True)
        return alerts, disputes

    alerts, disputes = await run_in_threadpool(load)
    names = await run_in_threadpool(gateway.queries.lender_names) if disputes else {}
    return render(request, "postloan.html", live=live, alerts=alerts, disputes=disputes, names=names)
