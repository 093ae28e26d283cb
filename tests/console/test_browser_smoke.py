"""The browser toolchain itself (Debian's chromium + chromedriver through selenium, offline): a page with Chinese
text served on loopback renders, its cookies are seen and cleared, and a screenshot lands in reports/screenshots/."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import SCREENSHOTS, Browser

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>冒烟测试</title></head>
<body><h1 id="greeting">你好，世界</h1><script>document.cookie = "smoke=1; path=/";</script></body></html>
"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


@pytest.fixture
def page_url(tmp_path: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT/ serving PAGE as index.html from a thread."""
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_browser_renders_chinese_page_keeps_cookies_and_saves_screenshot(browser: Browser, page_url: str) -> None:
    browser.driver.get(page_url)

    assert browser.wait_for("#greeting", timeout=5).text == "你好，世界"
    assert browser.driver.title == "冒烟测试"
    assert browser.cookies()["smoke"]["value"] == "1"
    browser.clear_cookies()
    assert browser.cookies() == {}

    shot = browser.screenshot("00-browser-smoke")

    assert shot == SCREENSHOTS / "00-browser-smoke.png" and SCREENSHOTS.is_absolute()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 1000
