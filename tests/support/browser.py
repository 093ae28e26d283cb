"""A real headless Chromium for the console's tests: Debian's `chromium` driven through Debian's `chromedriver`
by selenium. Nothing is downloaded: the driver and browser paths are given, and Selenium Manager is told to stay
offline. Screenshots go to reports/screenshots/ at the repository root (git-ignored)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "reports" / "screenshots"


class Browser:
    """One headless Chromium with a fresh profile."""

    def __init__(self, width: int = 1280, height: int = 2000, language: str = "zh-CN") -> None:
        os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager fetch a driver
        self._profile = tempfile.TemporaryDirectory(prefix="creditshare-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for argument in (
            "--headless=new",
            "--no-sandbox",  # tests run as root in a container
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--window-size={width},{height}",
            f"--lang={language}",
            f"--user-data-dir={self._profile.name}",
        ):
            options.add_argument(argument)
        options.add_experimental_option("prefs", {"intl.accept_languages": language})
        try:
            self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        except BaseException:
            self._profile.cleanup()
            raise
        self.folder = SCREENSHOTS
        self.folder.mkdir(parents=True, exist_ok=True)

    def screenshot(self, name: str) -> Path:
        """Save the page as reports/screenshots/NAME.png (the full page height)."""
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, 800)  # measure the page, not the window left by the last shot
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        self.driver.set_window_size(width, max(800, min(int(height) + 100, 6000)))
        path = self.folder / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def wait_for(self, css: str, timeout: float = 10) -> WebElement:
        """The first element matching `css`, once it is visible."""
        located = expected_conditions.visibility_of_element_located(("css selector", css))
        element: WebElement = WebDriverWait(self.driver, timeout).until(located)
        return element

    def cookies(self) -> dict[str, dict[str, Any]]:
        """The cookies of the current page's site by name (each with its `httpOnly`, `sameSite`, `path`…)."""
        return {cookie["name"]: cookie for cookie in self.driver.get_cookies()}

    def click_and_wait_for_page(self, element: WebElement, timeout: float = 10) -> None:
        """Click `element` and wait until the browser has loaded the next page. A mark left on the old page's
        window tells (asking the old page's elements whether they are stale races with the navigation in
        Chromium: "Node with given id does not belong to the document")."""
        self.driver.execute_script("window.__creditshareOldPage = true")
        element.click()
        WebDriverWait(self.driver, timeout, ignored_exceptions=(WebDriverException,)).until(
            lambda driver: driver.execute_script(
                "return window.__creditshareOldPage === undefined && document.readyState === 'complete'"
            )
        )

    def clear_cookies(self) -> None:
        """Forget the cookies of the current page's site (signed out)."""
        self.driver.delete_all_cookies()

    def quit(self) -> None:
        self.driver.quit()
        self._profile.cleanup()
