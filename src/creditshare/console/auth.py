"""Sign-in state as dependencies: the session cookie, the role a page needs, and the CSRF token every form
post must carry.

Cookies are HttpOnly and SameSite=Strict (a page of another site can neither read them nor make the browser
send them), scoped to /console; the CSRF token is per session and compared in constant time, so a form posted
from anywhere else is refused even by a browser that ignores SameSite.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.concurrency import run_in_threadpool

from creditshare.console.service import ConsoleAccounts
from creditshare.core.exceptions import CreditShareError
from creditshare.core.people import OpenSession, Person
from creditshare.gateway import Gateway

SESSION_COOKIE = "cs_session"
#: Double-submit token of the sign-in form (there is no session yet to hold one).
LOGIN_CSRF_COOKIE = "cs_login_csrf"
PREFIX = "/console"


class NotSignedIn(CreditShareError):
    """No live session: the page redirects to sign-in (`expired` says whether a session just ran out)."""

    def __init__(self, expired: bool) -> None:
        super().__init__("not signed in")
        self.expired = expired


class Refused(CreditShareError):
    """A signed-in request that may not go on: `reason` is an i18n key (`forbidden`, `csrf_failed`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def get_gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


async def get_accounts(gateway: GatewayDep) -> ConsoleAccounts:
    return ConsoleAccounts(gateway.factory, gateway.settings)


AccountsDep = Annotated[ConsoleAccounts, Depends(get_accounts)]


async def signed_in(request: Request, accounts: AccountsDep) -> OpenSession:
    """The request's live session; `NotSignedIn` otherwise."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn(expired=False)
    live = await run_in_threadpool(accounts.resume, token)
    if live is None:
        raise NotSignedIn(expired=True)
    return live


SessionDep = Annotated[OpenSession, Depends(signed_in)]


async def csrf_checked(live: SessionDep, csrf_token: Annotated[str, Form()] = "") -> OpenSession:
    """The session of a form post that carries its CSRF token; `Refused` otherwise."""
    if not csrf_token or not hmac.compare_digest(csrf_token, live.csrf_token):
        raise Refused("csrf_failed")
    return live


PostDep = Annotated[OpenSession, Depends(csrf_checked)]


async def underwriter(live: SessionDep) -> Person:
    if not live.person.can_query:
        raise Refused("forbidden")
    return live.person


async def auditor(live: SessionDep) -> Person:
    if not live.person.can_audit:
        raise Refused("forbidden")
    return live.person


UnderwriterDep = Annotated[Person, Depends(underwriter)]
AuditorDep = Annotated[Person, Depends(auditor)]
