"""The auditor's page: who looked whom up and why (征信业管理条例 art. 22), filtered by person, purpose and date,
the hash chain's `audit verify` status, and a CSV export of what the filter shows."""

from __future__ import annotations

import datetime as dt
import io

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from creditshare.console.auth import PREFIX, AuditorDep, GatewayDep, SessionDep
from creditshare.console.templating import render
from creditshare.read.audit import AuditQuery, write_csv

router = APIRouter(prefix=PREFIX)


def _query(person: str, purpose: str, since: str, until: str) -> tuple[AuditQuery, dict[str, str]]:
    """The filter of the page's fields; a malformed date is ignored and reported."""
    errors: dict[str, str] = {}
    dates: list[dt.date | None] = []
    for name, text in (("from", since), ("to", until)):
        try:
            dates.append(dt.date.fromisoformat(text) if text else None)
        except ValueError:
            errors[name] = "YYYY-MM-DD"
            dates.append(None)
    return AuditQuery(caller=person or None, purpose=purpose or None, since=dates[0], until=dates[1]), errors


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
async def audit_page(
    request: Request,
    live: SessionDep,
    _: AuditorDep,
    gateway: GatewayDep,
    person: str = "",
    purpose: str = "",
    since: str = "",
    until: str = "",
) -> HTMLResponse:
    query, errors = _query(person, purpose, since, until)
    entries = await run_in_threadpool(gateway.audit.search, query)
    problems = await run_in_threadpool(gateway.audit.verify)
    form = {"person": person, "purpose": purpose, "since": since, "until": until}
    return render(request, "audit.html", live=live, entries=entries, problems=problems, form=form, errors=errors)


@router.get("/audit.csv", include_in_schema=False)
async def audit_csv(
    _: AuditorDep, gateway: GatewayDep, person: str = "", purpose: str = "", since: str = "", until: str = ""
) -> Response:
    query, _errors = _query(person, purpose, since, until)
    entries = await run_in_threadpool(gateway.audit.search, query)
    out = io.StringIO()
    write_csv(entries, out)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM, so spreadsheet programs read the UTF-8 as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"', "Cache-Control": "no-store"},
    )
