"""Each rule of the suites: a minimal bad report gets its specific finding, the corrected
twin is accepted. Runs the real GX project in expectations/ (no Data Docs: faster)."""
from __future__ import annotations

import pytest

from wcreport.core.quarter import Quarter
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, previous_result, with_indicator, with_row

Q2 = Quarter(2023, 2)


def run(programme, report, previous=None, unit=UNIT):
    return validate_report(report, unit, programme, Q2, previous=previous)


def errors(outcome):
    return [f for f in outcome.findings if f.severity == "error"]


def only(outcome, code):
    found = [f for f in outcome.findings if f.code == code]
    assert found, f"no {code} in {[f.as_text() for f in outcome.findings]}"
    return found[0]


def _append(report, row):
    return report.model_copy(update={"rows": [*report.rows, row]})


def _extra_row(report, r=6, **changes):
    base = report.rows[0]
    cells = {k: f"{v[0]}{r}" for k, v in base.cells.items()}
    return base.model_copy(update={"row": r, "cells": cells, **changes})


def _prev_same(programme, report):
    return previous_result(programme, report)


def _prev_values(programme, report):
    """Previous quarter with the same indicator values and no progress rows."""
    return previous_result(programme, report.model_copy(update={"rows": []}))


# (id, code, severity, bad(programme, good) -> (report, previous), twin(...) -> (report, previous),
#  cell, message fragment)
CASES = [
    ("seq missing", "seq.missing", "error",
     lambda p, g: (with_row(g, 0, seq=None), None), lambda p, g: (g, None),
     "A4", "序号为空"),
    ("seq not in 1-10", "seq.unknown", "error",
     lambda p, g: (with_row(g, 0, seq=11), None), lambda p, g: (g, None),
     "A4", "序号「11」不是通知所列实事的序号（应为1–10）"),
    ("task of another unit, filled: kept out, the file accepted", "task.not_responsible", "warning",
     lambda p, g: (_append(g, _extra_row(g, seq=1, task_name=p.tasks_by_seq[1].name)), None),
     # the twin: the same row of the full notice form, left blank, is template, not report
     lambda p, g: (_append(g, _extra_row(g, seq=1, task_name=p.tasks_by_seq[1].name, progress="",
                                         deadline="")), None),
     "A6", "本单位不是第1项实事「实施优质教育资源扩增赋能行动」的责任单位，该行未计入本单位报表"),
    ("duplicate task row", "task.duplicate", "error",
     lambda p, g: (_append(g, _extra_row(g)), None), lambda p, g: (g, None),
     "A4", "第2项实事重复填写（第4、6行）"),
    ("task name differs", "task_name.mismatch", "error",
     lambda p, g: (with_row(g, 0, task_name="实施托育服务行动"), None),
     lambda p, g: (with_row(g, 0, task_name=" 实施普惠托育服务 提质扩容行动\n"), None),
     "B4", "与通知第2项「实施普惠托育服务提质扩容行动」不一致"),
    ("progress empty", "progress.empty", "error",
     lambda p, g: (with_row(g, 0, progress="  "), None), lambda p, g: (g, None),
     "D4", "「本季度具体措施及任务进度情况」为空，请填写本季度具体措施及进度"),
    ("progress placeholder 无", "progress.placeholder", "error",
     lambda p, g: (with_row(g, 0, progress="无"), None),
     lambda p, g: (with_row(g, 0, progress="无障碍托育室已建成1处。"), None),
     "D4", "只填写了「无」"),
    ("progress placeholder 同上", "progress.placeholder", "error",
     lambda p, g: (with_row(g, 1, progress="同上。"), None), lambda p, g: (g, None),
     "D5", "只填写了「同上。」"),
    ("progress placeholder /", "progress.placeholder", "error",
     lambda p, g: (with_row(g, 1, progress=" / "), None), lambda p, g: (g, None),
     "D5", "只填写了「/」"),
    ("progress placeholder 待填写", "progress.placeholder", "error",
     lambda p, g: (with_row(g, 1, progress="待填写"), None), lambda p, g: (g, None),
     "D5", "只填写了「待填写」"),
    ("progress copied from previous quarter", "progress.copied", "error",
     lambda p, g: (g, _prev_same(p, with_row(g, 0, progress=g.rows[0].progress.replace("，", "， ")))),
     lambda p, g: (with_row(g, 0, progress=g.rows[0].progress + "新增托位120个。"),
                   _prev_same(p, with_row(g, 1, progress="上季度完成了调研。"))),
     "D4", "与本单位2023年第1季度已报送的内容完全相同"),
    ("deadline empty", "deadline.empty", "error",
     lambda p, g: (with_row(g, 0, deadline=""), None), lambda p, g: (with_row(g, 0, deadline="年底"), None),
     "E4", "「完成时限」为空"),
    ("deadline not a date: the programme's is used", "deadline.invalid", "warning",
     lambda p, g: (with_row(g, 0, deadline="已完成"), None),
     lambda p, g: (with_row(g, 0, deadline="2023.12"), None),
     "E4", "「完成时限」填写的「已完成」不是日期，已按通知的完成时限「2023年12月底」汇总"),
    ("deadline outside the year", "deadline.out_of_year", "error",
     lambda p, g: (with_row(g, 0, deadline="2024年6月"), None),
     lambda p, g: (with_row(g, 0, deadline="长期坚持"), None),
     "E4", "「完成时限」「2024年6月」不在2023年内"),
    ("deadline Excel serial outside the year", "deadline.out_of_year", "error",
     lambda p, g: (with_row(g, 0, deadline="44926"), None),       # 2022-12-31
     lambda p, g: (with_row(g, 0, deadline="45291"), None),       # 2023-12-31
     "E4", "不在2023年内"),
    ("task of the unit missing", "task.missing", "error",
     lambda p, g: (g.model_copy(update={"rows": g.rows[:1]}), None), lambda p, g: (g, None),
     None, "缺少第3项实事「实施儿童友好城市建设行动」的进展情况"),
    ("indicator not a number", "indicator.not_numeric", "error",
     lambda p, g: (with_indicator(g, 0, raw="两处左右", value=None), None),
     lambda p, g: (with_indicator(g, 0, raw="2个", value=None), None),
     "E3", "指标「工会“妈妈小屋”示范点」填写的「两处左右」不是数字"),
    ("indicator negative", "indicator.negative", "error",
     lambda p, g: (with_indicator(g, 0, raw="-1", value=-1.0), None),
     lambda p, g: (with_indicator(g, 0, raw="0", value=0.0), None),
     "E3", "是负数"),
    ("indicator lower than previous quarter", "indicator.decreased", "error",
     lambda p, g: (with_indicator(g, 0, raw="1", value=1.0), _prev_values(p, g)),
     lambda p, g: (g, _prev_values(p, g)),
     "E3", "本年累计完成值1个低于本单位2023年第1季度报送的2个"),
    ("indicator far above target", "indicator.far_above_target", "warning",
     lambda p, g: (with_indicator(g, 0, raw="30", value=30.0), None),
     lambda p, g: (with_indicator(g, 0, raw="3", value=3.0), None),
     "E3", "累计完成值30个超过全年目标3个的3倍"),
    ("indicator not in the notice", "indicator.unknown", "warning",
     lambda p, g: (with_indicator(g, 0, key=None, name="其他工作"), None), lambda p, g: (g, None),
     "E3", "指标「其他工作」不是本年度通知中的指标"),
    ("indicator of another unit", "indicator.not_assigned", "warning",
     lambda p, g: (g.model_copy(update={"indicators": [*g.indicators, g.indicators[0].model_copy(
         update={"key": "new_schools", "name": "新建中小学", "cell": "E9"})]}), None),
     lambda p, g: (g, None),
     "E9", "指标「新建中小学」不由本单位报送"),
    ("indicator not reported", "indicator.missing", "warning",
     lambda p, g: (g.model_copy(update={"indicators": g.indicators[1:]}), None), lambda p, g: (g, None),
     None, "未报送指标「工会“妈妈小屋”示范点」"),
]


