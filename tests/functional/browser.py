"""Headless Chromium driven through Selenium, for the web page's tests.

Uses Debian's ``chromium`` and ``chromium-driver`` (``make system-packages``
installs them) at fixed paths: Selenium Manager is never asked to download a
browser or a driver (the test machines have no internet). A missing or broken
Chromium skips the test, or fails it under ``CI=true``, like the other services.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import service_unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",  # tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)

T = TypeVar("T")


class Browser:
    """A WebDriver plus waiting helpers that say what they waited for."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def open(self, url: str) -> None:
        self.driver.get(url)

    def wait(self, condition: Callable[[], T], message: str, timeout: float = 20) -> T:
        """Poll ``condition`` until it returns something truthy; return that.

        Elements replaced by a refresh (stale) or not drawn yet count as "not
        yet". On timeout the error names ``message`` and shows what the page says.
        """

        def attempt(_: object) -> T | Literal[False]:
            try:
                return condition()
            except (NoSuchElementException, StaleElementReferenceException):
                return False

        try:
            result: T = WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(attempt)
        except TimeoutException:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message}\n"
                f"URL: {self.driver.current_url}\n{self.describe()}"
            ) from None
        return result

    def accept_alert(self, message: str, timeout: float = 10) -> str:
        """Wait for a ``confirm()`` or ``alert()`` dialog, accept it, return its text."""
        return self._answer_alert(message, timeout, accept=True)

    def dismiss_alert(self, message: str, timeout: float = 10) -> str:
        """Wait for a ``confirm()`` dialog, answer Cancel, return its text."""
        return self._answer_alert(message, timeout, accept=False)

    def _answer_alert(self, message: str, timeout: float, *, accept: bool) -> str:
        try:
            alert = WebDriverWait(self.driver, timeout).until(
                expected_conditions.alert_is_present())
        except TimeoutException:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message}\n{self.describe()}"
            ) from None
        assert alert is not False
        text = str(alert.text)
        if accept:
            alert.accept()
        else:
            alert.dismiss()
        return text

    def find(self, css: str) -> WebElement:
        return self.driver.find_element("css selector", css)

    def find_all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements("css selector", css)

    def text(self, css: str) -> str:
        """The text of the first element matching ``css`` (hidden text included)."""
        return str(self.find(css).get_attribute("textContent") or "")

    def attribute(self, css: str, name: str) -> str | None:
        return self.find(css).get_attribute(name)

    def script_errors(self) -> list[str]:
        """Messages of uncaught script errors in the console (network errors excluded)."""
        entries = self.driver.get_log("browser")
        return [
            str(entry["message"]) for entry in entries
            if entry.get("level") == "SEVERE" and entry.get("source") != "network"
            and "Failed to load resource" not in str(entry["message"])
        ]

    def describe(self) -> str:
        """The page's visible text, for failure messages."""
        try:
            body = self.driver.find_element("tag name", "body").text
        except WebDriverException as exc:
            return f"(page unreadable: {exc.msg})"
        return f"Page text:\n{body[:3000]}"


def _options(profile_dir: Path) -> Options:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return options


@contextlib.contextmanager
def chromium(work_dir: Path) -> Iterator[Browser]:
    """Start a headless Chromium with a fresh profile under ``work_dir``; quit it after."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        service_unavailable(
            f"Chromium unavailable: {', '.join(missing)} missing "
            "(Debian packages chromium and chromium-driver)")
    work_dir.mkdir(parents=True, exist_ok=True)
    service = Service(executable_path=str(CHROMEDRIVER),
                      log_output=str(work_dir / "chromedriver.log"))
    problem = None
    try:
        driver = webdriver.Chrome(service=service, options=_options(work_dir / "profile"))
    except WebDriverException as exc:
        problem = exc.msg or str(exc)
    if problem is not None:  # outside the except: the skip is not chained to the error
        service_unavailable(f"Chromium did not start: {problem}")
    driver.set_page_load_timeout(30)
    try:
        yield Browser(driver)
    finally:
        driver.quit()
