"""The console's Jinja2 environment: templates shipped in the package, autoescaped, with the formatting
helpers as filters and the translator of the request's language."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from creditshare.console import formatting
from creditshare.console.i18n import DEFAULT_LANGUAGE, LANGUAGES, reason_text, translator

HERE = Path(__file__).resolve().parent
#: Name of the cookie holding the chosen language.
LANGUAGE_COOKIE = "cs_lang"

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(
    yuan=formatting.yuan,
    iso=formatting.iso_date,
    cst=formatting.cst_time,
    grid=formatting.grid,
    short=formatting.short_hash,
)


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, DEFAULT_LANGUAGE)
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render template `name` in the request's language. Pages are never cached: they hold personal data."""
    language = language_of(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"t": translator(language), "reason": partial(reason_text, language), "lang": language, **context},
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; "
        "form-action 'self'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response
