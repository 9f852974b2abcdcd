"""What a careful clerk would decide, file by file: the right unit, the right version, every layout.

One `quarterly_report` run (airflow dags test) over a quarter whose files test trust:
explicit evidence (the unit's own sub-folder, the 「单位：」 line) outranks weak evidence
(责任单位 column, file name) and a conflict is refused; a failed correction never removes
an accepted report; identical copies are one submission; a task written over several
merged rows is one task.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from airflow_support import airflow_env, run_dags_test
from intake.corpus import HEADERS, Book, Sheet, form_sheet, write
from mailsink import MailSink

pytestmark = pytest.mark.slow
QUARTER = "2023Q1"
ON_TIME = time.mktime((2023, 3, 28, 9, 0, 0, 0, 0, -1))
AFTER_DEADLINE = time.mktime((2023, 4, 6, 9, 0, 0, 0, 0, -1))
OUTSIDE_ORG = "淄博某某管理咨询有限公司"
MERGED_FRAGMENTS = ["一是完成托育机构摸底。", "二是建成“妈妈小屋”示范点1个。", "三是发放购房补贴12户。"]


def rows_for(programme, unit_key, note="本季度推进情况。"):
    unit = programme.unit(unit_key)
    return [[t.seq, t.name, unit.name, f"{unit.name}第{t.seq}项：{note}\n下一步继续推进。", "2023年12月"]
            for t in programme.tasks_of(unit_key)]


class Quarter:
    """The quarter's inbox as units filled it, and what a clerk expects of each file."""

    def __init__(self, programme, folder: Path):
        self.programme, self.folder = programme, folder
        self.expected: dict[str, tuple[str, str | None, str | None]] = {}

    def put(self, rel: str, book: Book, mtime: float, expect: tuple[str, str | None, str | None]) -> Path:
        path = self.folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write(book, path)
        os.utime(path, (mtime, mtime))
        self.expected[rel] = expect
        return path

    def form(self, rel, unit_key, mtime, expect, *, line=None, rows=None):
        rows = rows if rows is not None else rows_for(self.programme, unit_key)
        line = self.programme.unit(unit_key).name if line is None else line
        return self.put(rel, Book([form_sheet(line, rows)]), mtime, expect)


def merged_task_book(programme) -> Book:
    """Task 2 written over three rows: 序号, 实事名称, 责任单位 and 完成时限 merged vertically."""
    rows = rows_for(programme, "construction")
    task2 = next(r for r in rows if r[0] == 2)
    body = [["2023年为高新区妇女儿童办实事工作进展情况报表"], ["单位：（盖章）建设局"], HEADERS]
    for row in rows:
        if row is task2:
            first = len(body)
            body.append([row[0], row[1], row[2], MERGED_FRAGMENTS[0], row[4]])
            body += [[None, None, None, fragment, None] for fragment in MERGED_FRAGMENTS[1:]]
            merges = [(first, c, first + 2, c) for c in (0, 1, 2, 4)]
        else:
            body.append(row)
    return Book([Sheet("报表", body, merges=[(0, 0, 0, 4), *merges])])


def build(programme, folder: Path) -> Quarter:
    q = Quarter(programme, folder)
    # zhongbu's real report, then a file by an outside organisation carrying zhongbu's rows and name
    q.form("中埠镇/中埠镇一季度报表.xlsx", "zhongbu", ON_TIME, ("accepted", "zhongbu", None))
    q.form("中埠镇报表（代报）.xlsx", "zhongbu", ON_TIME + 3600,
           ("rejected", None, OUTSIDE_ORG), line=OUTSIDE_ORG)
    # two units on one 单位 line
    q.form("四宝山街道 中埠镇 联合报表.xlsx", "sibaoshan", ON_TIME, ("rejected", None, "四宝山街道"),
           line="四宝山街道、中埠镇")
    # the folder of one unit, the 单位 line of another
    q.form("中埠镇/四宝山街道报表.xlsx", "sibaoshan", ON_TIME + 60, ("rejected", None, "中埠镇"),
           line="四宝山街道")
    # failed correction after an accepted file: the accepted one stays
    q.form("卫健中心报表.xlsx", "health", ON_TIME, ("accepted", "health", None))
    broken = rows_for(programme, "health")
    broken[0][3] = ""
    q.form("卫健中心报表（更正）.xlsx", "health", ON_TIME + 7200, ("rejected", "health", "为空"),
           rows=broken)
    # valid correction after the deadline: a correction, not a late report
    q.form("教体中心报表.xlsx", "edu_sports", ON_TIME, ("superseded", "edu_sports", "教体中心报表（修改）.xlsx"))
    q.form("教体中心报表（修改）.xlsx", "edu_sports", AFTER_DEADLINE, ("accepted", "edu_sports", None),
           rows=rows_for(programme, "edu_sports", "更正后的推进情况。"))
    # byte-identical copies
    first = q.form("民政和文旅事业中心报表.xlsx", "civil_culture", ON_TIME, ("accepted", "civil_culture", None))
    copy = folder / "民政和文旅事业中心报表 - 副本.xlsx"
    copy.write_bytes(first.read_bytes())
    os.utime(copy, (ON_TIME + 30, ON_TIME + 30))
    q.expected[copy.name] = ("superseded", "civil_culture", "民政和文旅事业中心报表.xlsx")
    # per-unit sub-folders, at any depth, and no other evidence
    generic = [[t.seq, t.name, "各责任单位", "本季度推进情况。", "2023年12月"]
               for t in programme.tasks_of("industry_commerce")]
    q.form("工业信息化和商务局/报表.xlsx", "industry_commerce", ON_TIME, ("accepted", "industry_commerce", None),
           line="", rows=generic)
    generic = [[t.seq, t.name, "", "本季度推进情况。", "2023年12月"] for t in programme.tasks_of("hr_social")]
    q.form("各单位报送/人社中心/第一季度/表1.xlsx", "hr_social", ON_TIME, ("accepted", "hr_social", None),
           line="", rows=generic)
    # a task over several merged rows
    q.put("建设局报表.xlsx", merged_task_book(programme), ON_TIME, ("accepted", "construction", None))
    return q


