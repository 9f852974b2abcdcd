"""The whole corpus through one `quarterly_report` run (airflow dags test), then a rerun.

One file per kind of submission the inbox must handle. Every file must appear in the manifest exactly once
with the expected status and a specific reason; accepted content must equal what
was written; rerunning the quarter must change nothing in the archive or manifest.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from airflow_support import airflow_env, run_dags_test
from intake.corpus import (
    Book,
    Sheet,
    form_sheet,
    indicator_sheet,
    write,
    write_corrupt_zip,
    write_encrypted_ooxml,
    write_encrypted_xls,
    write_xml_bomb,
    write_zip_bomb,
)
from wcreport.orchestration import tasks as pipeline

pytestmark = pytest.mark.slow
QUARTER = "2023Q1"
BASE = time.mktime((2023, 3, 30, 9, 0, 0, 0, 0, -1))


def rows_for(programme, unit_key, label=None):
    unit = programme.unit(unit_key)
    return [[t.seq, t.name, label or unit.name, f"{unit.name}第{t.seq}项：本季度推进情况。\n下一步继续推进。", "2023年12月"]
            for t in programme.tasks_of(unit_key)]


class Corpus:
    def __init__(self, programme, folder: Path):
        self.programme, self.folder = programme, folder
        self.expected: dict[str, tuple[str, str | None, str | None]] = {}  # path -> (status, unit, reason part)
        self.written_rows: dict[str, list[list]] = {}
        self.n = 0

    def _stamp(self, path: Path) -> Path:
        self.n += 1
        os.utime(path, (BASE + 60 * self.n, BASE + 60 * self.n))
        return path

    def form(self, name, unit_key, fmt=None, *, line=None, status="accepted", reason=None, book=None, rows=None,
             label=None):
        rows = rows if rows is not None else rows_for(self.programme, unit_key, label)
        line = self.programme.unit(unit_key).name if line is None else line
        book = book or Book([form_sheet(line, rows)])
        self._stamp(write(book, self.folder / name, fmt))
        self.expected[name] = (status, unit_key, reason)
        if status == "accepted":
            self.written_rows[unit_key] = rows
        return self.folder / name

    def raw(self, name, data: bytes, status, unit=None, reason=None):
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._stamp(path)
        self.expected[name] = (status, unit, reason)

    def made(self, name, maker, status, unit, reason):
        self.folder.mkdir(parents=True, exist_ok=True)
        maker(self.folder / name)
        self._stamp(self.folder / name)
        self.expected[name] = (status, unit, reason)


def build_corpus(programme, folder: Path) -> Corpus:
    c = Corpus(programme, folder)
    p = programme
    # --- accepted, one per format and per kind of drift ---
    c.form("（教育和体育事业中心）2023年第1季度报表.xlsx", "edu_sports",
           book=Book([form_sheet("教育和体育事业中心", rows_for(p, "edu_sports")),
                      indicator_sheet([("新建幼儿园", "1"), ("拓展学位", "１，２００个")])]))
    c.form("卫健中心 一季度.xls", "health", line="卫健中心")                       # real .xls, alias
    civil = rows_for(p, "civil_culture", label="民政文旅中心")
    c.form("民政和文旅事业中心.ods", "civil_culture", book=Book([Sheet("Sheet1", [
        ["报表"], ["单位：（盖章）"], ["序 号", "实事\n名称", "责任单位", "进度情况", "完成时间"], *civil],
        merges=[(0, 0, 0, 4), (3, 2, 3 + len(civil) - 1, 2)])]), rows=civil, line="")  # merged 责任单位
    c.form("科技中心报表.et", "science_tech", fmt="xls", line="科技中心")           # WPS .et = xls bytes
    proc = rows_for(p, "procuratorate")
    c.form("检察院 报表 (最终版) #2.xlsm", "procuratorate", rows=proc, book=Book([Sheet("填报", [
        [], ["2023年为高新区妇女儿童办实事工作进展情况报表"], ["单位：检察院（盖章）", "", "", "", "填报人：王五"],
        ["序　号", "实事名称", "本季度具体措施\n及任务进度情况", "责任单位", "完成\n时限", "备注"],
        [proc[1][0], proc[1][1], proc[1][3], proc[1][2], proc[1][4], "无"], [],
        ["序号", "实事名称", "本季度具体措施及任务进度情况", "责任单位", "完成时限"],
        [str(proc[0][0]), proc[0][1], proc[0][3], proc[0][2], proc[0][4]]])]))         # xlsm, drift
    fund = rows_for(p, "housing_fund", label="组织人事部\n建设局\n市住房公积金管理中心高新区分中心")
    hidden = form_sheet("", fund, name="旧表")
    hidden.hidden = True
    c.form("公积金分中心 2023年一季度报表（终稿）.xlsx", "housing_fund", rows=fund, line="",
           book=Book([Sheet("说明", [["本表为第一季度报表"]]), form_sheet("", fund), hidden]))  # identity from file name
    c.form("宣传新闻中心报表.xls", "publicity", fmt="xlsx")                         # xlsx bytes under .xls
    c.form("sub/人社中心/人社 报表.xlsx", "hr_social", line="人力资源和社会保障中心")
    old = c.form("建设局-初稿.xlsx", "construction", status="superseded")            # resubmission
    revised = [[*row[:3], row[3] + "（修改稿补充）", row[4]] for row in rows_for(p, "construction")]
    c.form("建设局-修改稿.xlsx", "construction", rows=revised)                    # a real revision
    # --- rejected: structure, security, identity ---
    c.form("中埠镇.xlsx", "zhongbu")                                                 # stays: correction fails
    c.form("中埠镇-修改.xlsx", "zhongbu", status="rejected", reason="缺少「本季度具体措施及任务进度情况」列",
           book=Book([Sheet("报表", [["单位：中埠镇"], ["序号", "实事名称", "责任单位", "完成时限"],
                                     [1, "实施优质教育资源扩增赋能行动", "中埠镇", "12月"]])]))
    c.made("四宝山街道报表.xlsx", write_encrypted_ooxml, "rejected", "sibaoshan", "取消密码保护")
    c.made("宝山园区报表.xlsx", write_corrupt_zip, "rejected", "baoshan_park", "文件已损坏")
    c.made("装备园报表.xlsx", write_zip_bomb, "rejected", "equipment_park", "压缩炸弹")
    c.made("report-x.xlsx", write_xml_bomb, "rejected", None, "XML 炸弹")
    c.made("加密.xls", lambda path: write_encrypted_xls(path, Book([form_sheet("", [])])), "rejected", None, "密码")
    c.form("其他单位报表.xlsx", "edu_sports", status="rejected", reason="不是本次实事的责任单位",
           line="某某未列明单位", rows=[[1, "实施优质教育资源扩增赋能行动", "某某未列明单位", "已完成。", "12月"]])
    c.expected["其他单位报表.xlsx"] = ("rejected", None, "不是本次实事的责任单位")
    c.form("宝山.xlsx", "sibaoshan", status="rejected", line="宝山", label="宝山")
    c.expected["宝山.xlsx"] = ("rejected", None, "可能是")
    # --- noise ---
    c.raw("~$建设局-修改稿.xlsx", b"\x00" * 165, "ignored", reason="锁文件")
    c.raw(".~lock.中埠镇.xlsx#", b"lock", "ignored", reason="锁文件")
    c.raw(".hidden/notes.xlsx", b"x", "ignored", reason="隐藏文件")
    c.raw("卫健中心.xlsx.tmp", b"partial", "ignored", reason="临时文件")
    c.raw("空文件.xlsx", b"", "ignored", reason="文件为空")
    c.raw("报送说明.txt", "附件为本单位季度报表。".encode(), "ignored", reason="不是电子表格文件（.txt）")
    c.raw("扫描件.pdf", b"%PDF-1.4\n", "rejected")                             # a broken stamped copy
    assert old.exists()
    return c


def snapshot(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def without_time(manifest: dict) -> dict:
    """The manifest minus what belongs to one run: its time and its Data Docs result pages."""
    units = [{k: v for k, v in unit.items() if k != "data_docs"} for unit in manifest["units"]]
    assert all(unit["data_docs"] for unit in manifest["units"] if unit["status"] == "submitted")
    return {**{k: v for k, v in manifest.items() if k != "generated_at"}, "units": units}


def test_corpus_through_one_quarterly_report_run(tmp_path, programme, migrated_airflow_home, smtp_server):
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    corpus = build_corpus(programme, inbox / QUARTER)
    env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=smtp_server.airflow_conn_uri())
    conf = json.dumps({"quarter": QUARTER, "inbox": str(inbox), "output": str(output)})
    result = run_dags_test(env, "quarterly_report", conf)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    manifest_path = output / QUARTER / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    files = {f["path"]: f for f in manifest["files"]}
    assert len(files) == len(manifest["files"]) == len(corpus.expected)      # each file exactly once
    for path, (status, unit, reason) in corpus.expected.items():
        record = files[path]
        assert record["status"] == status, (path, record)
        assert record["unit"] == unit, (path, record)
        if reason:
            assert any(reason in r for r in record["reasons"]), (path, record["reasons"])
        if status == "rejected":
            assert record["feedback"] and (output / record["feedback"]).exists(), path
        if status == "superseded":
            assert record["superseded_by"] in files
        assert record["archived_as"] and (output / record["archived_as"]).exists(), path

    units = {u["unit"]: u for u in manifest["units"]}
    assert units["org_personnel"]["status"] == "missing"
    assert units["zhongbu"]["status"] == "submitted" and units["zhongbu"]["accepted_file"] == "中埠镇.xlsx"
    assert units["zhongbu"]["rejected_corrections"] == ["中埠镇-修改.xlsx"]
    assert units["zhongbu"]["notes"] and units["zhongbu"]["notes"][0].startswith("更正件未通过，沿用")
    assert units["sibaoshan"]["status"] == "rejected"
    for unit_key, rows in corpus.written_rows.items():
        assert units[unit_key]["status"] == "submitted", unit_key
        saved = json.loads((output / QUARTER / "units" / f"{unit_key}.json").read_text(encoding="utf-8"))
        got = {r["seq"]: (r["task_name"], r["units"], r["progress"], r["deadline"]) for r in saved["rows"]}
        assert got == {int(r[0]): (r[1], r[2], r[3], r[4]) for r in rows}, unit_key
    edu = json.loads((output / QUARTER / "units" / "edu_sports.json").read_text(encoding="utf-8"))
    assert {i["key"]: i["value"] for i in edu["indicators"]} == {"new_kindergartens": 1.0, "school_places": 1200.0}

    # rerun the quarter (same functions the DAG calls): nothing changes
    archive = output / "archive" / QUARTER
    before = snapshot(archive)
    run = pipeline.resolve_run(QUARTER, str(inbox), str(output))
    for unit_key in pipeline.gather(run):
        pipeline.ingest(run, unit_key)
    pipeline.merge(run)
    assert snapshot(archive) == before
    again = json.loads(manifest_path.read_text(encoding="utf-8"))
    assert without_time(again) == without_time(manifest)