def test_good_report_is_accepted_without_findings(programme):
    outcome = run(programme, good_report(programme))
    assert outcome.findings == []
    assert outcome.data_docs is None


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_rule(programme, case):
    _id, code, severity, bad, twin, cell, fragment = case
    good = good_report(programme)
    report, previous = bad(programme, good)
    outcome = run(programme, report, previous)
    finding = only(outcome, code)
    assert finding.severity == severity
    assert fragment in finding.message, finding.message
    assert finding.cell == cell
    if cell:
        assert finding.sheet in ("报表", "指标")
        assert finding.as_text().startswith(f"工作表「{finding.sheet}」{cell}：")
    assert "expect" not in finding.message and "GX" not in finding.message
    if severity == "error":
        assert errors(outcome)          # rejected
    else:
        assert not errors(outcome)      # accepted with a warning

    report, previous = twin(programme, good)
    fixed = run(programme, report, previous)
    assert errors(fixed) == [], [f.as_text() for f in fixed.findings]
    assert not [f for f in fixed.findings if f.code == code]


def test_one_message_per_cell(programme):
    """An empty seq also fails 'in 1-10', 'responsible' ...: the unit reads one message."""
    report = with_row(good_report(programme), 0, seq=None)
    outcome = run(programme, report)
    a4 = [f for f in outcome.findings if f.cell == "A4"]
    assert [f.code for f in a4] == ["seq.missing"]


@pytest.mark.parametrize("name", ['实施"心希望"健康服务行动', "实施「心希望」健康服务行动",
                                  "实施 ＂心希望＂ 健康服务行动", "实施‘心希望’健康服务行动"])
def test_task_name_tolerates_quote_width_and_space_variants(programme, name):
    report = good_report(programme, "health")
    index = next(i for i, r in enumerate(report.rows) if r.seq == 4)
    outcome = run(programme, with_row(report, index, task_name=name), unit="health")
    assert not [f for f in outcome.findings if f.code == "task_name.mismatch"]


def test_several_problems_reported_together(programme):
    report = with_row(with_row(good_report(programme), 0, progress="略"), 1, deadline="2022年")
    report = with_indicator(report, 1, raw="abc", value=None)
    outcome = run(programme, report)
    assert {(f.code, f.cell) for f in errors(outcome)} == {
        ("progress.placeholder", "D4"), ("deadline.out_of_year", "E5"), ("indicator.not_numeric", "E4")}


def test_previous_quarter_of_another_programme_year_is_not_compared(programme):
    """2023Q1 follows 2022Q4: cumulative values restart with the new programme year."""
    good = good_report(programme)
    low = with_indicator(good, 0, raw="1", value=1.0)
    previous = previous_result(programme, good, quarter="2022Q4")
    assert errors(validate_report(low, UNIT, programme, Quarter(2023, 1), previous=previous)) == []
