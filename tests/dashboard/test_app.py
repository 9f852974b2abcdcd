"""The dashboard app through FastAPI's TestClient: access, downloads, grid, actions."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from wcreport.core.model import Manifest
from wcreport.dashboard import view as dv

SECRET_TEXT = "TOP-SECRET-OUTSIDE-OUTPUT"


# --- helpers ----------------------------------------------------------------------
class GridParser(HTMLParser):
    """Collects {unit: {seq: status}} from the page's #grid table body."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict[int, str]] = {}
        self.unit: str | None = None
        self.in_body = False
        self.options: list[str] = []
        self.links: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body and "data-unit" in a:
            self.unit = a["data-unit"]
            self.cells[self.unit] = {}
            self.links[self.unit] = []
        elif tag == "td" and self.unit and "data-seq" in a:
            self.cells[self.unit][int(a["data-seq"])] = a["data-status"]
        elif tag == "a" and self.unit:
            self.links[self.unit].append(a.get("href", ""))
        elif tag == "option":
            self.options.append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
            self.unit = None


def parse(html: str) -> GridParser:
    parser = GridParser()
    parser.feed(html)
    return parser


def expected_grid(manifest: Manifest, programme) -> dict[str, dict[int, str]]:
    out = {}
    for unit in manifest.units:
        row = {}
        for task in programme.tasks:
            raw = unit.tasks.get(task.seq)
            row[task.seq] = dv.normalise_status(raw) if raw is not None else "na"
        out[unit.unit] = row
    return out


def load(output_root, quarter="2023Q1") -> Manifest:
    return Manifest.model_validate_json((output_root / quarter / "manifest.json").read_text(encoding="utf-8"))


# --- access -----------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [
    ("GET", "/"), ("GET", "/?quarter=2023Q1"), ("GET", "/api/quarters"), ("GET", "/api/grid?quarter=2023Q1"),
    ("GET", "/files/2023Q1/manifest.json"), ("GET", "/files/2023Q1/feedback/edu_sports.txt"),
    ("GET", "/ti?quarter=2023Q1&unit=edu_sports"), ("GET", "/api/ti?quarter=2023Q1&unit=edu_sports"),
    ("POST", "/api/rerun"), ("POST", "/api/remind"),
])
def test_anonymous_requests_are_refused(client, fake_airflow, method, path):
    body = {"quarter": "2023Q1", "unit": "edu_sports"} if method == "POST" else None
    response = client.request(method, path, json=body)
    assert response.status_code == 401
    assert "未登录" in response.text
    assert "教育和体育事业中心" not in response.text and "cells" not in response.text  # no data leaks
    assert fake_airflow.calls == []


def test_anonymous_browser_gets_a_chinese_login_page(client):
    response = client.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert "登录 Airflow" in response.text and "/auth/login?next=" in response.text


