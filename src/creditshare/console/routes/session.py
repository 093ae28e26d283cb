"""Sign in, sign out, and the language switch."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from creditshare.console.auth import LOGIN_CSRF_COOKIE, PREFIX, SESSION_COOKIE, AccountsDep, GatewayDep, PostDep
from creditshare.console.formatting import cst_time
from creditshare.console.i18n import LANGUAGES
from creditshare.console.templating import LANGUAGE_COOKIE, render
from creditshare.core.people import LoginRefused

router = APIRouter(prefix=PREFIX)


def _cookie(response: Response, gateway: GatewayDep, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=gateway.settings.console_secure_cookies,
    )


def _login_page(request: Request, gateway: GatewayDep, status_code: int = 200, **context: object) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status_code, csrf_token=token, **context)
    _cookie(response, gateway, LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request, gateway: GatewayDep, expired: int = 0, out: int = 0) -> HTMLResponse:
    notice = "session_expired" if expired else "signed_out" if out else None
    return _login_page(request, gateway, notice=notice)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
async def login(
    request: Request,
    gateway: GatewayDep,
    accounts: AccountsDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token, expected):
        return _login_page(request, gateway, 403, error="csrf_failed", username=username)
    try:
        live = await run_in_threadpool(accounts.sign_in, username, password)
    except LoginRefused as exc:
        until = cst_time(exc.locked_until) if exc.locked_until else ""
        return _login_page(request, gateway, 401, error=exc.code, until=until, username=username)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    _cookie(response, gateway, SESSION_COOKIE, live.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, _: PostDep, accounts: AccountsDep) -> Response:
    await run_in_threadpool(accounts.sign_out, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(f"{PREFIX}/login?out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/lang/{language}", include_in_schema=False)
async def switch_language(language: str, gateway: GatewayDep, back: str = f"{PREFIX}/") -> Response:
    """Remember the language (a preference, not a state change worth a CSRF token) and go back."""
    target = back if back.startswith(f"{PREFIX}/") and "//" not in back else f"{PREFIX}/"
    response = RedirectResponse(target, status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86_400, path=PREFIX, samesite="strict")
    return response
