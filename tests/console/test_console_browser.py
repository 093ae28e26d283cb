"""The console in a real headless Chromium (Debian's chromium + chromium-driver through selenium) against lender A's
real gateway: sign-in and lock-out, the query form's check-character validation, a multi-lending borrower's report
equal to the JSON API's, *Verify*, print view and PDF, the language switch, sign-out, an expired session and a
form posted without its CSRF token, and the post-loan page with an alert and a dispute. Every page is saved to
reports/screenshots/."""

from __future__ import annotations

import base64
import datetime as dt
import re
import sqlite3

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from creditshare.console.formatting import yuan
from creditshare.domain.codec import ItemType
from tests.support import credit_item
from tests.support.browser import Browser
from tests.support.console import BORROWER, LENDERS, PASSWORDS, ConsoleSite
from tests.support.gateways import wait_until
from tests.support.holders import subject_key_of


def text(browser: Browser, css: str) -> str:
    """The text of the first element matching `css`, once it is on the page."""
    return str(browser.wait_for(css).text).strip()


def sign_in(browser: Browser, site: ConsoleSite, username: str, password: str | None = None) -> None:
    browser.driver.get(site.url + "login")
    browser.driver.find_element(By.ID, "username").clear()
    browser.driver.find_element(By.ID, "username").send_keys(username)
    browser.driver.find_element(By.ID, "password").send_keys(password or PASSWORDS[username])
    browser.click_and_wait_for_page(browser.driver.find_element(By.ID, "sign-in"))


def fill_query(browser: Browser, id_number: str, consent_ref: str = "C-browser") -> None:
    driver = browser.driver
    Select(driver.find_element(By.ID, "id_type")).select_by_value("resident_id")
    driver.find_element(By.ID, "id_number").clear()
    driver.find_element(By.ID, "id_number").send_keys(id_number)
    Select(driver.find_element(By.ID, "purpose")).select_by_value("loan_application")
    driver.find_element(By.ID, "consent_ref").clear()
    driver.find_element(By.ID, "consent_ref").send_keys(consent_ref)


@pytest.fixture
def fresh(browser: Browser) -> Browser:
    """The module's browser with no cookies (signed out, Chinese)."""
    browser.clear_cookies()
    return browser


def test_sign_in_wrong_password_and_lock_out(fresh: Browser, site: ConsoleSite) -> None:
    fresh.driver.get(site.url)
    fresh.wait_for("#login-form")
    assert "登录" in fresh.driver.title + text(fresh, "h1")
    fresh.screenshot("01-login")
    sign_in(fresh, site, "uw", "not the password")
    assert text(fresh, "#login-error") == "用户名或密码错误"
    fresh.screenshot("02-login-wrong-password")
    for _ in range(5):  # five wrong passwords in a row lock the account (CREDITSHARE_CONSOLE_MAX_FAILURES)
        sign_in(fresh, site, "locky", "not the password")
    assert "已锁定" in text(fresh, "#login-error")
    sign_in(fresh, site, "locky")  # the right password, while locked
    assert "已锁定" in text(fresh, "#login-error")
    fresh.screenshot("03-login-locked")
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    assert text(fresh, "#who").startswith("张三")
    fresh.screenshot("04-query")


