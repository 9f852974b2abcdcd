"""Headless Chromium through selenium for the dashboard's browser tests.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package;
``require_browser()`` skips a test when they are missing.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def require_browser() -> None:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver")
    pytest.importorskip("selenium")


def make_driver(profile: Path, size: str = "1600,1300"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={size}", "--lang=zh-CN",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


def wait(predicate, timeout: float = 30, what: str = "condition", every: float = 0.25):
    """Retry ``predicate`` until it returns something truthy; exceptions count as 'not yet'."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:  # element not there yet, stale element, ...
            last = exc
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def sign_in(driver, base: str, user: str, password: str) -> None:
    """Through the Airflow UI's own login page."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/")
    username = wait(lambda: driver.find_element(By.CSS_SELECTOR, "input[name='username']"), what="the login form")
    username.send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    wait(lambda: driver.get_cookie("_token"), what="the _token session cookie")


def visible_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text
