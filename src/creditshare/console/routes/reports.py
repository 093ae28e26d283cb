"""The underwriter's pages: the query form, the report, and the *Verify* check of one event against the chain.

A report page is the answer to the form's POST: it is built once, recorded once (audit log and on-chain
inquiry, naming the person), and never cached; printing it is the browser's print-to-PDF with the operator and
time watermarked by the print stylesheet.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from creditshare.console.auth import PREFIX, GatewayDep, PostDep, SessionDep, UnderwriterDep
from creditshare.console.formatting import mask_id
from creditshare.console.templating import render
from creditshare.core.clock import utcnow
from creditshare.core.exceptions import ChainError
from creditshare.domain.identity import IdType, InvalidIdentity, normalise
from creditshare.domain.purposes import Purpose
from creditshare.keyshare.errors import KeyshareUnavailable
from creditshare.read.queries import IndexNotReady, LenderNotActive, ReportAnswer

router = APIRouter(prefix=PREFIX)
#: Purposes an underwriter may choose (own-report requests come from the borrower channel, not this form).
FORM_PURPOSES = [p.label for p in Purpose if p.label != "own_report"]
_HASH = re.compile(r"^0x[0-9a-f]{64}$")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def query_form(request: Request, live: SessionDep) -> Response:
    if not live.person.can_query:
        return RedirectResponse(f"{PREFIX}/audit", status_code=303)
    return render(request, "query.html", live=live, purposes=FORM_PURPOSES, form={}, errors={})


@router.post("/report", response_class=HTMLResponse, include_in_schema=False)
async def report(
    request: Request,
    live: PostDep,
    person: UnderwriterDep,
    gateway: GatewayDep,
    id_type: Annotated[str, Form(max_length=32)] = "",
    id_number: Annotated[str, Form(max_length=128)] = "",
    purpose: Annotated[str, Form(max_length=32)] = "",
    consent_ref: Annotated[str, Form(max_length=128)] = "",
) -> HTMLResponse:
    form = {"id_type": id_type, "id_number": id_number, "purpose": purpose, "consent_ref": consent_ref}
    errors: dict[str, str] = {}
    normal = ""
    try:
        normal = normalise(id_type, id_number)
    except InvalidIdentity as exc:  # said in the page's language: the domain's message is for logs
        errors["id_number"] = "check_char_wrong" if exc.code == "invalid_check_character" else "id_format_wrong"
    if purpose not in FORM_PURPOSES:
        errors["purpose"] = "required"
    if not consent_ref.strip():
        errors["consent_ref"] = "required"
    if errors:
        return render(request, "query.html", 422, live=live, purposes=FORM_PURPOSES, form=form, errors=errors)

    def work() -> ReportAnswer:
        return gateway.queries.credit_report(
            caller=person.audit_name,
            id_type=id_type,
            id_number=id_number,
            purpose=Purpose[purpose.upper()],
            consent_ref=consent_ref.strip(),
            detailed=True,
        )

    try:
        answer = await run_in_threadpool(work)
    except (IndexNotReady, LenderNotActive, KeyshareUnavailable) as exc:
        key = {IndexNotReady: "index_not_ready", LenderNotActive: "lender_not_active"}.get(
            type(exc), "keyshare_unavailable"
        )
        context = {"live": live, "purposes": FORM_PURPOSES, "form": form, "errors": {}, "failure": key}
        return render(request, "query.html", 503, **context)
    names = await run_in_threadpool(gateway.queries.lender_names)
    return render(
        request,
        "report.html",
        live=live,
        answer=answer,
        report=answer.report,
        details=answer.details,
        masked_id=mask_id(normal),
        id_type=IdType(id_type).value,
        purpose=purpose,
        consent_ref=consent_ref.strip(),
        institution=names.get(gateway.lender.lower(), gateway.lender),
        queried_at=utcnow(),
    )


@router.post("/verify", include_in_schema=False)
async def verify(
    _: PostDep,
    __: UnderwriterDep,
    gateway: GatewayDep,
    tx_hash: Annotated[str, Form()] = "",
    record_hash: Annotated[str, Form()] = "",
    subject_key: Annotated[str, Form()] = "",
) -> JSONResponse:
    """Check one event of a report against the node's receipt of its transaction (JSON for the page's script)."""
    values = (tx_hash.lower(), record_hash.lower(), subject_key.lower())
    if not all(_HASH.match(v) for v in values):
        return JSONResponse({"error": {"code": "invalid_hash", "message": "three 0x-prefixed 32-byte hashes"}}, 422)
    tx, record, subject = (bytes.fromhex(v[2:]) for v in values)
    try:
        check = await run_in_threadpool(gateway.provenance.check, tx, record, subject)
    except ChainError as exc:
        return JSONResponse({"error": {"code": "chain_unavailable", "message": str(exc)}}, 503)
    return JSONResponse({"match": check.match, "reason": check.reason, "block": check.block, "lender": check.lender})
