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

import json
import os
import random
import re
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import openpyxl
import pytest
from browser_support import make_driver, require_browser, sign_in, visible_text, wait

from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.deliver.review_notice import REVIEW_ID_HEADER
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
CARD = "review_correction"
CLERK = "qunbk-clerk@zb.example.cn"
SEND, HOLD = "发送更正版", "不发送"


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
                                   "REPORT_CLERK_EMAIL": CLERK,
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


def signed_in(driver, stack) -> None:
    """Signed in on the UI's login page, unless this browser already is (each test may run alone)."""
    airflow = stack["airflow"]
    driver.switch_to.default_content()
    if not driver.get_cookie("_token"):
        sign_in(driver, airflow.base_url, airflow.user, airflow.password)


def open_dashboard_from_nav(driver, stack) -> None:
    """Sign in on the UI's login page, click 季度报送 in the navigation, switch into the iframe."""
    from selenium.webdriver.common.by import By

    airflow = stack["airflow"]
    signed_in(driver, stack)
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
    signed_in(browser, stack)
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


# --- the clerk's desk: corrections, their cards, the notifier, the mail state on the page --------
def unit_file(folders, unit: str) -> Path:
    name = programme_for_year(QUARTER.year).unit(unit).name
    (path,) = [p for p in (folders["inbox"] / str(QUARTER)).iterdir()
               if name in p.name and p.suffix == ".xlsx" and not p.name.startswith("~$")]
    return path


def correct_file(path: Path, note: str) -> None:
    """The unit sends a corrected workbook under the same name, a little later."""
    stat = path.stat()
    workbook = openpyxl.load_workbook(path)
    cell = next(row[3] for row in workbook[FORM_SHEET].iter_rows()
                if str(row[0].value if row[0].value is not None else "").strip().isdigit())
    cell.value = f"{cell.value}{note}"
    workbook.save(path)
    os.utime(path, (stat.st_atime + 600, stat.st_mtime + 600))


def fill_one_deadline(path: Path) -> None:
    """The unit's (still rejected) form gets one of its blanks filled: one reason fewer, still returned."""
    stat = path.stat()
    workbook = openpyxl.load_workbook(path)
    row = next(r for r in workbook[FORM_SHEET].iter_rows()
               if str(r[0].value if r[0].value is not None else "").strip().isdigit())
    row[4].value = "2023年12月底"
    workbook.save(path)
    os.utime(path, (stat.st_atime + 1200, stat.st_mtime + 1200))


def ledger(folders) -> dict:
    return json.loads((folders["output"] / "mail_ledger.json").read_text(encoding="utf-8"))


def report_mails(stack) -> list:
    return [m for m in stack["sink"].messages if m.message["X-Report-Content-Hash"]]


def notices(stack) -> list:
    return [m for m in stack["sink"].messages if m.message[REVIEW_ID_HEADER]]


def card_states(stack) -> dict[int, str]:
    return {t["map_index"]: t["state"] for t in stack["airflow"].api.task_instances(REPORT, RUN_ID)
            if t["task_id"] == CARD}


def wait_for_card(stack, index: int, timeout: float = 900) -> dict:
    """The card once it has waited for input on two polls 5 s apart (an answer sooner can be lost)."""
    api, deadline, since = stack["airflow"].api, time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        state = card_states(stack).get(index)
        since = (since or time.monotonic()) if state == "awaiting_input" else None
        if since is not None and time.monotonic() - since >= 5:
            return api.request("GET", f"/api/v2/dags/{REPORT}/dagRuns/{RUN_ID}/taskInstances/{CARD}/{index}/"
                                      "hitlDetails")
        assert api.run(REPORT, RUN_ID)["state"] != "failed", card_states(stack)
        time.sleep(3)
    raise TimeoutError(f"card {index} never waited: {card_states(stack)}")


def rerun_from_page(browser, stack, unit: str) -> None:
    from selenium.webdriver.common.by import By

    open_dashboard_from_nav(browser, stack)
    row(browser, unit).find_element(By.CSS_SELECTOR, "button.act-rerun").click()
    click_in_result(browser, unit, "button.confirm-yes")
    result = final_result(browser, unit, timeout=900)
    assert result.text.startswith("重跑完成"), result.text


def open_card_from_notice(browser, stack, notice) -> str:
    """Follow the notifier mail's link as the clerk would; returns the card's visible text."""
    (link,) = set(re.findall(r"https?://\S+/required_actions", notice.body_text()))
    assert link.startswith(stack["airflow"].base_url)
    browser.switch_to.default_content()
    browser.get(link)
    return wait(lambda: (text := visible_text(browser)) and "审核单号" in text and SEND in text and text,
                timeout=90, what="the card under Required Actions")


def answer_in_ui(browser, option: str) -> None:
    from selenium.webdriver.common.by import By

    wait(lambda: browser.find_element(By.XPATH, f"//button[normalize-space()='{option}']"),
         what=f"the {option} button").click()


def card_workbook_link(browser) -> tuple[str, str]:
    from selenium.webdriver.common.by import By

    link = wait(lambda: next(a for a in browser.find_elements(By.CSS_SELECTOR, "a[href*='/wcreport/files/']")
                             if a.text.endswith(".xlsx")), what="the workbook link on the card")
    return link.text, link.get_attribute("href")


def download(browser, href: str) -> bytes:
    response = httpx.get(href, cookies={"_token": browser.get_cookie("_token")["value"]}, timeout=60)
    assert response.status_code == 200, response.status_code
    return response.content


