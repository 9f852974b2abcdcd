"""The rules for what offices really write: short task names, a row for another unit's task,
a non-date 完成时限, placeholders instead of a report. Bad file and corrected twin each,
through the real GX suites; what of an accepted file goes into the report (``accepted_rows``)."""
from __future__ import annotations

import pytest

from wcreport.core.quarter import Quarter
from wcreport.validate.accepted import accepted_rows
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, with_row

Q2 = Quarter(2023, 2)


def run(programme, report, unit=UNIT):
    return validate_report(report, unit, programme, Q2)


def codes(outcome):
    return {(f.code, f.severity, f.cell) for f in outcome.findings}


def _append(report, **changes):
    base = report.rows[0]
    r = base.row + len(report.rows)
    cells = {k: f"{v[0]}{r}" for k, v in base.cells.items()}
    return report.model_copy(update={"rows": [*report.rows, base.model_copy(update={"row": r, "cells": cells,
                                                                                    **changes})]})


# --- placeholders are not reports ---------------------------------------------------------
@pytest.mark.parametrize("text", [
    "见附件", "详见附件", "附件", "（详见附件1）。", "见 附 件", "具体见附件", "详见附件材料", "见附表2",
    "暂无", "暂无进展", "暂无进展。", "无", "无。", "同上", "同上。", "同前", "略", "/", "-", "——", " / ",
    "N/A", "……",
])
def test_a_placeholder_as_the_only_content_rejects_the_file(programme, text):
    outcome = run(programme, with_row(good_report(programme), 0, progress=text))
    finding = next(f for f in outcome.findings if f.code == "progress.placeholder")
    assert (finding.severity, finding.sheet, finding.cell) == ("error", "报表", "D4")
    assert finding.as_text().startswith("工作表「报表」D4：「本季度具体措施及任务进度情况」只填写了")


@pytest.mark.parametrize("text", [
    "已召开推进会，具体数据见附件。", "本季度暂无新建项目，已完成选址论证。", "同上季度计划，已完成招标。",
    "无障碍设施改造完成2处。",
])
def test_a_report_that_mentions_an_attachment_is_a_report(programme, text):
    outcome = run(programme, with_row(good_report(programme), 0, progress=text))
    assert outcome.findings == []


# --- a row for another unit's task ----------------------------------------------------------
def test_a_row_for_another_units_task_is_kept_out_with_a_warning(programme):
    foreign = _append(good_report(programme), seq=1, task_name=programme.tasks_by_seq[1].name,
                      progress="配合开展学校新建工作。")
    outcome = run(programme, foreign)
    assert codes(outcome) == {("task.not_responsible", "warning", "A6")}
    finding = outcome.findings[0]
    assert "第1项实事「实施优质教育资源扩增赋能行动」" in finding.message and "未计入本单位报表" in finding.message
    kept = accepted_rows(foreign.rows, programme, UNIT)
    assert [r.seq for r in kept] == [2, 3] and all("学校" not in r.progress for r in kept)
    # the twin: the unit's own rows only
    assert run(programme, good_report(programme)).findings == []
    assert accepted_rows(good_report(programme).rows, programme, UNIT) == good_report(programme).rows


# --- a non-date 完成时限 -----------------------------------------------------------------------
@pytest.mark.parametrize("deadline", ["已完成", "已完成。", "正在推进", "尽快"])
def test_a_non_date_deadline_is_a_warning_and_the_programmes_is_used(programme, deadline):
    report = with_row(good_report(programme), 0, deadline=deadline)
    outcome = run(programme, report)
    assert codes(outcome) == {("deadline.invalid", "warning", "E4")}
    assert outcome.findings[0].message == (
        f"「完成时限」填写的「{deadline}」不是日期，已按通知的完成时限「2023年12月底」汇总；"
        "今后请填写如“2023年12月底”“2023.12”，或“长期坚持”。")
    kept = accepted_rows(report.rows, programme, UNIT)
    assert [r.deadline for r in kept] == ["2023年12月底", "2023年12月底"]


@pytest.mark.parametrize("deadline", ["2023.9", "长期坚持", "持续推进"])
def test_a_date_or_an_ongoing_term_is_kept_as_written(programme, deadline):
    report = with_row(good_report(programme), 0, deadline=deadline)
    assert run(programme, report).findings == []
    assert accepted_rows(report.rows, programme, UNIT)[0].deadline == deadline


def test_an_out_of_year_date_still_rejects(programme):
    outcome = run(programme, with_row(good_report(programme), 0, deadline="2024年6月"))
    assert codes(outcome) == {("deadline.out_of_year", "error", "E4")}


# --- tasks by short names -------------------------------------------------------------------
@pytest.mark.parametrize("name", ["普惠托育", "普惠托育服务提质扩容", "普惠托育服务"])
def test_a_short_task_name_with_its_seq_is_accepted(programme, name):
    assert run(programme, with_row(good_report(programme), 0, task_name=name)).findings == []


def test_a_short_name_of_another_task_than_the_seq_still_mismatches(programme):
    outcome = run(programme, with_row(good_report(programme), 0, task_name="两癌筛查"))
    assert codes(outcome) == {("task_name.mismatch", "error", "B4")}


def test_a_task_name_of_several_tasks_without_seq_is_refused_with_the_candidates(programme):
    report = with_row(good_report(programme, "health"), 0, seq=None, task_name="健康",
                      cells={"task_name": "A4", "units": "B4", "progress": "C4", "deadline": "D4"})
    outcome = run(programme, report, unit="health")
    ambiguous = [f for f in outcome.findings if f.code == "task_name.ambiguous"]
    assert [(f.severity, f.cell) for f in ambiguous] == [("error", "A4")]
    assert ambiguous[0].message == ("实事名称「健康」可能指：第4项「实施“心希望”健康服务行动」、"
                                    "第10项「实施妇幼健康促进行动」，请填写完整实事名称（或填写序号）。")
    assert not [f for f in outcome.findings if f.code == "seq.missing"]      # one message for the cell


def test_a_task_name_of_several_tasks_with_its_seq_is_accepted(programme):
    report = good_report(programme, "health")
    index = next(i for i, r in enumerate(report.rows) if r.seq == 4)
    assert run(programme, with_row(report, index, task_name="健康"), unit="health").findings == []
