"""Office habits through one `quarterly_report` run (airflow dags test).

One unit drops its file into a folder named with its everyday name (卫健局) and writes no
序号 and short task names; another adds a row for a task that is not its own and writes
「已完成」 as a deadline; a third writes 见附件 in every row. The first two are accepted with
exactly their words in the leaders' workbook (the foreign row nowhere, the programme's
deadline for 「已完成」); the third is returned with the cells named.
"""
from __future__ import annotations

import json
import os
import time

import openpyxl
import pytest

from airflow_support import airflow_env, run_dags_test
from intake.corpus import Book, form_sheet, write
from mailsink import MailSink
from wcreport.report.workbook import report_filename

pytestmark = pytest.mark.slow
QUARTER = "2023Q2"
ON_TIME = time.mktime((2023, 6, 28, 9, 0, 0, 0, 0, -1))
NO_SEQ = ["实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]

HEALTH_ROWS = [   # short names, no 序号: 2 普惠托育, 4 心希望健康服务, 5 两癌筛查, 10 妇幼健康
    ["普惠托育", "卫健局", "新增普惠托位120个，完成托育机构摸底。", "2023年12月底"],
    ["心希望健康服务", "卫健局", "24小时心理援助热线试运行，接听来电36次。", "2023年12月底"],
    ["两癌筛查", "卫健局", "完成适龄妇女宫颈癌筛查3100人、乳腺癌筛查2900人。", "2023年12月底"],
    ["妇幼健康", "卫健局", "开展妇女儿童体质监测60人。", "2023年12月底"],
]
HEALTH_SEQS = [2, 4, 5, 10]
FOREIGN_TEXT = "配合教体中心完成新建幼儿园选址。"


def construction_rows(programme):
    return [
        [2, programme.tasks_by_seq[2].name, "建设局", "发放多子女家庭购房补贴12户。", "2023年9月底"],
        [3, programme.tasks_by_seq[3].name, "建设局", "开通“定制公交”助学专线2条。", "已完成"],
        [1, programme.tasks_by_seq[1].name, "建设局", FOREIGN_TEXT, "2023年12月底"],   # not its task
    ]


def edu_rows(programme):
    return [[t.seq, t.name, "教育和体育事业中心", "见附件", "2023年12月底"] for t in programme.tasks_of("edu_sports")]


def put(path, book):
    path.parent.mkdir(parents=True, exist_ok=True)
    write(book, path)
    os.utime(path, (ON_TIME, ON_TIME))


@pytest.fixture(scope="module")
def quarter_run(tmp_path_factory, programme, migrated_airflow_home):
    root = tmp_path_factory.mktemp("names")
    inbox, output = root / "inbox", root / "output"
    folder = inbox / QUARTER
    put(folder / "卫健局" / "二季度报表.xlsx", Book([form_sheet("", HEALTH_ROWS, headers=NO_SEQ)]))
    put(folder / "建设局二季度报表.xlsx", Book([form_sheet("建设局", construction_rows(programme))]))
    put(folder / "教体中心二季度报表.xlsx", Book([form_sheet("教育和体育事业中心", edu_rows(programme))]))
    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri())
        conf = json.dumps({"quarter": QUARTER, "inbox": str(inbox), "output": str(output)})
        result = run_dags_test(env, "quarterly_report", conf)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
    report = output / QUARTER / report_filename(programme, QUARTER)
    return manifest, openpyxl.load_workbook(report), output


def details(workbook) -> dict[tuple[int, str], tuple[str, str]]:
    """(序号, 单位) -> (text, 完成时限) from the workbook's 明细 sheet."""
    rows = list(workbook["明细"].iter_rows(min_row=2, values_only=True))
    return {(int(r[1]), r[3]): (r[4], r[5]) for r in rows if r[1] is not None}


def test_statuses_units_and_evidence(quarter_run):
    manifest, _, _ = quarter_run
    files = {f["path"]: f for f in manifest["files"]}
    assert {p: (f["status"], f["unit"]) for p, f in files.items()} == {
        "卫健局/二季度报表.xlsx": ("accepted", "health"),
        "建设局二季度报表.xlsx": ("accepted", "construction"),
        "教体中心二季度报表.xlsx": ("rejected", "edu_sports"),
    }
    assert files["卫健局/二季度报表.xlsx"]["unit_source"] == "folder"
    units = {u["unit"]: u["status"] for u in manifest["units"]}
    assert (units["health"], units["construction"], units["edu_sports"]) == ("submitted", "submitted", "rejected")


def test_short_names_without_seq_reach_the_workbook_word_for_word(quarter_run, programme):
    _, workbook, _ = quarter_run
    got = details(workbook)
    name = programme.units_by_key["health"].name
    assert {seq: got[(seq, name)] for seq in HEALTH_SEQS} == {
        seq: (row[2], row[3]) for seq, row in zip(HEALTH_SEQS, HEALTH_ROWS, strict=True)}


def test_the_foreign_row_is_kept_out_and_the_programmes_deadline_replaces_done(quarter_run, programme):
    manifest, workbook, _ = quarter_run
    got = details(workbook)
    name = programme.units_by_key["construction"].name
    assert got[(2, name)] == ("发放多子女家庭购房补贴12户。", "2023年9月底")
    assert got[(3, name)] == ("开通“定制公交”助学专线2条。", "2023年12月底")
    assert (1, name) not in got
    everything = [v for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for v in row]
    assert not [v for v in everything if isinstance(v, str) and FOREIGN_TEXT in v]
    record = next(f for f in manifest["files"] if f["path"] == "建设局二季度报表.xlsx")
    warned = {(f["code"], f["cell"]) for f in record["findings"] if f["cell"]}
    assert warned == {("task.not_responsible", "A6"), ("deadline.invalid", "E5")}


def test_placeholders_in_every_row_return_the_file_with_the_cells_named(quarter_run, programme):
    manifest, workbook, _ = quarter_run
    record = next(f for f in manifest["files"] if f["path"] == "教体中心二季度报表.xlsx")
    cells = [f"D{4 + n}" for n in range(len(programme.tasks_of("edu_sports")))]
    assert [r for r in record["reasons"] if "只填写了「见附件」" in r] == [
        f"工作表「报表」{cell}：「本季度具体措施及任务进度情况」只填写了「见附件」，请写明本季度采取的具体措施和任务进度。"
        for cell in cells]
    status = [row for row in workbook["报送情况"].iter_rows(values_only=True)
              if row[1] == programme.units_by_key["edu_sports"].name]
    assert status and status[0][2] == "已退回"
    edu_name = programme.units_by_key["edu_sports"].name
    assert not [k for k in details(workbook) if k[1] == edu_name]
