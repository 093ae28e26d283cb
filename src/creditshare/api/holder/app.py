"""The holder's app: `POST /v1/evaluate` (signed by an active lender), `GET /v1/log/head`, `/healthz`.

The evaluate route reads the body as bytes: the caller's signature covers those exact bytes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from creditshare import __version__
from creditshare.api import errors
from creditshare.api.errors import ApiError, error_body
from creditshare.api.schemas.keyshare import EvaluateRequest, EvaluateResponse, LogHead
from creditshare.core.exceptions import ChainError
from creditshare.keyshare.errors import KeyshareError, QuotaExceeded
from creditshare.keyshare.holder import Holder
from creditshare.keyshare.wire import MAX_BATCH, MEMBER_HEADER, SIGNATURE_HEADER, TIME_HEADER

router = APIRouter()


def _holder(request: Request) -> Holder:
    holder: Holder = request.app.state.holder
    return holder


HolderDep = Annotated[Holder, Depends(_holder)]


class SignedBody:
    """An authenticated request: the active lender that signed it and the exact bytes it signed."""

    def __init__(self, member: str, body: bytes) -> None:
        self.member, self.body = member, body


async def signed_body(request: Request, holder: HolderDep) -> SignedBody:
    """Authentication as a dependency: the signature, its time and the signer's membership are checked before the
    route runs (the registry read happens in a worker thread)."""
    body = await request.body()
    member = await run_in_threadpool(holder.authenticate, request.headers, body)
    return SignedBody(member, body)


_REQUEST_SCHEMA = EvaluateRequest.model_json_schema()
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"description": description}
    for status, description in {
        401: "Not signed by the named member, or stale (`bad_signature`, `stale_request`)",
        403: "Signer is not an active lender (`not_active_member`)",
        409: "Request id already answered (`replayed_request`)",
        422: "Malformed, not a point, or no inquiry (`invalid_request`, `invalid_element`, `inquiry_required`)",
        429: "Quota for this minute or day used (`quota_exceeded`; `Retry-After`)",
        503: "The registry cannot be read to check the caller (`registry_unavailable`)",
    }.items()
}


@router.post(
    "/v1/evaluate",
    response_model=EvaluateResponse,
    summary=f"Apply this holder's share to up to {MAX_BATCH} blinded points",
    description=f"Sign with the lender key: headers `{MEMBER_HEADER}`, `{TIME_HEADER}`, `{SIGNATURE_HEADER}`.",
    responses=_ERRORS,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _REQUEST_SCHEMA}}}},
)
def evaluate(signed: Annotated[SignedBody, Depends(signed_body)], holder: HolderDep) -> EvaluateResponse:
    try:
        return holder.evaluate(signed.member, signed.body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or None
        raise ApiError(422, "invalid_request", str(first["msg"]), field) from None


@router.get("/v1/log/head", response_model=LogHead, summary="Newest entry of the evaluation log and the last anchor")
def log_head(holder: HolderDep) -> LogHead:
    return holder.log_head()


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_holder_app(holder: Holder) -> FastAPI:
    """Build the holder's app around a `Holder`."""
    app = FastAPI(
        title="creditshare key-share holder",
        version=__version__,
        description="Threshold OPRF evaluation for subject keys v2 (RFC 9497 ristretto255-SHA512, share proofs).",
    )
    app.state.holder = holder
    errors.install(app)

    @app.exception_handler(KeyshareError)
    async def _refused(_: Request, exc: KeyshareError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QuotaExceeded) else None
        return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.status, headers=headers)

    @app.exception_handler(ChainError)
    async def _registry(_: Request, exc: ChainError) -> JSONResponse:
        message = f"the registry cannot be read to check the caller's membership: {exc}"
        return JSONResponse(error_body("registry_unavailable", message), status_code=503)

    app.include_router(router)
    return app
