"""The 季度报送 page where users open it: inside the Airflow UI's iframe, against real runs.

Real services (the harness of tests/integration on SQLite, as `make ui` runs them):
api-server, scheduler, dag-processor with LocalExecutor, the project's real DAGs and
plugins, an SMTP sink. The sample quarter plus the sample's faulty files (民政和文旅事业中心
sends an empty form: rejected) is run once through the scheduler; then headless Chromium
signs in on the UI's login page, opens 季度报送 from the navigation, works inside the
iframe (no browser dialogs there: the sandbox has no allow-modals/allow-popups) and checks
each outcome against the REST API. Also writes docs/dashboard.png and docs/ui-grid-rejected.png.
About 6-10 minutes on 2 cores.
"""
from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from browser_support import make_driver, require_browser, sign_in, visible_text, wait

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import write_faulty_files, write_quarter_samples

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from harness import AirflowStack

from mailsink import MailSink

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(2400)]

PROJECT = Path(__file__).resolve().parents[2]
DOCS = PROJECT / "docs"
QUARTER = Quarter(2023, 1)
RUN_ID = f"manual__{QUARTER}__in_ui_test"
REJECTED = "civil_culture"          # 民政和文旅事业中心: sends only an empty form
SUBMITTED = "health"
REPORT, REMINDERS = "quarterly_report", "quarterly_reminders"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("in_ui")
    inbox, output = root / "inbox", root / "output"
    programme = programme_for_year(QUARTER.year)
    written = write_quarter_samples(programme, QUARTER, inbox)
    (own_file,) = [p for p in written if programme.units[-1].name in p.name]
    own_file.unlink()                     # the unit's only file is then the empty form below
    write_faulty_files(programme, QUARTER, inbox / str(QUARTER), random.Random(1))
    return {"root": root, "inbox": inbox, "output": output}


@pytest.fixture(scope="module")
def stack(folders):
    require_browser()
    with MailSink() as sink:
        airflow = AirflowStack(folders["root"] / "stack", db_url=f"sqlite:///{folders['root']}/airflow.db",
                               env_overrides={
                                   "AIRFLOW_CONN_SMTP_DEFAULT": sink.airflow_conn_uri("wcreport@localhost"),
                                   "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
                                   "REPORT_INBOX": str(folders["inbox"]),
                                   "REPORT_OUTPUT": str(folders["output"]),
                                   **{k: v for k, v in os.environ.items() if k.startswith("REPORT_PROGRAMMES")},
                               })
        try:
            airflow.start()
            airflow.api.wait_dag(REPORT)
            airflow.api.wait_dag(REMINDERS)
            airflow.api.unpause(REPORT)                      # quarterly_reminders stays paused
            airflow.api.request("POST", f"/api/v2/dags/{REPORT}/dagRuns", json={
                "dag_run_id": RUN_ID, "logical_date": None, "conf": {"quarter": str(QUARTER)}})
            airflow.api.wait_run(REPORT, RUN_ID, timeout=1500)
            yield {"airflow": airflow, "sink": sink}
        finally:
            airflow.stop()


@pytest.fixture(scope="module")
def browser(stack, tmp_path_factory):
    driver = make_driver(tmp_path_factory.mktemp("chromium-profile"))
    yield driver
    driver.quit()


def ti(stack, map_index: int, task_id: str = "ingest_unit") -> dict:
    return stack["airflow"].api.request("GET", f"/api/v2/dags/{REPORT}/dagRuns/{RUN_ID}/taskInstances/"
                                               f"{task_id}/{map_index}")


def index_of(unit: str) -> int:
    return [u.key for u in programme_for_year(QUARTER.year).units].index(unit)


