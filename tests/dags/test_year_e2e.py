"""A programme year through `airflow dags test quarterly_report`: the fourth quarter's mail carries the year.

Four quarters of the demo's sample forms: 卫生健康事业中心 sends its second-quarter form after the
deadline, 建设局 sends nothing in the third, and 教育和体育事业中心 corrects its second-quarter text in
November (the clerk reprocesses that unit; the correction waits for review, the leaders' second-quarter
mail stays as it was). The fourth quarter's mailed workbook is read back: the words of every task,
unit and quarter, each indicator's year result and verdict, the summary's counts, and LibreOffice's
print check. The fourth quarter also runs on a copy of the output folder from which the first
quarter's output was deleted: it completes, and its summary page and the run's log name the lost quarter.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from airflow_support import PROJECT_ROOT, airflow_env, run_dags_test
from wcreport.core.labels import YEAR_CELL_ZH, YEAR_VERDICT_ZH
from wcreport.core.quarter import TZ, Quarter
from wcreport.deliver.forms import FORM_SHEET
from wcreport.demo.sample import write_quarter_samples
from wcreport.report.consolidate import Consolidated
from wcreport.report.pace import ABOUT_TOLERANCE
from wcreport.report.sheets.year import INDICATORS_SHEET, SUMMARY_SHEET, TASKS_SHEET
from wcreport.report.text_flow import CONT_NEXT, CONT_PREV

pytestmark = pytest.mark.slow
YEAR = 2023
LATE_Q2, MISSING_Q3, CORRECTED_Q2 = "卫生健康事业中心", "建设局", "教育和体育事业中心"
CORRECTION = "（11月更正：补充第二季度新增完成情况。）"


def unit_of(path: Path) -> str:
    for row in openpyxl.load_workbook(path, read_only=True)[FORM_SHEET].iter_rows(values_only=True):
        first = str(row[0] or "")
        if first.startswith("单位："):
            return first.removeprefix("单位：").removeprefix("（盖章）").strip()
    raise AssertionError(f"no unit line in {path}")


def form_texts(path: Path) -> dict[int, str]:
    """task seq -> the progress text the unit wrote."""
    rows = openpyxl.load_workbook(path, read_only=True)[FORM_SHEET].iter_rows(values_only=True)
    return {int(r[0]): r[3] for r in rows if str(r[0] or "").strip().isdigit() and r[3]}


def set_received(path: Path, day: dt.datetime) -> None:
    os.utime(path, (day.timestamp(), day.timestamp()))


def correct_text(path: Path) -> None:
    """The unit's November correction: one more sentence in each of its texts."""
    workbook = openpyxl.load_workbook(path)
    for row in workbook[FORM_SHEET].iter_rows():
        if str(row[0].value or "").strip().isdigit() and row[3].value:
            row[3].value = f"{row[3].value}{CORRECTION}"
    workbook.save(path)
    set_received(path, dt.datetime(YEAR, 11, 15, 10, tzinfo=TZ))


def reprocess_unit(quarter: str, inbox: Path, output: Path, unit_name: str, programme) -> None:
    """What the clerk does for a late correction: clear the unit's ingest and merge (no mail here)."""
    from wcreport.orchestration import tasks

    run = tasks.resolve_run(quarter, str(inbox), str(output))
    tasks.gather(run)
    tasks.validate_quarter(run)
    tasks.ingest(run, next(u.key for u in programme.units if u.name == unit_name))
    tasks.merge(run)


def year_cells(ws) -> dict[tuple[int, str], list[str]]:
    """(task seq, unit name) -> the four quarter cells, continuation rows joined, line breaks dropped."""
    out: dict[tuple[int, str], list[str]] = {}
    for row in ws.iter_rows(min_row=4, values_only=True):
        if row[0] is None:
            continue
        cells = out.setdefault((int(row[0]), str(row[2]).removesuffix("（续）")), [""] * 4)
        for k in range(4):
            cells[k] += (row[3 + k] or "").removesuffix(CONT_NEXT).removeprefix(CONT_PREV)
    return {key: [c.replace("\n", "") for c in cells] for key, cells in out.items()}


def expected_year(indicator, quarters: list[Consolidated]) -> tuple[float | None, str]:
    """The indicator's year result and verdict, by its rule, from the quarters' values."""
    values = [next(i.value for i in c.indicators if i.key == indicator.key) for c in quarters]
    value = values[-1] if indicator.pace == "year_end" else next((v for v in reversed(values) if v is not None), None)
    if value is None:
        return None, "unknown"
    reached = value >= indicator.target * (ABOUT_TOLERANCE if indicator.comparison == "about" else 1)
    return value, "done" if reached else "not_done" if values[-1] is not None else "unknown"