def test_a_bad_check_character_is_shown_and_nothing_is_sent(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    outbox_before = site.sql("SELECT count(*) FROM outbox")[0][0]
    wrong = BORROWER[:-1] + ("0" if BORROWER[-1] != "0" else "1")
    fill_query(fresh, wrong)
    assert text(fresh, "#id_number-error") == "校验位不正确，请核对证件号码"  # as typed, before any submit
    fresh.driver.find_element(By.ID, "submit-query").click()
    assert fresh.driver.current_url.endswith("/console/")  # the form stayed: nothing was posted
    assert text(fresh, "#id_number-error") == "校验位不正确，请核对证件号码"
    fresh.screenshot("05-query-bad-check-character")
    assert site.sql("SELECT count(*) FROM outbox")[0][0] == outbox_before


def test_report_of_a_multi_lending_borrower_equals_the_json_api(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    fill_query(fresh, BORROWER, "C-browser-report")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "submit-query"))
    fresh.wait_for("#report")
    api = site.api_report(BORROWER, "C-browser-api")
    for section in ("report-header", "summary", "loans", "adverse", "disputes", "inquiries", "provenance"):
        assert fresh.driver.find_element(By.ID, section).is_displayed(), section
    summary = api["summary"]
    assert text(fresh, "#grade") == api["grade"]
    assert text(fresh, "#multi-lending") == str(summary["lenders_with_active_loans"]) == "3"
    assert text(fresh, "#open-loans") == str(summary["active_loans"])
    assert text(fresh, "#total-outstanding") == yuan(summary["total_outstanding_fen"])
    overdue = sum(loan["overdue_fen"] for loan in api["loans"] if loan["status"] in ("overdue", "default"))
    assert text(fresh, "#overdue-now") == yuan(overdue)
    tables = fresh.driver.find_elements(By.CSS_SELECTOR, "table.loan")
    page_loans = sorted(
        (t.find_element(By.CSS_SELECTOR, ".lender-name").text, t.find_element(By.CSS_SELECTOR, ".outstanding").text)
        for t in tables
    )
    api_loans = sorted((loan["lender_name"], yuan(loan["outstanding_fen"])) for loan in api["loans"])
    assert page_loans == api_loans and {name for name, _ in page_loans} == {
        "Console Lender A",
        "Console Lender B",
        "Console Lender C",
    }
    assert text(fresh, "#masked-id").endswith(BORROWER[:6] + "********" + BORROWER[-4:])
    assert re.fullmatch(r"#\d+ · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text(fresh, "#as-of"))
    assert "45" in text(fresh, "#adverse") and "2030-09-01" in text(fresh, "#adverse")  # leaves after 5 years
    assert text(fresh, "#operator") == "张三（uw）"
    fresh.screenshot("06-report")

    verify = fresh.driver.find_elements(By.CSS_SELECTOR, "button.verify")
    assert len(verify) == sum(loan["events"] for loan in api["loans"])
    verify[0].click()
    result = fresh.wait_for(".verify-result.match", timeout=20)
    assert "链上核验一致" in result.text
    fresh.screenshot("07-report-verified")

    fresh.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert fresh.driver.find_element(By.ID, "watermark").is_displayed()
        assert not fresh.driver.find_element(By.ID, "print").is_displayed()
        assert "张三" in fresh.driver.find_element(By.ID, "watermark").text
        fresh.screenshot("08-report-print-view")
        pdf = base64.b64decode(fresh.driver.execute_cdp_cmd("Page.printToPDF", {"printBackground": True})["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        (fresh.folder / "08-report.pdf").write_bytes(pdf)
    finally:
        fresh.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_language_switch(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "lang-switch"))
    fresh.wait_for("#query-form")
    assert text(fresh, "h1") == "Credit report query"
    assert fresh.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    fresh.screenshot("09-query-english")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "lang-switch"))
    fresh.wait_for("#query-form")
    assert text(fresh, "h1") == "个人信用报告查询"


def test_sign_out_and_an_expired_session(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "logout"))
    assert text(fresh, "#notice") == "已退出登录"
    fresh.driver.get(site.url)
    fresh.wait_for("#login-form")  # the old cookie no longer opens anything
    fresh.screenshot("10-signed-out")

    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    idle_since = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)).strftime("%Y-%m-%d %H:%M:%S.000000")
    site.sql("UPDATE console_sessions SET last_seen_at = ?", idle_since)  # 16 minutes idle (the limit is 15)
    fresh.driver.get(site.url)
    assert text(fresh, "#notice") == "会话已过期，请重新登录"
    fresh.screenshot("11-session-expired")


