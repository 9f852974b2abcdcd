"""One unit's ingest: newest file wins, rejected files get Chinese feedback, nothing is lost."""
from __future__ import annotations

import json
import time

from intake.conftest import EDU_ROWS
from intake.corpus import Book, Sheet, form_sheet, indicator_sheet, touch_mtime, write
from wcreport.core.model import UnitResult
from wcreport.flow.ingest_unit import decide_unit as ingest_unit
from wcreport.validate.selfcheck import check_file

NOW = time.time()


def form(paths, rel, rows=EDU_ROWS, unit_line="教育和体育事业中心", mtime=NOW - 3600, extra=()):
    target = write(Book([form_sheet(unit_line, rows), *extra]), paths.inbox / rel)
    touch_mtime(target, mtime)
    return target


def test_missing_unit(paths, programme):
    paths.inbox.mkdir(parents=True)             # the folder exists: "no files yet"
    result = ingest_unit(paths, programme, "health")
    assert (result.status, result.files) == ("missing", [])
    assert UnitResult.model_validate_json((paths.units / "health.json").read_text()).status == "missing"


def test_newest_file_wins_and_content_is_kept(paths, programme):
    form(paths, "教体中心-初稿.xlsx", rows=[[1, "实施优质教育资源扩增赋能行动", "教体中心", "初稿。", "12月"]],
         mtime=NOW - 7200)
    newest = form(paths, "教体中心-终稿.xlsx", mtime=NOW - 3600,
                  extra=[indicator_sheet([("新建幼儿园", "1所"), ("拓展学位", "１２００")])])
    result = ingest_unit(paths, programme, "edu_sports")
    assert result.status == "submitted"
    files = {f.path: f for f in result.files}
    assert files["教体中心-终稿.xlsx"].status == "accepted"
    old = files["教体中心-初稿.xlsx"]
    assert (old.status, old.superseded_by) == ("superseded", "教体中心-终稿.xlsx")
    assert (paths.inbox / "教体中心-初稿.xlsx").exists() and newest.exists()
    assert [(r.seq, r.task_name, r.units, r.progress, r.deadline) for r in result.rows] == \
        [(seq, name, units, progress, deadline) for seq, name, units, progress, deadline in EDU_ROWS]
    assert {i.key: i.value for i in result.indicators} == {"new_kindergartens": 1.0, "school_places": 1200.0}
    saved = json.loads((paths.units / "edu_sports.json").read_text(encoding="utf-8"))
    assert saved["accepted_sha256"] == files["教体中心-终稿.xlsx"].sha256


def test_a_failed_correction_keeps_the_accepted_version(paths, programme):
    form(paths, "教体中心.xlsx", mtime=NOW - 7200)
    broken = form(paths, "教体中心-修改.xlsx", mtime=NOW - 3600,
                  rows=[[1, "实施优质教育资源扩增赋能行动", "教体中心", "", "12月"]])
    # no 进度 column at all in the newest one: a structural error with a cell reference
    write(Book([Sheet("报表", [["标题"], ["单位：教体中心"], ["序号", "实事名称", "责任单位", "完成时限"],
                               [1, "实施优质教育资源扩增赋能行动", "教体中心", "12月"]])]), broken)
    touch_mtime(broken, NOW - 3600)
    result = ingest_unit(paths, programme, "edu_sports")
    assert result.status == "submitted" and result.accepted_path == "教体中心.xlsx"
    assert [r.seq for r in result.rows] == [r[0] for r in EDU_ROWS]
    assert result.rejected_corrections == ["教体中心-修改.xlsx"]
    files = {f.path: f for f in result.files}
    correction = files["教体中心-修改.xlsx"]
    assert correction.status == "rejected"
    assert any("A3：第 3 行表头中缺少「本季度具体措施及任务进度情况」列" in r for r in correction.reasons)
    assert files["教体中心.xlsx"].status == "accepted"
    assert result.feedback == correction.feedback and result.feedback.startswith("2023Q1/feedback/edu_sports/")
    page = (paths.output_root / result.feedback).read_text(encoding="utf-8")
    for text in ("报表退回说明", "教体中心-修改.xlsx", "教育和体育事业中心", "A3", "缺少「本季度具体措施及任务进度情况」列",
                 "请使用通知附件的报表格式"):
        assert text in page