@pytest.fixture(scope="module")
def quarter_run(tmp_path_factory, programme, migrated_airflow_home):
    root = tmp_path_factory.mktemp("trust")
    inbox, output = root / "inbox", root / "output"
    q = build(programme, inbox / QUARTER)
    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri())
        conf = json.dumps({"quarter": QUARTER, "inbox": str(inbox), "output": str(output)})
        result = run_dags_test(env, "quarterly_report", conf)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        mails = sink.messages
    manifest = json.loads((output / QUARTER / "manifest.json").read_text(encoding="utf-8"))
    consolidated = json.loads((output / QUARTER / "consolidated.json").read_text(encoding="utf-8"))
    return q, manifest, consolidated, mails, output


def test_every_file_gets_the_status_unit_and_reason_a_clerk_would_give(quarter_run):
    q, manifest, _, _, output = quarter_run
    files = {f["path"]: f for f in manifest["files"]}
    assert set(files) == set(q.expected)
    for path, (status, unit, reason) in q.expected.items():
        record = files[path]
        assert (record["status"], record["unit"]) == (status, unit), (path, record)
        if reason:
            said = " ".join(record["reasons"]) + " " + (record.get("superseded_by") or "")
            assert reason in said, (path, record["reasons"])
        if status == "superseded":
            assert record["superseded_by"] in files and record["reasons"], path
        if status == "rejected":
            assert record["feedback"] and (output / record["feedback"]).is_file(), path


def test_a_conflict_quotes_what_the_file_says_and_names_the_closest_units(quarter_run):
    _, manifest, _, _, _ = quarter_run
    files = {f["path"]: f for f in manifest["files"]}
    outsider = " ".join(files["中埠镇报表（代报）.xlsx"]["reasons"])
    assert f"「{OUTSIDE_ORG}」" in outsider and "不是本次实事的责任单位" in outsider
    both = " ".join(files["四宝山街道 中埠镇 联合报表.xlsx"]["reasons"])
    assert "四宝山街道" in both and "中埠镇" in both and "一个单位" in both
    clash = " ".join(files["中埠镇/四宝山街道报表.xlsx"]["reasons"])
    assert "文件夹「中埠镇」" in clash and "「四宝山街道」" in clash


def test_evidence_used_is_recorded(quarter_run):
    _, manifest, _, _, _ = quarter_run
    files = {f["path"]: f for f in manifest["files"]}
    assert files["工业信息化和商务局/报表.xlsx"]["unit_source"] == "folder"
    assert files["各单位报送/人社中心/第一季度/表1.xlsx"]["unit_source"] == "folder"
    assert files["卫健中心报表.xlsx"]["unit_source"] == "unit_line"
    assert files["中埠镇/中埠镇一季度报表.xlsx"]["unit_source"] == "folder+unit_line"


def test_units_keep_their_latest_accepted_words(quarter_run):
    q, manifest, consolidated, _, output = quarter_run
    units = {u["unit"]: u for u in manifest["units"]}
    health = units["health"]
    assert health["status"] == "submitted" and health["accepted_file"] == "卫健中心报表.xlsx"
    assert "更正件未通过，沿用3月28日版本" in " ".join(health["notes"])
    assert health["late"] is False
    edu = units["edu_sports"]
    assert edu["accepted_file"] == "教体中心报表（修改）.xlsx" and edu["late"] is False
    assert units["zhongbu"]["accepted_file"] == "中埠镇/中埠镇一季度报表.xlsx"
    texts = {(d["unit"], d["seq"]): d["text"] for d in consolidated["details"]}
    assert all("更正后的推进情况" in t for (u, _), t in texts.items() if u == "edu_sports")
    assert all(OUTSIDE_ORG not in t for t in texts.values())


def test_a_task_over_merged_rows_is_one_task_with_every_fragment(quarter_run):
    _, manifest, consolidated, _, output = quarter_run
    saved = json.loads((output / QUARTER / "units" / "construction.json").read_text(encoding="utf-8"))
    task2 = [r for r in saved["rows"] if r["seq"] == 2]
    assert len(task2) == 1
    assert task2[0]["progress"] == "\n".join(MERGED_FRAGMENTS)
    texts = {(d["unit"], d["seq"]): d["text"] for d in consolidated["details"]}
    assert texts[("construction", 2)] == "\n".join(MERGED_FRAGMENTS)


def test_leaders_mail_carries_no_cell_level_errors(quarter_run):
    _, _, _, mails, _ = quarter_run
    [mail] = mails
    body = mail.body_text()
    assert "D7" not in body and "工作表「" not in body