def test_the_fourth_quarter_carries_the_year(tmp_path, programme, migrated_airflow_home, smtp_server, monkeypatch):
    inbox, output, lost = tmp_path / "inbox", tmp_path / "output", tmp_path / "output_lost"
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    written: dict[int, dict[str, Path]] = {}
    for n in (1, 2, 3, 4):
        quarter = Quarter(YEAR, n)
        files = {unit_of(p): p for p in write_quarter_samples(programme, quarter, inbox)}
        if n == 2:
            set_received(files[LATE_Q2], dt.datetime(YEAR, 7, 5, 9, tzinfo=TZ))
        if n == 3:
            files.pop(MISSING_Q3).unlink()
        written[n] = files
        if n == 4:      # the correction of the second quarter arrives in November
            correct_text(written[2][CORRECTED_Q2])
            monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_conn_uri())
            monkeypatch.setenv("REPORT_EXPECTATIONS", str(PROJECT_ROOT / "expectations"))
            reprocess_unit(f"{YEAR}Q2", inbox, output, CORRECTED_Q2, programme)
            # the same year on another output folder, where the first quarter's output is lost
            shutil.copytree(output, lost)
            shutil.rmtree(lost / f"{YEAR}Q1")
        conf = json.dumps({"quarter": str(quarter), "inbox": str(inbox), "output": str(output)})
        result = run_dags_test(env, "quarterly_report", conf)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    subjects = [m["subject"] for m in smtp_server.messages]
    assert len(subjects) == 4 and "2023年度总结" in subjects[3] and not any("年度总结" in s for s in subjects[:3])
    (attachment,) = list(smtp_server.messages[3].iter_attachments())
    workbook = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))

    # every task/unit/quarter cell holds the words accepted for that quarter
    cells = year_cells(workbook[TASKS_SHEET])
    returned = []
    for n in (1, 2, 3, 4):
        texts = {unit: form_texts(path) for unit, path in written[n].items()}
        manifest = json.loads((output / f"{YEAR}Q{n}" / "manifest.json").read_text(encoding="utf-8"))
        status = {u["unit_name"]: u["status"] for u in manifest["units"]}
        # the sample's Q4 form of 组织人事部 reports a cumulative count below its Q3 one: returned
        returned += [(name, n) for name, state in status.items() if state == "rejected"]
        for task in programme.tasks:
            for key in task.units:
                name = programme.unit(key).name
                shown = cells[(task.seq, name)][n - 1]
                if status[name] == "submitted":
                    assert shown.startswith(texts[name][task.seq].replace("\n", "")), (n, task.seq, name)
                else:
                    assert shown == YEAR_CELL_ZH["missing" if name not in texts else "rejected"], (n, task.seq, name)
                assert ("逾期报送" in shown) == (n == 2 and name == LATE_Q2)
                assert ("更正" in shown) == (n == 2 and name == CORRECTED_Q2)
    assert CORRECTION in cells[(1, CORRECTED_Q2)][1]

    # each indicator's year result and verdict, by its own rule
    quarters = [Consolidated.model_validate_json((output / f"{YEAR}Q{n}" / "consolidated.json").read_bytes())
                for n in (1, 2, 3, 4)]
    indicators = [i for t in programme.tasks for i in t.indicators]
    rows = [row for row in workbook[INDICATORS_SHEET].iter_rows(min_row=4, values_only=True)
            if isinstance(row[0], int)][:len(indicators)]     # the header repeated at a page break skipped
    verdicts = {}
    for indicator, row in zip(indicators, rows):
        value, verdict = expected_year(indicator, quarters)
        assert row[2] == indicator.name and row[4] == indicator.target
        assert (row[10], row[11]) == (value, YEAR_VERDICT_ZH[verdict]), indicator.key
        verdicts[indicator.key] = verdict

    # the summary page's counts
    tasks_done = [t.seq for t in programme.tasks if t.indicators and all(verdicts[i.key] == "done" for i in t.indicators)]
    summary = {r[0]: r[1] for r in workbook[SUMMARY_SHEET].iter_rows(min_row=4, values_only=True)}
    assert summary["实事完成情况"].startswith(f"10项实事中，已完成{len(tasks_done)}项")
    assert f"逾期报送1次：{LATE_Q2}（第2季度）" in summary["报送情况"]
    assert f"{MISSING_Q3}（第3季度）" in summary["报送情况"]
    assert f"报表被退回{len(returned)}次" in summary["报送情况"] if returned else "退回" not in summary["报送情况"]
    assert CORRECTED_Q2 in summary["报送后更正"]

    # a quarter's output lost before the fourth quarter is named; the quarter still completes
    conf = json.dumps({"quarter": f"{YEAR}Q4", "inbox": str(inbox), "output": str(lost)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert f"{YEAR}Q1 is missing" in result.stdout + result.stderr
    assert len(smtp_server.messages) == 5
    (attachment,) = list(smtp_server.messages[4].iter_attachments())
    without_q1 = openpyxl.load_workbook(io.BytesIO(attachment.get_content()))
    summary = {r[0]: r[1] for r in without_q1[SUMMARY_SHEET].iter_rows(min_row=4, values_only=True)}
    assert "输出文件夹不存在" in summary["第1季度数据缺失"]
    assert all(c[0] == YEAR_CELL_ZH["unavailable"] for c in year_cells(without_q1[TASKS_SHEET]).values())

    # LibreOffice finds nothing clipped, and every task block that fits a page stays on one
    judged = print_check(next((output / f"{YEAR}Q4").glob("*.xlsx")), tmp_path)
    assert judged["ok"], judged["problems"]
    assert {"年度总结", "年度", "年度指标"} <= {name for name, s in judged["sheets"].items() if s["printed"]}
    assert judged["sheets"]["年度总结"]["pages"] == 1


def print_check(workbook: Path, tmp_path: Path) -> dict:
    """LibreOffice's verdict on how the workbook prints (tools/check_print.py)."""
    python = Path("/usr/bin/python3")
    if not (shutil.which("soffice") and python.exists()
            and subprocess.run([str(python), "-c", "import uno"], capture_output=True).returncode == 0):
        pytest.skip("the print check needs LibreOffice with python3-uno (tools/install_system_packages.sh)")
    out = subprocess.run([str(python), str(PROJECT_ROOT / "tools" / "check_print.py"), str(workbook),
                          "--pdf", str(tmp_path / "year.pdf"), "--blocks", "汇总表", TASKS_SHEET],
                         capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout)