def open_dashboard_from_nav(driver, stack) -> None:
    """Sign in on the UI's login page, click 季度报送 in the navigation, switch into the iframe."""
    from selenium.webdriver.common.by import By

    airflow = stack["airflow"]
    driver.switch_to.default_content()
    if not driver.get_cookie("_token"):
        sign_in(driver, airflow.base_url, airflow.user, airflow.password)
    driver.get(f"{airflow.base_url}/")
    wait(lambda: driver.find_element(By.CSS_SELECTOR, "[data-testid='nav-sidebar'] a[aria-label='季度报送']"),
         what="季度报送 in the UI's navigation").click()
    frame = wait(lambda: driver.find_element(By.CSS_SELECTOR, "iframe[title='季度报送']"), what="the plugin iframe")
    assert "allow-modals" not in frame.get_attribute("sandbox") and "allow-popups" not in frame.get_attribute("sandbox")
    driver.switch_to.frame(frame)
    wait(lambda: driver.find_element(By.ID, "grid"), what="the grid inside the UI")


def row(driver, unit: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, f"#grid tr[data-unit='{unit}']")


def click_in_result(driver, unit: str, css: str) -> None:
    from selenium.webdriver.common.by import By

    wait(lambda: driver.find_element(By.CSS_SELECTOR, f"#result-{unit} {css}"), what=css).click()


def final_result(driver, unit: str, timeout: float):
    """The row's result once the page stopped polling (kind ok / err / warn)."""
    from selenium.webdriver.common.by import By

    return wait(lambda: (el := driver.find_element(By.ID, f"result-{unit}"))
                and el.get_attribute("data-kind") in ("ok", "err", "warn") and el,
                timeout=timeout, what=f"the final result of {unit}", every=1)


def test_the_run_labels_the_rejected_unit_in_the_grid(stack):
    label = ti(stack, index_of(REJECTED))["rendered_map_index"]
    assert label == "民政和文旅事业中心 · 已退回"
    assert ti(stack, index_of(SUBMITTED))["rendered_map_index"] == "卫生健康事业中心 · 已报送"


def test_page_in_the_ui_offers_reminders_only_where_needed(stack, browser):
    from selenium.webdriver.common.by import By

    open_dashboard_from_nav(browser, stack)
    assert row(browser, REJECTED).get_attribute("data-status") == "rejected"
    assert row(browser, REJECTED).find_elements(By.CSS_SELECTOR, "button.act-remind")
    assert row(browser, SUBMITTED).get_attribute("data-status") == "submitted"
    assert not row(browser, SUBMITTED).find_elements(By.CSS_SELECTOR, "button.act-remind")
    assert "（北京时间）" in visible_text(browser)


def test_remind_on_a_paused_dag_then_no_address(stack, browser):
    from selenium.webdriver.common.by import By

    open_dashboard_from_nav(browser, stack)
    mails_before = len(stack["sink"].messages)
    row(browser, REJECTED).find_element(By.CSS_SELECTOR, "button.act-remind").click()
    assert "确定立即向「民政和文旅事业中心」发送报送提醒" in browser.find_element(By.ID, f"result-{REJECTED}").text
    click_in_result(browser, REJECTED, "button.confirm-yes")
    paused = wait(lambda: (el := browser.find_element(By.ID, f"result-{REJECTED}")) and "已暂停" in el.text and el,
                  what="the paused notice")
    assert "quarterly_reminders" in paused.text
    assert stack["airflow"].api.request("GET", f"/api/v2/dags/{REMINDERS}/dagRuns")["dag_runs"] == []
    click_in_result(browser, REJECTED, "button.act-unpause")
    result = final_result(browser, REJECTED, timeout=600)
    assert result.text.startswith("未配置邮箱，未发送") and result.get_attribute("data-kind") == "err"
    assert "report_unit_emails" in result.text and "units[].email" in result.text    # where to set one

    runs = stack["airflow"].api.request("GET", f"/api/v2/dags/{REMINDERS}/dagRuns")["dag_runs"]
    (run,) = [r for r in runs if r["run_type"] == "manual"]   # unpausing also lets the daily schedule run
    assert run["dag_run_id"].startswith(f"manual__{QUARTER}__remind_{REJECTED}__")
    assert run["conf"] == {"quarter": str(QUARTER), "units": [REJECTED]}
    assert "未配置邮箱，未发送" in run["note"]
    summary = stack["airflow"].api.request(
        "GET", f"/api/v2/dags/{REMINDERS}/dagRuns/{run['dag_run_id']}/taskInstances/send_reminders/"
               "xcomEntries/return_value")["value"]
    assert summary["no_address"] == [REJECTED] and summary["sent"] == []
    assert len(stack["sink"].messages) == mails_before