def test_a_form_without_its_csrf_token_is_refused(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    audit_before = site.sql("SELECT count(*) FROM audit_log")[0][0]
    fill_query(fresh, BORROWER, "C-no-csrf")
    fresh.driver.execute_script("document.querySelector('#query-form input[name=csrf_token]').remove()")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "submit-query"))
    assert "CSRF" in text(fresh, "#refused")
    fresh.screenshot("12-csrf-refused")
    assert site.sql("SELECT count(*) FROM audit_log")[0][0] == audit_before


def test_auditor_view(fresh: Browser, site: ConsoleSite) -> None:
    sign_in(fresh, site, "uw")  # a report by the underwriter, for the auditor to find
    fresh.wait_for("#query-form")
    fill_query(fresh, BORROWER, "C-for-the-auditor")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "submit-query"))
    fresh.wait_for("#report")
    fresh.clear_cookies()
    sign_in(fresh, site, "aud")
    fresh.wait_for("#audit-table")
    assert fresh.driver.find_element(By.ID, "audit-status").get_attribute("data-ok") == "true"
    fresh.driver.find_element(By.ID, "f-person").send_keys("console:uw")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "f-submit"))
    fresh.wait_for("#audit-table")
    callers = {c.text for c in fresh.driver.find_elements(By.CSS_SELECTOR, "#audit-table td.caller")}
    assert callers == {"console:uw"}
    fresh.screenshot("13-audit")


def test_post_loan_page_shows_an_alert_and_a_dispute_with_its_deadline(fresh: Browser, site: ConsoleSite) -> None:
    c = site.consortium
    lender_a, lender_b, lender_c = (c.accounts[i] for i in LENDERS)
    db = site.env.home / "gateway.db"
    with sqlite3.connect(db, timeout=10) as conn:
        (record,) = conn.execute(
            "SELECT record_hash FROM idx_events WHERE lender = ? LIMIT 1", (lender_a.address.lower(),)
        ).fetchone()
    # Lender A's borrower falls overdue at lender B today; through lender C the borrower disputes A's record.
    today = dt.date.today()
    c.record(
        lender_b, [credit_item(ItemType.OVERDUE, today, 90_000, 9_000, 6, subject_key_of("resident_id", BORROWER))]
    )
    c.tx(lender_c).transact(c.ledger.functions.openDispute(lender_a.address, record, bytes([0x0E]) * 32))

    def kinds() -> set[str]:
        with sqlite3.connect(db, timeout=10) as conn:
            return {kind for (kind,) in conn.execute("SELECT kind FROM alerts")}

    wait_until(lambda: {"overdue", "dispute_opened"} <= kinds(), 30)
    sign_in(fresh, site, "uw")
    fresh.wait_for("#query-form")
    fresh.click_and_wait_for_page(fresh.driver.find_element(By.ID, "nav-post-loan"))
    fresh.wait_for("#alerts-table")
    rows = fresh.driver.find_elements(By.CSS_SELECTOR, "#alerts-table tr.alert-row")
    assert {"overdue", "dispute_opened"} <= {r.get_attribute("data-kind") for r in rows}
    page = fresh.driver.find_element(By.TAG_NAME, "body").text
    assert "他行逾期" in page and "本机构记录被异议" in page and "Console Lender B" in page
    disputes = fresh.driver.find_elements(By.CSS_SELECTOR, "#disputes-table tr.dispute-row")
    assert [d.get_attribute("data-state") for d in disputes] == ["open"]
    assert "针对本机构记录" in disputes[0].text and "Console Lender C" in disputes[0].text
    due = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert (
        due.strftime("%Y-%m-%d") in disputes[0].text
        or (due - dt.timedelta(minutes=5)).strftime("%Y-%m-%d") in disputes[0].text
    )
    fresh.screenshot("14-post-loan")