def test_only_rejected_files_reject_the_unit(paths, programme):
    first = form(paths, "教体中心.xlsx", mtime=NOW - 7200, rows=[[1, "实施优质教育资源扩增赋能行动", "教体中心", "", "12月"]])
    second = form(paths, "教体中心-2.xlsx", mtime=NOW - 3600, rows=[[1, "实施优质教育资源扩增赋能行动", "教体中心", "", "11月"]])
    result = ingest_unit(paths, programme, "edu_sports")
    files = {f.path: f for f in result.files}
    assert result.status == "rejected" and result.rows == []
    assert files[second.name].status == "rejected" and files[second.name].feedback == result.feedback
    assert files[first.name].status == "superseded" and files[first.name].superseded_by == second.name
    assert second.name in files[first.name].reasons[0]


def test_identical_copies_are_one_submission(paths, programme):
    original = form(paths, "教体中心.xlsx", mtime=NOW - 7200)
    copy = paths.inbox / "教体中心 - 副本.xlsx"
    copy.write_bytes(original.read_bytes())
    touch_mtime(copy, NOW - 3600)
    result = ingest_unit(paths, programme, "edu_sports")
    files = {f.path: f for f in result.files}
    assert result.status == "submitted" and result.accepted_path == "教体中心.xlsx"
    assert files[copy.name].status == "superseded" and files[copy.name].superseded_by == "教体中心.xlsx"
    assert "内容完全相同" in files[copy.name].reasons[0]


def test_an_internal_error_while_validating_rejects_and_names_the_organiser(paths, programme, monkeypatch):
    from wcreport.validate import suites

    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(suites, "validate_report", broken)
    form(paths, "教体中心.xlsx")
    result = ingest_unit(paths, programme, "edu_sports")
    assert result.status == "rejected"
    (winner,) = result.files
    assert [f.code for f in winner.findings] == ["file.internal_error"]
    assert winner.reasons == [f"处理该文件时发生内部错误，请另存为 .xlsx 后重新报送，或联系{programme.report.organiser}。"]


def test_empty_progress_cell_is_named_in_the_feedback(paths, programme):
    rows = [list(r) for r in EDU_ROWS]
    rows[3][3] = ""                                    # row 7, column D
    form(paths, "教体中心.xlsx", rows=rows)
    result = ingest_unit(paths, programme, "edu_sports")
    assert result.status == "rejected"
    page = (paths.output_root / result.feedback).read_text(encoding="utf-8")
    assert "D7" in page and "为空" in page


def test_unreadable_file_attributed_by_name_gets_feedback(paths, programme):
    paths.inbox.mkdir(parents=True)
    (paths.inbox / "卫健中心报表.xlsx").write_text("<html><table></table></html>", encoding="utf-8")
    touch_mtime(paths.inbox / "卫健中心报表.xlsx", NOW - 3600)
    result = ingest_unit(paths, programme, "health")
    assert result.status == "rejected"
    page = (paths.output_root / result.feedback).read_text(encoding="utf-8")
    assert "卫生健康事业中心" in page and "请另存为 .xlsx 后重新报送" in page


def test_self_check(tmp_path, programme):
    good = write(Book([form_sheet("教育和体育事业中心", EDU_ROWS)]), tmp_path / "教体中心.xlsx")
    ok, text = check_file(good, programme)
    assert ok and "已接收" in text and "教育和体育事业中心" in text
    bad = tmp_path / "坏文件.xlsx"
    bad.write_bytes(b"PK\x03\x04 broken")
    ok, text = check_file(bad, programme, "edu_sports")
    assert not ok
    assert "文件已损坏" in text and "坏文件.xlsx" in text and "必须修改的问题" in text
