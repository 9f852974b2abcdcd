"""The dashboard at its own URL in a real `airflow api-server`: access rules, Airflow's
permissions, and the grid as Chromium renders it (selenium).

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package; skipped
when they are missing. One Airflow home on SQLite, SimpleAuthManager with two known
users (clerk: admin, viewer: viewer), stand-in DAGs with the real DAGs' ids and mapping,
a run of quarterly_report for 2023Q1 made by ``airflow dags test``; no scheduler. The
page inside the Airflow UI, with its actions against real runs, is test_in_airflow_ui.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from wcreport_testing.dashboard_fixtures import write_programme_quarter
from wcreport_testing.net import free_port

from wcreport.core.model import Manifest
from wcreport.dashboard import view as dv

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
USERS = {"clerk": "clerk-pass-123", "viewer": "viewer-pass-123"}



def _env(home: Path, output: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "clerk:admin,viewer:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API_AUTH__JWT_SECRET": "browser-test-jwt-secret",
        "AIRFLOW__API__SECRET_KEY": "browser-test-secret-key",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "REPORT_OUTPUT": str(output),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    })
    return env


def _airflow(env, *args, timeout=600):
    result = subprocess.run([str(VENV_BIN / "airflow"), *args], env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"airflow {args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def server(tmp_path_factory, programme):
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("needs Debian's chromium and chromium-driver")
    pytest.importorskip("selenium")
    home = tmp_path_factory.mktemp("airflow_dash")
    output = home / "output"
    write_programme_quarter(programme, "2023Q1", output)
    write_programme_quarter(programme, "2023Q2", output)
    (home / "dags").mkdir()
    shutil.copy(HERE / "stub_dags" / "quarterly_stubs.py", home / "dags" / "quarterly_stubs.py")
    (home / "passwords.json").write_text(json.dumps(USERS), encoding="utf-8")
    port = free_port()
    env = _env(home, output, port)
    timings = {}
    t0 = time.perf_counter()
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")
    timings["setup_db"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _airflow(env, "dags", "test", "quarterly_report", "2023-04-01", "--conf", json.dumps({"quarter": "2023Q1"}))
    timings["dags_test"] = time.perf_counter() - t0
    log = open(home / "api-server.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "airflow"), "api-server", "--port", str(port), "--host", "127.0.0.1"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    try:
        deadline = time.time() + 180
        while True:
            try:
                if httpx.get(f"{base}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise AssertionError("api-server did not start:\n" + (home / "api-server.log").read_text()[-4000:])
            time.sleep(0.5)
        timings["api_server_start"] = time.perf_counter() - t0
        yield {"base": base, "output": output, "home": home, "env": env, "timings": timings}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _token(base: str, user: str) -> str:
    response = httpx.post(f"{base}/auth/token", json={"username": user, "password": USERS[user]}, timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1600,1300", "--lang=zh-CN",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(predicate, timeout=30, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as exc:
            last = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def _sign_in(driver, base: str, user: str = "clerk") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/auth/login")
    username = _wait(lambda: driver.find_element(By.CSS_SELECTOR, "input[name='username']"), what="login form")
    username.send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(USERS[user])
    driver.find_element(By.CSS_SELECTOR, "button[type='submit']").click()
    _wait(lambda: driver.get_cookie("_token"), what="the _token session cookie")


def test_anonymous_and_traversal_are_refused_by_the_running_server(server):
    base = server["base"]
    for path in ("/wcreport/", "/wcreport/api/grid?quarter=2023Q1", "/wcreport/files/2023Q1/manifest.json"):
        response = httpx.get(base + path, timeout=10)
        assert response.status_code == 401, (path, response.status_code)
        assert "教育和体育事业中心" not in response.text
    anon_rerun = httpx.post(f"{base}/wcreport/api/rerun", json={"quarter": "2023Q1", "unit": "health"}, timeout=10)
    assert anon_rerun.status_code == 401

    secret = server["home"] / "airflow.cfg"   # outside the output folder, readable by the server
    token = _token(base, "clerk")
    auth = {"Authorization": f"Bearer {token}"}
    for path in ("/wcreport/files/%2e%2e/airflow.cfg", "/wcreport/files/..%2fairflow.cfg",
                 "/wcreport/files/2023Q1/%2e%2e/%2e%2e/airflow.cfg", "/wcreport/files/%252e%252e%252fairflow.cfg",
                 "/wcreport/files/" + str(secret).replace("/", "%2F"), "/wcreport/files/..%5cairflow.cfg"):
        response = httpx.get(base + path, headers=auth, timeout=10)
        assert response.status_code == 403, (path, response.status_code)
        assert "[core]" not in response.text
    ok = httpx.get(f"{base}/wcreport/files/2023Q1/manifest.json", headers=auth, timeout=10)
    assert ok.status_code == 200 and ok.json()["quarter"] == "2023Q1"


def test_viewer_cannot_rerun_through_airflows_permissions(server):
    base = server["base"]
    token = _token(base, "viewer")
    auth = {"Authorization": f"Bearer {token}"}
    # refused before anything else is looked at (the stand-in DAGs being paused included)
    for body in ({"quarter": "2023Q1", "unit": "health"}, {"quarter": "2023Q1", "unit": "health", "unpause": True}):
        response = httpx.post(f"{base}/wcreport/api/rerun", json=body, headers=auth, timeout=30)
        assert response.status_code == 403, response.text
        assert "权限" in response.json()["detail"]


def test_signed_in_user_sees_the_grid_cell_by_cell_in_colour(server, browser, programme):
    from selenium.webdriver.common.by import By

    base = server["base"]
    _sign_in(browser, base)
    browser.get(f"{base}/wcreport/?quarter=2023Q1")
    _wait(lambda: browser.find_element(By.ID, "grid"), what="the grid")
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#quarter option")]
    assert options == ["2023Q2", "2023Q1"]

    manifest = Manifest.model_validate_json((server["output"] / "2023Q1" / "manifest.json").read_text(encoding="utf-8"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#grid tbody tr")
    assert [r.get_attribute("data-unit") for r in rows] == [u.unit for u in manifest.units]
    seen = {}
    for row in rows:
        cells = row.find_elements(By.CSS_SELECTOR, "td[data-seq]")
        seen[row.get_attribute("data-unit")] = {int(c.get_attribute("data-seq")): c.get_attribute("data-status")
                                               for c in cells}
    for unit in manifest.units:
        for task in programme.tasks:
            raw = unit.tasks.get(task.seq)
            expected = dv.normalise_status(raw) if raw is not None else "na"
            assert seen[unit.unit][task.seq] == expected, (unit.unit, task.seq)
    # colour really differs by status (computed style, not only the class name)
    colours = {}
    for row in rows:
        for cell in row.find_elements(By.CSS_SELECTOR, "td[data-seq]"):
            colours.setdefault(cell.get_attribute("data-status"), cell.value_of_css_property("background-color"))
    assert len(set(colours.values())) == len(colours) >= 5

    # The cell link leads to the unit's task instance in the Airflow UI.
    index = [u.key for u in programme.units].index("health")
    row = browser.find_element(By.CSS_SELECTOR, "#grid tr[data-unit='health']")
    link = row.find_element(By.CSS_SELECTOR, "td[data-seq] a.ti").get_attribute("href")
    browser.get(link)
    _wait(lambda: f"/tasks/ingest_unit/mapped/{index}" in browser.current_url, what="the task instance page")
    print("timings", server["timings"])
