"""An English browser in New York time opens the Airflow UI of `make ui` in Chinese and Beijing time,
and a language the user then chooses is kept.

A real API server (SQLite, SimpleAuthManager, the project's plugins) with the UI settings
of tools/ui_env.sh; headless Chromium with English as its language and America/New_York as
its zone signs in on the UI's login page. About a minute on 2 cores."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from browser_support import CHROMEDRIVER, CHROMIUM, require_browser, sign_in, visible_text, wait

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import AirflowStack

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]


def ui_settings() -> dict[str, str]:
    """The [wcreport_ui] settings `make ui` exports (tools/ui_env.sh)."""
    out = subprocess.run(["bash", "-c", 'source "$1/tools/ui_env.sh"; env -0', "ui_env", str(ROOT)],
                         capture_output=True, timeout=60, env={"PATH": os.environ["PATH"]}, check=True)
    pairs = (item.split("=", 1) for item in out.stdout.decode().split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith("AIRFLOW__WCREPORT_UI__")}


def english_new_york_browser(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-sync", "--window-size=1400,1000",
                 "--lang=en-US", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
    service = Service(CHROMEDRIVER, env={**os.environ, "TZ": "America/New_York", "LANGUAGE": "en_US"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    require_browser()
    root = tmp_path_factory.mktemp("ui_defaults")
    stack = AirflowStack(root / "stack", db_url=f"sqlite:///{root}/airflow.db", env_overrides={
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai", **ui_settings()})
    stack.services = {"api-server": stack.services["api-server"]}     # the UI needs nothing else here
    stack.api.wait_healthy = lambda timeout, processes: wait(       # no scheduler to be healthy
        lambda: stack.api.http.get("/api/v2/version").status_code == 200, timeout=timeout, what="the API server")
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def test_an_english_browser_gets_chinese_and_beijing_time_then_keeps_its_choice(api_server, tmp_path):
    driver = english_new_york_browser(tmp_path / "profile")
    try:
        assert driver.execute_script("return navigator.language").startswith("en")
        assert driver.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
        sign_in(driver, api_server.base_url, api_server.user, api_server.password)
        driver.get(f"{api_server.base_url}/")
        wait(lambda: {"首页", "浏览", "管理"} <= set(visible_text(driver).split()), timeout=60,
             what="the UI's navigation in Chinese")
        storage = driver.execute_script(
            "return [localStorage.getItem('i18nextLng'), localStorage.getItem('timezone')]")
        assert storage == ["zh-CN", '"Asia/Shanghai"']

        driver.execute_script("localStorage.setItem('i18nextLng', 'en')")   # as the User menu stores it
        driver.refresh()
        wait(lambda: {"Home", "Browse", "Admin"} <= set(visible_text(driver).split()), timeout=60,
             what="the UI in the language the user chose")
        assert driver.execute_script("return localStorage.getItem('i18nextLng')") == "en"
    finally:
        driver.quit()
