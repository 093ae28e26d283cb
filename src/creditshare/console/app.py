"""Mounting the console on the gateway's app: its routers, its static files, and the pages its refusals become
(a redirect to sign-in, or a 403 page)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from creditshare.console.auth import PREFIX, NotSignedIn, Refused
from creditshare.console.routes import audit, postloan, reports, session
from creditshare.console.templating import HERE, render


def install(app: FastAPI) -> None:
    """Serve the console under /console on `app` (whose `state.gateway` it uses)."""
    app.include_router(session.router)
    app.include_router(reports.router)
    app.include_router(audit.router)
    app.include_router(postloan.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, exc: NotSignedIn) -> Response:
        return RedirectResponse(f"{PREFIX}/login" + ("?expired=1" if exc.expired else ""), status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        return render(request, "refused.html", 403, reason=exc.reason)