def test_rerun_on_a_paused_dag_then_its_real_outcome(stack, browser):
    from selenium.webdriver.common.by import By

    stack["airflow"].api.request("PATCH", f"/api/v2/dags/{REPORT}", json={"is_paused": True})
    index = index_of(REJECTED)
    assert ti(stack, index)["try_number"] == 1
    open_dashboard_from_nav(browser, stack)
    row(browser, REJECTED).find_element(By.CSS_SELECTOR, "button.act-rerun").click()
    click_in_result(browser, REJECTED, "button.confirm-yes")
    wait(lambda: "已暂停" in browser.find_element(By.ID, f"result-{REJECTED}").text, what="the paused notice")
    assert ti(stack, index)["try_number"] == 1                    # nothing cleared while paused
    click_in_result(browser, REJECTED, "button.act-unpause")
    result = final_result(browser, REJECTED, timeout=900)
    assert result.text.startswith("重跑完成：已退回；汇总已更新"), result.text
    assert result.get_attribute("data-kind") == "ok"
    after = ti(stack, index)
    assert after["state"] == "success" and after["try_number"] == 2
    assert after["rendered_map_index"] == "民政和文旅事业中心 · 已退回"
    assert ti(stack, index_of(SUBMITTED))["try_number"] == 1      # other units untouched


def test_feedback_and_data_docs_open_on_the_page_and_task_links_move_the_ui(stack, browser):
    from selenium.webdriver.common.by import By

    open_dashboard_from_nav(browser, stack)
    row(browser, REJECTED).find_element(By.CSS_SELECTOR, "a.feedback").click()
    viewer = wait(lambda: (v := browser.find_element(By.ID, "viewer")).is_displayed() and v, what="the viewer")
    assert "民政和文旅事业中心 · 反馈" in viewer.text
    browser.switch_to.frame(browser.find_element(By.ID, "viewer-frame"))
    wait(lambda: "民政和文旅事业中心" in visible_text(browser), what="the feedback inside the page")
    assert "退回" in visible_text(browser)
    browser.switch_to.parent_frame()
    browser.find_element(By.ID, "viewer-close").click()
    assert not browser.find_element(By.ID, "viewer").is_displayed()

    row(browser, SUBMITTED).find_element(By.CSS_SELECTOR, "a.datadocs").click()
    browser.switch_to.frame(wait(lambda: browser.find_element(By.ID, "viewer-frame"), what="the viewer"))
    wait(lambda: "数据校验结果 · 卫生健康事业中心" in visible_text(browser), what="the unit's Data Docs page")
    browser.switch_to.parent_frame()
    browser.find_element(By.ID, "viewer-close").click()

    row(browser, REJECTED).find_element(By.CSS_SELECTOR, "td[data-seq] a.ti").click()
    browser.switch_to.default_content()
    wait(lambda: f"/runs/{quote(RUN_ID, safe='')}/tasks/ingest_unit/mapped/{index_of(REJECTED)}" in browser.current_url
         or f"/runs/{RUN_ID}/tasks/ingest_unit/mapped/{index_of(REJECTED)}" in browser.current_url,
         what="the UI to show the unit's task instance")


def test_screenshots_of_the_grid_and_the_dashboard(stack, browser):
    from selenium.webdriver.common.by import By

    base = stack["airflow"].base_url
    browser.switch_to.default_content()
    browser.get(f"{base}/dags/{REPORT}/runs/{RUN_ID}/tasks/ingest_unit/mapped")
    wait(lambda: "民政和文旅事业中心 · 已退回" in visible_text(browser), timeout=60,
         what="the rejected unit's label in the mapped instance list")
    DOCS.mkdir(exist_ok=True)
    browser.save_screenshot(str(DOCS / "ui-grid-rejected.png"))

    open_dashboard_from_nav(browser, stack)
    browser.switch_to.default_content()
    wait(lambda: browser.find_element(By.CSS_SELECTOR, "iframe[title='季度报送']"), what="the iframe")
    browser.save_screenshot(str(DOCS / "dashboard.png"))
    assert (DOCS / "dashboard.png").stat().st_size > 20_000