def mail_section(browser, stack):
    from selenium.webdriver.common.by import By

    open_dashboard_from_nav(browser, stack)
    return browser.find_element(By.ID, "mail-state")


def test_the_clerks_desk_cards_follow_the_content_and_the_page_shows_each_mail(stack, browser, folders):
    from selenium.webdriver.common.by import By

    sink = stack["sink"]
    [original] = report_mails(stack)                                  # the run's unattended first mail
    assert "更正版" not in original.subject
    section = mail_section(browser, stack)
    first = section.find_element(By.ID, "mail-first")
    assert first.get_attribute("data-state") == "sent" and original.attachment_names()[0] in first.text

    # 1. the unit corrects its file and is rerun from the page: a card for 更正版1 waits
    correct_file(unit_file(folders, SUBMITTED), "（更正：补充本季度新增完成情况。）")
    rerun_from_page(browser, stack, SUBMITTED)
    detail = wait_for_card(stack, 0)
    [review] = ledger(folders)["reviews"]
    assert detail["subject"].startswith("审核【更正版1】") and review["content_hash"] in detail["body"]
    [notice] = [m for m in sink.wait_for(len(sink.messages) + 1, timeout=60) if m.message[REVIEW_ID_HEADER]]
    assert notice.rcpt_tos == [CLERK] and notice.message[REVIEW_ID_HEADER] == review["id"]
    pending = mail_section(browser, stack).find_element(By.CSS_SELECTOR, f"tr[data-review='{review['id']}']")
    assert pending.get_attribute("data-state") == "pending" and "已邮件通知审核人" in pending.text
    assert pending.find_element(By.CSS_SELECTOR, "a.required-actions")

    text = open_card_from_notice(browser, stack, notice)
    assert "更正版1" in text and review["content_hash"] in text and "卫生健康事业中心：报送了更正后的报表" in text
    shown_hash = re.search(r"[0-9a-f]{64}", text).group(0)
    name, href = card_workbook_link(browser)
    card_bytes = download(browser, href)
    answer_in_ui(browser, SEND)
    assert stack["airflow"].api.wait_run(REPORT, RUN_ID, timeout=600)["state"] == "success"
    mails = report_mails(stack)
    assert len(mails) == 2 and mails[1].subject.startswith("【更正版1】")
    assert mails[1].message["X-Report-Content-Hash"].strip() == shown_hash
    assert mails[1].attachment_names() == [name]
    [attachment] = list(mails[1].message.iter_attachments())
    assert attachment.get_content() == card_bytes                     # what the card linked is what went out

    # 2. a second correction: the card updates (a new request, numbered after what was sent), rejected
    correct_file(unit_file(folders, SUBMITTED), "（再次更正。）")
    rerun_from_page(browser, stack, SUBMITTED)
    detail = wait_for_card(stack, 1)
    second = ledger(folders)["reviews"][-1]
    assert second["id"] != review["id"] and detail["subject"].startswith("审核【更正版2】")
    assert card_states(stack)[0] == "success"                          # the earlier card asked nothing
    notice = next(m for m in notices(stack) if m.message[REVIEW_ID_HEADER] == second["id"])
    text = open_card_from_notice(browser, stack, notice)
    assert "更正版2" in text and second["content_hash"] in text and review["content_hash"] not in text
    answer_in_ui(browser, HOLD)
    assert stack["airflow"].api.wait_run(REPORT, RUN_ID, timeout=600)["state"] == "success"
    assert ledger(folders)["reviews"][-1]["state"] == "rejected" and len(report_mails(stack)) == 2

    # 3. a change the leaders do not read (the rejected unit's reason) asks nothing
    manifest = folders["output"] / str(QUARTER) / "manifest.json"
    reasons_before = [u["reasons"] for u in json.loads(manifest.read_text(encoding="utf-8"))["units"]
                      if u["unit"] == REJECTED]
    fill_one_deadline(unit_file(folders, REJECTED))
    notices_before, reviews_before = len(notices(stack)), len(ledger(folders)["reviews"])
    rerun_from_page(browser, stack, REJECTED)
    stack["airflow"].api.wait_run(REPORT, RUN_ID, timeout=600)
    reasons_after = [u["reasons"] for u in json.loads(manifest.read_text(encoding="utf-8"))["units"]
                     if u["unit"] == REJECTED]
    assert reasons_after != reasons_before and reasons_after != [[]]   # the pipeline saw a change
    assert ti(stack, index_of(REJECTED))["rendered_map_index"] == "民政和文旅事业中心 · 已退回"
    assert len(ledger(folders)["reviews"]) == reviews_before and len(notices(stack)) == notices_before
    assert set(card_states(stack).values()) <= {"skipped", "removed"} or not card_states(stack)
    assert len(report_mails(stack)) == 2

    # the page: first mail, 更正版1 sent, the second request rejected
    section = mail_section(browser, stack)
    assert section.find_element(By.CSS_SELECTOR, f"tr[data-review='{review['id']}']").get_attribute(
        "data-state") == "sent"
    assert section.find_element(By.CSS_SELECTOR, f"tr[data-review='{second['id']}']").get_attribute(
        "data-state") == "rejected"
    assert [c.get_attribute("data-sequence") for c in section.find_elements(By.CSS_SELECTOR, "p.mail-correction")] \
        == ["2"]
    browser.switch_to.default_content()
    browser.save_screenshot(str(DOCS / "dashboard-mail-state.png"))