@pytest.mark.parametrize("token_kind", ["garbage", "wrong_secret", "expired"])
def test_bad_tokens_are_refused(client, tokens, token_kind):
    token = {"garbage": "not.a.jwt",
             "wrong_secret": tokens.make(secret="someone-elses-secret"),
             "expired": tokens.make(valid_for=-120)}[token_kind]
    assert client.get("/", cookies={"_token": token}).status_code == 401
    assert client.get("/api/quarters", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bearer_header_is_accepted(client, tokens):
    response = client.get("/api/quarters", headers={"Authorization": f"Bearer {tokens.make()}"})
    assert response.status_code == 200
    assert response.json() == {"quarters": ["2023Q2", "2023Q1"]}


# --- downloads --------------------------------------------------------------------
@pytest.fixture
def outside(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET_TEXT, encoding="utf-8")
    return secret


@pytest.mark.parametrize("path", [
    "/files/%2e%2e/secret.txt",                 # ../ percent-encoded (decoded once by the server)
    "/files/..%2fsecret.txt",
    "/files/2023Q1/%2e%2e/%2e%2e/secret.txt",
    "/files/%2e%2e%2fsecret.txt",
    "/files/%252e%252e%252fsecret.txt",         # double-encoded
    "/files/..%5csecret.txt",                   # backslash
    "/files/%2Ftmp%2Fsecret.txt",               # absolute path
    "/files//etc/passwd",
    "/files/2023Q1/feedback%00.txt",            # NUL byte
    "/files/C:%5cWindows%5cwin.ini",
])
def test_traversal_is_refused(signed_in, outside, path):
    response = signed_in.get(path)
    assert response.status_code == 403, (path, response.status_code)
    assert SECRET_TEXT not in response.text
    assert "root:" not in response.text


def test_symlinks_leading_outside_are_refused(signed_in, output_root, outside):
    (output_root / "2023Q1" / "feedback" / "link.txt").symlink_to(outside)
    (output_root / "2023Q1" / "escape").symlink_to(outside.parent, target_is_directory=True)
    for path in ("/files/2023Q1/feedback/link.txt", "/files/2023Q1/escape/secret.txt"):
        response = signed_in.get(path)
        assert response.status_code == 403, path
        assert SECRET_TEXT not in response.text


def test_absolute_path_in_encoded_form_even_to_an_existing_file(signed_in, outside):
    response = signed_in.get("/files/" + str(outside).replace("/", "%2F"))
    assert response.status_code == 403
    assert SECRET_TEXT not in response.text


def test_symlink_inside_output_is_served(signed_in, output_root):
    (output_root / "2023Q1" / "feedback" / "alias.txt").symlink_to(output_root / "2023Q1" / "feedback" / "edu_sports.txt")
    assert signed_in.get("/files/2023Q1/feedback/alias.txt").status_code == 200


def test_downloads_serve_files_inside_the_output_folder(signed_in, output_root):
    manifest = load(output_root)
    feedback = signed_in.get("/files/2023Q1/feedback/edu_sports.txt")
    assert feedback.status_code == 200
    assert "教育和体育事业中心" in feedback.text
    report = signed_in.get(f"/files/{manifest.report}?download=1")
    assert report.status_code == 200
    assert report.headers["content-disposition"].startswith("attachment")
    docs = signed_in.get(f"/files/{manifest.data_docs}")
    assert docs.status_code == 200 and "数据校验报告" in docs.text
    assert "sandbox" in docs.headers["content-security-policy"]
    assert signed_in.get("/files/2023Q1/nothing-here.txt").status_code == 404
    assert signed_in.get("/files/2023Q1").status_code == 404  # a folder is not a file


# --- page and grid ----------------------------------------------------------------
def test_grid_matches_manifest_cell_by_cell(signed_in, output_root, programme):
    manifest = load(output_root)
    page = signed_in.get("/?quarter=2023Q1")
    assert page.status_code == 200
    grid = parse(page.text)
    assert grid.cells == expected_grid(manifest, programme)
    assert list(grid.cells) == [u.unit for u in manifest.units]
    # every status appears, so the colouring of all four is exercised
    seen = {s for row in grid.cells.values() for s in row.values()}
    assert {"accepted", "warning", "rejected", "missing", "na"} <= seen

    data = signed_in.get("/api/grid?quarter=2023Q1").json()
    assert {u["unit"]: {int(k): v for k, v in u["cells"].items()} for u in data["units"]} == grid.cells


def test_cells_link_to_feedback_and_task_instance(signed_in, output_root, programme):
    manifest = load(output_root)
    grid = parse(signed_in.get("/?quarter=2023Q1").text)
    for _index, unit in enumerate(programme.units):
        m_unit = next(u for u in manifest.units if u.unit == unit.key)
        links = grid.links[unit.key]
        assert f"/ti?quarter=2023Q1&unit={unit.key}" in links
        if m_unit.feedback:
            assert f"/files/{m_unit.feedback}" in links
    data = signed_in.get("/api/grid?quarter=2023Q1").json()
    assert [u["map_index"] for u in data["units"]] == list(range(len(programme.units)))


def test_totals_and_indicators(signed_in, output_root):
    manifest = load(output_root)
    html = signed_in.get("/?quarter=2023Q1").text
    counts = {s: sum(1 for u in manifest.units if u.status == s) for s in ("submitted", "rejected", "missing")}
    for status, n in counts.items():
        assert f'data-total="{status}">' in html
        assert f'data-total="{status}">{dv.UNIT_STATUS_ZH[status]}<b>{n}</b>' in html
    cells = [dv.normalise_status(s) for u in manifest.units for s in u.tasks.values()]
    for status in dv.CELL_STATUSES:
        assert f"{dv.CELL_LABEL_ZH[status]}<b>{cells.count(status)}</b>" in html
    indicators = json.loads((output_root / "2023Q1" / "consolidated.json").read_text(encoding="utf-8"))["indicators"]
    for item in indicators:
        assert f'data-indicator="{item["key"]}"' in html


def test_missing_consolidated_json_is_tolerated(signed_in, output_root):
    (output_root / "2023Q1" / "consolidated.json").unlink()
    response = signed_in.get("/?quarter=2023Q1")
    assert response.status_code == 200
    assert 'id="no-indicators"' in response.text


def test_quarter_choice(signed_in, output_root):
    grid = parse(signed_in.get("/").text)
    assert grid.options[:2] == ["2023Q2", "2023Q1"]
    (output_root / "2024Q1").mkdir()  # no manifest: not listed
    (output_root / "notes").mkdir()
    assert signed_in.get("/api/quarters").json()["quarters"] == ["2023Q2", "2023Q1"]
    assert "2023年第2季度" in signed_in.get("/").text           # newest by default
    assert "2023年第1季度" in signed_in.get("/?quarter=2023q1").text
    bad = signed_in.get("/?quarter=../../etc")
    assert bad.status_code == 200 and 'id="error"' in bad.text
    assert signed_in.get("/api/grid?quarter=../2023Q1").status_code == 400
    assert signed_in.get("/api/grid?quarter=2022Q4").status_code == 404


def test_empty_output_folder(client, tokens, tmp_path):
    from fastapi.testclient import TestClient

    from wcreport.dashboard import create_app

    app = create_app(output_root=tmp_path / "nothing", resolve_user=tokens.resolve)
    with TestClient(app) as c:
        response = c.get("/", cookies={"_token": tokens.make()})
    assert response.status_code == 200 and 'id="no-quarters"' in response.text


def test_pagination_of_a_large_quarter(signed_in, output_root, programme, monkeypatch):
    monkeypatch.setattr(dv, "PAGE_SIZE", 4)
    data = signed_in.get("/api/grid?quarter=2023Q1&page=2&page_size=4").json()
    assert data["pages"] == 4 and data["total_rows"] == 15
    assert [u["unit"] for u in data["units"]] == [u.key for u in programme.units[4:8]]
    assert [u["map_index"] for u in data["units"]] == [4, 5, 6, 7]


# --- actions through the REST API ---------------------------------------------------
def test_rerun_clears_the_units_mapped_instance_in_the_latest_run(signed_in, fake_airflow, programme, tokens):
    token = signed_in.cookies.get("_token")
    response = signed_in.post("/api/rerun", json={"quarter": "2023Q1", "unit": "health"})
    assert response.status_code == 200, response.text
    index = [u.key for u in programme.units].index("health")
    clear = next(c for c in fake_airflow.calls if c["path"].endswith("/clearTaskInstances"))
    assert clear["path"] == "/api/v2/dags/quarterly_report/clearTaskInstances"
    assert clear["json"]["task_ids"] == [["ingest_unit", index]]
    assert clear["json"]["include_downstream"] is True and clear["json"]["dry_run"] is False
    assert clear["json"]["only_failed"] is False
    assert clear["json"]["dag_run_id"] == "manual__2023Q1_b"     # latest run of 2023Q1, not 2023Q2's
    assert all(c["auth"] == f"Bearer {token}" for c in fake_airflow.calls)  # the user's own token
    body = response.json()
    assert body["map_index"] == index and body["state"] is None and "卫生健康事业中心" in body["message"]


def test_remind_triggers_the_reminder_dag_for_one_unit(signed_in, fake_airflow):
    response = signed_in.post("/api/remind", json={"quarter": "2023Q1", "unit": "health"})
    assert response.status_code == 200, response.text
    call = next(c for c in fake_airflow.calls if c["method"] == "POST")
    assert call["path"] == "/api/v2/dags/quarterly_reminders/dagRuns"
    assert call["json"]["conf"] == {"quarter": "2023Q1", "units": ["health"]}
    assert call["json"]["logical_date"] is None
    assert call["json"]["dag_run_id"].startswith("manual__2023Q1__remind_health__")   # quarter in the run id
    assert response.json()["dag_run_id"] == call["json"]["dag_run_id"]
    assert "等待结果" in response.json()["message"]           # not "sent": that is known only later


def test_remind_is_refused_for_a_submitted_unit(signed_in, fake_airflow):
    response = signed_in.post("/api/remind", json={"quarter": "2023Q1", "unit": "zhongbu"})
    assert response.status_code == 409 and "无需提醒" in response.json()["detail"]
    assert fake_airflow.calls == []


def test_remind_on_a_paused_dag_says_so_and_unpauses_on_request(signed_in, fake_airflow):
    fake_airflow.paused = {"quarterly_reminders"}
    response = signed_in.post("/api/remind", json={"quarter": "2023Q1", "unit": "health"})
    assert response.status_code == 409
    assert response.json()["paused"] is True and "已暂停" in response.json()["detail"]
    assert not any(c["method"] != "GET" for c in fake_airflow.calls)         # nothing triggered
    response = signed_in.post("/api/remind", json={"quarter": "2023Q1", "unit": "health", "unpause": True})
    assert response.status_code == 200 and response.json()["unpaused"] is True
    writes = [(c["method"], c["path"]) for c in fake_airflow.calls if c["method"] != "GET"]
    assert writes == [("PATCH", "/api/v2/dags/quarterly_reminders"),
                      ("POST", "/api/v2/dags/quarterly_reminders/dagRuns")]


@pytest.mark.parametrize(("summary", "outcome", "text"), [
    ({"sent": [], "no_address": ["health"]}, "no_address", "未配置邮箱，未发送"),
    ({"sent": ["health"], "no_address": []}, "sent", "已发送提醒邮件"),
    ({"already_sent_today": ["health"]}, "already_sent_today", "今天已提醒过，未重复发送"),
    ({"failed": ["health"]}, "failed", "发送失败"),
    ({"sent": ["zhongbu"]}, "not_processed", "没有处理该单位"),
    (None, "skipped", "已跳过"),
])
def test_remind_result_reads_the_reminder_runs_return_value(signed_in, fake_airflow, summary, outcome, text):
    if summary is not None:
        fake_airflow.xcoms["send_reminders"] = summary
    body = {"quarter": "2023Q1", "unit": "health", "dag_run_id": "manual__2023Q1__remind_health__x"}
    result = signed_in.post("/api/remind/result", json=body).json()
    assert result["done"] is True and result["outcome"] == outcome and text in result["message"]
    note = next(c for c in fake_airflow.calls if c["method"] == "PATCH")
    assert note["path"].endswith("/dagRuns/manual__2023Q1__remind_health__x")
    assert text in note["json"]["note"] and "卫生健康事业中心" in note["json"]["note"]   # the run says it too


def test_remind_result_waits_while_the_run_is_queued_or_running(signed_in, fake_airflow):
    fake_airflow.run_states["r1"] = "running"
    result = signed_in.post("/api/remind/result", json={"quarter": "2023Q1", "unit": "health", "dag_run_id": "r1"})
    assert result.json() == {"done": False, "state": "running", "message": "提醒运行运行中，等待结果…"}
    fake_airflow.run_states["r1"] = "failed"
    result = signed_in.post("/api/remind/result", json={"quarter": "2023Q1", "unit": "health", "dag_run_id": "r1"})
    assert result.json()["done"] is True and result.json()["outcome"] == "run_failed"


def test_rerun_on_a_paused_dag_says_so_and_clears_nothing(signed_in, fake_airflow):
    fake_airflow.paused = {"quarterly_report"}
    response = signed_in.post("/api/rerun", json={"quarter": "2023Q1", "unit": "health"})
    assert response.status_code == 409 and response.json()["paused"] is True
    assert not any(c["path"].endswith("/clearTaskInstances") for c in fake_airflow.calls)
    response = signed_in.post("/api/rerun", json={"quarter": "2023Q1", "unit": "health", "unpause": True})
    assert response.status_code == 200 and response.json()["unpaused"] is True
    assert any(c["path"].endswith("/clearTaskInstances") for c in fake_airflow.calls)


@pytest.mark.parametrize(("ingest", "status", "merge", "done", "text"), [
    (None, None, None, False, "已清除，入库任务等待调度"),
    ("running", None, None, False, "入库任务运行中"),
    ("success", "rejected", None, False, "重跑完成：已退回；正在汇总"),
    ("success", "rejected", "success", True, "重跑完成：已退回；汇总已更新"),
    ("failed", None, None, True, "重跑失败"),
])
def test_rerun_progress_follows_the_task_instance_and_the_merge(signed_in, fake_airflow,
                                                                ingest, status, merge, done, text):
    fake_airflow.ti_states.update({"ingest_unit": ingest, "merge": merge})
    if status:
        fake_airflow.xcoms["ingest_unit"] = {"unit": "health", "status": status}
    result = signed_in.get("/api/ti?quarter=2023Q1&unit=health").json()
    assert result["done"] is done and text in result["message"], result
    assert result["failed"] is (ingest == "failed")


def test_page_offers_reminders_only_to_units_that_need_one_and_uses_no_dialogs(signed_in, output_root):
    manifest = load(output_root)
    html = signed_in.get("/?quarter=2023Q1").text
    for unit in manifest.units:
        row = re.search(rf'<tr data-unit="{unit.unit}".*?</tr>', html, re.S).group(0)
        assert ("act-remind" in row) is (unit.status != "submitted"), unit.unit
    # the UI's iframe has neither allow-modals nor allow-popups
    for banned in ("confirm(", "alert(", "prompt(", "window.open", 'target="_blank"'):
        assert banned not in html
    assert "（北京时间）" in html


def test_airflow_permission_errors_are_passed_on(signed_in, fake_airflow):
    fake_airflow.forbid = True
    response = signed_in.post("/api/rerun", json={"quarter": "2023Q1", "unit": "health"})
    assert response.status_code == 403 and "权限" in response.json()["detail"]


def test_actions_need_json_and_a_known_unit(signed_in, fake_airflow):
    form = signed_in.post("/api/rerun", data={"quarter": "2023Q1", "unit": "health"})
    assert form.status_code in (415, 422)
    assert signed_in.post("/api/rerun", json={"quarter": "2023Q1", "unit": "nobody"}).status_code == 404
    assert signed_in.post("/api/remind", json={"quarter": "bad", "unit": "health"}).status_code == 400
    assert fake_airflow.calls == []


def test_ti_link_redirects_into_the_airflow_ui(signed_in, programme):
    response = signed_in.get("/ti?quarter=2023Q1&unit=zhongbu", follow_redirects=False)
    index = [u.key for u in programme.units].index("zhongbu")
    assert response.status_code == 303
    assert response.headers["location"] == f"/dags/quarterly_report/runs/manual__2023Q1_b/tasks/ingest_unit/mapped/{index}"


def test_run_quarter_from_conf_or_data_interval():
    from wcreport.dashboard.airflow_api import run_quarter

    assert run_quarter({"conf": {"quarter": "2023q3"}}) == "2023Q3"
    assert run_quarter({"conf": {}, "data_interval_start": "2023-04-01T00:00:00Z"}) == "2023Q2"
    assert run_quarter({"conf": {"quarter": "nonsense"}}) is None
    assert run_quarter({"conf": None}) is None


# --- lightness ---------------------------------------------------------------------
@pytest.mark.slow
def test_page_load_imports_nothing_heavy(output_root, tmp_path):
    code = f"""
import asyncio, sys
from pathlib import Path
from fastapi.testclient import TestClient
from wcreport.dashboard import create_app
from airflow.api_fastapi import app as airflow_app
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
airflow_app._AuthManagerState.instance = SimpleAuthManager()
async def ok(token): return SimpleAuthManagerUser(username="u", role="viewer")
app = create_app(output_root=Path({str(output_root)!r}), resolve_user=ok)
with TestClient(app) as c:
    assert c.get("/?quarter=2023Q1", cookies={{"_token": "t"}}).status_code == 200
heavy = [m for m in ("pandas", "great_expectations", "openpyxl", "python_calamine", "numpy") if m in sys.modules]
print("HEAVY", heavy)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "HEAVY []" in result.stdout


def test_each_unit_shows_its_stamped_copy_and_notes(signed_in, output_root):
    from wcreport.core.model import StampedCopySummary

    manifest = load(output_root)
    sealed, unsealed = manifest.units[0], manifest.units[1]
    sealed.stamped_copy = StampedCopySummary(path="a.pdf", readable=True, seal=True, agreement=0.93)
    unsealed.stamped_copy = StampedCopySummary(path="b.jpg", readable=True, seal=False)
    sealed.notes = ["更正件未通过，沿用3月28日版本"]
    (output_root / "2023Q1" / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    html = signed_in.get("/?quarter=2023Q1").text
    assert "<th>盖章件</th>" in html
    row = html.split(f'data-unit="{sealed.unit}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-stamped="received"' in row and "与电子版一致程度：93%" in row
    assert "更正件未通过，沿用3月28日版本" in row
    row = html.split(f'data-unit="{unsealed.unit}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-stamped="no_seal"' in row and "未见公章" in row
    row = html.split(f'data-unit="{manifest.units[2].unit}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-stamped="missing"' in row and "未收到" in row
