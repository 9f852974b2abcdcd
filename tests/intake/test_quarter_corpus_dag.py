"""Year-end habits through one `quarterly_report` run (airflow dags test) of 2023Q4.

Unit A (教体中心) sends one workbook for the whole year (三季度, 四季度, 全年 and a hidden
stale template); unit B (卫健中心) sends its right Q4 file, then last quarter's file again;
unit C (建设局) draws a two-row header (具体措施 | 进度情况 under the progress header);
unit D (科技中心) sends its Q4 file, then a file whose only quarter name is 三季度 in its
file name. The leaders' workbook must hold exactly this quarter's words, and none of
last quarter's.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import openpyxl
import pytest

from airflow_support import airflow_env, run_dags_test
from intake.corpus import Book, Sheet, form_sheet, write

pytestmark = pytest.mark.slow
QUARTER = "2023Q4"
BASE = time.mktime((2023, 12, 20, 9, 0, 0, 0, 0, -1))
TITLE = "2023年{}为高新区妇女儿童办实事工作进展情况报表"


def rows_for(programme, unit_key: str, words: str) -> list[list[object]]:
    unit = programme.unit(unit_key)
    return [[t.seq, t.name, unit.name, f"{unit.name}第{t.seq}项{words}。", "2023年12月"]
            for t in programme.tasks_of(unit_key)]


def sheet(programme, unit_key: str, name: str, period: str, words: str, *, hidden: bool = False) -> Sheet:
    made = form_sheet(programme.unit(unit_key).name, rows_for(programme, unit_key, words),
                      title=TITLE.format(period), name=name)
    made.hidden = hidden
    return made


def two_row_header_book(programme) -> Book:
    unit = programme.unit("construction")
    header = [["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", None, "完成时限"],
              [None, None, None, "具体措施", "进度情况", None]]
    rows = [[t.seq, t.name, unit.name, f"建设局第{t.seq}项四季度措施。", f"建设局第{t.seq}项四季度进度。", "2023年12月"]
            for t in programme.tasks_of("construction")]
    merges = [(0, 0, 0, 5), (2, 0, 3, 0), (2, 1, 3, 1), (2, 2, 3, 2), (2, 3, 2, 4), (2, 5, 3, 5)]
    return Book([Sheet("报表", [[TITLE.format("第四季度")], [f"单位：（盖章）{unit.name}"], *header, *rows],
                       merges=merges)])


def put(folder: Path, name: str, book: Book, minutes: int) -> None:
    path = write(book, folder / name)
    os.utime(path, (BASE + 60 * minutes, BASE + 60 * minutes))


def build(programme, folder: Path) -> None:
    p = programme
    put(folder, "教体中心2023年报表汇总.xlsx", Book([
        sheet(p, "edu_sports", "三季度", "第三季度", "三季度旧文字"),
        sheet(p, "edu_sports", "四季度", "第四季度", "四季度新进展"),
        sheet(p, "edu_sports", "全年", "全年", "全年汇总文字"),
        sheet(p, "edu_sports", "模板", "第四季度", "模板示例文字", hidden=True)]), 1)
    put(folder, "卫健中心第四季度报表.xlsx", Book([sheet(p, "health", "第四季度", "第四季度", "四季度新进展")]), 2)
    put(folder, "卫健中心第三季度报表.xlsx", Book([sheet(p, "health", "第三季度", "第三季度", "三季度旧文字")]), 30)
    put(folder, "建设局四季度报表.xlsx", two_row_header_book(p), 3)
    put(folder, "科技中心报表.xlsx", Book([sheet(p, "science_tech", "报表", "", "四季度新进展")]), 4)
    put(folder, "科技中心2023年第三季度报表.xlsx", Book([sheet(p, "science_tech", "报表", "", "三季度旧文字")]), 31)


def workbook_text(path: Path) -> str:
    book = openpyxl.load_workbook(path)
    return "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
                     for v in row if v is not None)


def test_year_end_habits_through_one_quarterly_report_run(tmp_path, programme, migrated_airflow_home, smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    build(programme, inbox / QUARTER)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": QUARTER, "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["files"]}
    units = {u["unit"]: u for u in manifest["units"]}
    assert units["edu_sports"]["accepted_file"] == "教体中心2023年报表汇总.xlsx"
    for unit_key, right, resent, said in [
            ("health", "卫健中心第四季度报表.xlsx", "卫健中心第三季度报表.xlsx", "标题「2023年第三季度"),
            ("science_tech", "科技中心报表.xlsx", "科技中心2023年第三季度报表.xlsx",
             "文件名「科技中心2023年第三季度报表.xlsx」")]:
        assert units[unit_key]["status"] == "submitted" and units[unit_key]["accepted_file"] == right, unit_key
        assert units[unit_key]["rejected_corrections"] == [resent]
        record = files[resent]
        assert (record["status"], record["unit"]) == ("rejected", unit_key)
        reason = " ".join(record["reasons"])
        assert said in reason and "为2023年第3季度，不是本季度（2023年第4季度）的报表" in reason, reason
        assert record["feedback"] and (output / record["feedback"]).is_file()

    consolidated = json.loads((output / QUARTER / "consolidated.json").read_text(encoding="utf-8"))
    texts = {(d["unit"], d["seq"]): d["text"] for d in consolidated["details"]}
    expected = {("edu_sports", t.seq): f"教育和体育事业中心第{t.seq}项四季度新进展。" for t in programme.tasks_of("edu_sports")}
    expected |= {("health", t.seq): f"卫生健康事业中心第{t.seq}项四季度新进展。" for t in programme.tasks_of("health")}
    expected |= {("science_tech", t.seq): f"科学技术发展中心第{t.seq}项四季度新进展。"
                 for t in programme.tasks_of("science_tech")}
    expected |= {("construction", t.seq): f"具体措施：建设局第{t.seq}项四季度措施。\n进度情况：建设局第{t.seq}项四季度进度。"
                 for t in programme.tasks_of("construction")}
    assert {k: v for k, v in texts.items() if k[0] in {u for u, _ in expected}} == expected

    leaders = workbook_text(output / manifest["report"])
    flat = leaders.replace("\n", "")
    for text in expected.values():
        assert text.replace("\n", "") in flat, text
    for stale in ("三季度旧文字", "全年汇总文字", "模板示例文字"):
        assert stale not in leaders
