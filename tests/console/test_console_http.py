"""The console over real HTTP (no browser): what a page must refuse, whatever a browser would have sent, and the
CLI that manages its users. The pages themselves are driven in a real Chromium by test_console_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.support.console import BORROWER, PASSWORDS, ConsoleSite, run_cli

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(site: ConsoleSite, username: str) -> tuple[httpx.Client, str]:
    """A client signed in as `username` and the session's CSRF token."""
    client = httpx.Client(base_url=site.env.url, follow_redirects=False, timeout=30)
    form = client.get("/console/login")
    token = CSRF.search(form.text)
    assert token, form.text
    response = client.post(
        "/console/login", data={"username": username, "password": PASSWORDS[username], "csrf_token": token.group(1)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/", response.text
    page = client.get("/console/" if username != "aud" else "/console/audit")
    csrf = CSRF.search(page.text)
    assert csrf, page.text
    return client, csrf.group(1)


@pytest.fixture(scope="module")
def underwriter(site: ConsoleSite) -> Iterator[tuple[httpx.Client, str]]:
    client, token = sign_in(site, "uw")
    yield client, token
    client.close()


def query(token: str | None, **changes: str) -> dict[str, str]:
    form = {"id_type": "resident_id", "id_number": BORROWER, "purpose": "loan_application", "consent_ref": "C-http"}
    if token is not None:
        form["csrf_token"] = token
    return {**form, **changes}


def test_pages_need_a_session(site: ConsoleSite) -> None:
    with httpx.Client(base_url=site.env.url, follow_redirects=False) as anonymous:
        pages = (
            ("GET", "/console/"),
            ("GET", "/console/audit"),
            ("GET", "/console/post-loan"),
            ("POST", "/console/report"),
        )
        for method, path in pages:
            response = anonymous.request(method, path, data=query(None) if method == "POST" else None)
            assert (response.status_code, response.headers.get("location")) == (303, "/console/login"), path
    with httpx.Client(base_url=site.env.url, follow_redirects=False, cookies={"cs_session": "a-guess"}) as guesser:
        assert guesser.get("/console/").headers.get("location") == "/console/login?expired=1"


def test_session_cookie_is_httponly_strict_and_scoped(site: ConsoleSite) -> None:
    with httpx.Client(base_url=site.env.url, follow_redirects=False) as client:
        token = CSRF.search(client.get("/console/login").text)
        assert token
        response = client.post(
            "/console/login", data={"username": "uw", "password": PASSWORDS["uw"], "csrf_token": token.group(1)}
        )
        cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("cs_session="))
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert "Path=/console" in cookie


def test_a_form_post_without_its_csrf_token_is_refused_and_changes_nothing(
    site: ConsoleSite, underwriter: tuple[httpx.Client, str]
) -> None:
    client, token = underwriter
    audit_before = site.sql("SELECT count(*) FROM audit_log")[0][0]
    outbox_before = site.sql("SELECT count(*) FROM outbox")[0][0]
    for bad in (None, "not-the-token", token[:-1]):
        response = client.post("/console/report", data=query(bad))
        assert response.status_code == 403 and "CSRF" in response.text, bad
    assert client.post("/console/logout", data={}).status_code == 403  # logout is a form post too
    assert site.sql("SELECT count(*) FROM audit_log")[0][0] == audit_before
    assert site.sql("SELECT count(*) FROM outbox")[0][0] == outbox_before


def test_sign_in_needs_its_own_csrf_cookie(site: ConsoleSite) -> None:
    with httpx.Client(base_url=site.env.url, follow_redirects=False) as client:
        response = client.post(
            "/console/login", data={"username": "uw", "password": PASSWORDS["uw"], "csrf_token": "x"}
        )
        assert response.status_code == 403 and "cs_session" not in response.headers.get("set-cookie", "")


def test_a_bad_id_is_refused_by_the_server_too_and_nothing_is_recorded(
    site: ConsoleSite, underwriter: tuple[httpx.Client, str]
) -> None:
    client, token = underwriter
    outbox_before = site.sql("SELECT count(*) FROM outbox")[0][0]
    wrong_check = BORROWER[:-1] + ("0" if BORROWER[-1] != "0" else "1")
    response = client.post("/console/report", data=query(token, id_number=wrong_check))
    assert response.status_code == 422 and "校验位不正确" in response.text
    response = client.post("/console/report", data=query(token, consent_ref=" "))
    assert response.status_code == 422
    assert site.sql("SELECT count(*) FROM outbox")[0][0] == outbox_before


def test_the_report_names_the_person_in_the_audit_log(site: ConsoleSite, underwriter: tuple[httpx.Client, str]) -> None:
    client, token = underwriter
    response = client.post("/console/report", data=query(token, consent_ref="C-audit-person"))
    assert response.status_code == 200 and "Console Lender C" in response.text
    assert response.headers["cache-control"] == "no-store"
    callers = [row[0] for row in site.sql("SELECT caller FROM audit_log ORDER BY id DESC LIMIT 1")]
    assert callers == ["console:uw"]


def test_roles_keep_auditors_out_of_reports_and_underwriters_out_of_the_audit_log(
    site: ConsoleSite, underwriter: tuple[httpx.Client, str]
) -> None:
    client, _ = underwriter
    assert client.get("/console/audit").status_code == 403
    assert client.get("/console/audit.csv").status_code == 403
    auditor, token = sign_in(site, "aud")
    try:
        assert auditor.post("/console/report", data=query(token)).status_code == 403
        assert auditor.get("/console/post-loan").status_code == 403  # the lender's borrowers: underwriters only
        assert auditor.get("/console/").headers["location"] == "/console/audit"
        export = auditor.get("/console/audit.csv", params={"person": "console:uw"})
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        lines = export.text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("id,at,caller,action") and len(lines) > 1
        assert all(",console:uw," in line for line in lines[1:])
    finally:
        auditor.close()


def test_users_cli_lists_disables_and_resets(site: ConsoleSite) -> None:
    env = site.env
    added = run_cli(env, "users", "add", "temp.user", "--role", "auditor", password="temporary-pass-1")
    assert added.returncode == 0, added.stderr
    short = run_cli(env, "users", "add", "short.pw", "--role", "auditor", password="short")
    assert short.returncode != 0 and "at least 10" in (short.stderr + short.stdout)
    taken = run_cli(env, "users", "add", "temp.user", "--role", "auditor", password="temporary-pass-1")
    assert taken.returncode != 0 and "taken" in (taken.stderr + taken.stdout)
    listed = run_cli(env, "users", "list")
    assert listed.returncode == 0 and "temp.user" in listed.stdout and "auditor" in listed.stdout
    assert run_cli(env, "users", "disable", "temp.user").returncode == 0
    assert "disabled" in run_cli(env, "users", "list").stdout
    missing = run_cli(env, "users", "disable", "no.such.user")
    assert missing.returncode != 0 and "no console user" in (missing.stderr + missing.stdout)
    reset = run_cli(env, "users", "reset-password", "temp.user", password="another-pass-12")
    assert reset.returncode == 0, reset.stderr
