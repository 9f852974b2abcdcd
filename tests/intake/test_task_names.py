"""Tasks by the names offices write: full, short (programme) and derived names, matched
exact, contained, then fuzzily; a name that fits several tasks is not guessed."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from intake.corpus import Book, form_sheet, write
from wcreport.core.programme import Programme
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import read_workbook
from wcreport.intake.task_names import derived_names, match_task, task_name_keys

# The 2023 programme's ten tasks: what is derived from each full name (name_key form).
DERIVED = {
    1: ["实施优质教育资源扩增赋能行动", "优质教育资源扩增赋能"],
    2: ["实施普惠托育服务提质扩容行动", "普惠托育服务提质扩容"],
    3: ["实施儿童友好城市建设行动", "儿童友好城市建设"],
    4: ["实施心希望健康服务行动", "心希望健康服务", "心希望"],
    5: ["实施适龄妇女两癌免费筛查和救助行动", "适龄妇女两癌免费筛查和救助", "两癌"],
    6: ["实施巾帼创业创新行动", "巾帼创业创新"],
    7: ["实施家家幸福安康行动", "家家幸福安康"],
    8: ["实施文润童心品质提升行动", "文润童心品质提升", "文润童心"],
    9: ["实施特殊困难儿童关爱行动", "特殊困难儿童关爱"],
    10: ["实施妇幼健康促进行动", "妇幼健康促进"],
}


def test_derived_names_of_the_ten_tasks(programme):
    assert {t.seq: derived_names(t.name) for t in programme.tasks} == DERIVED


@pytest.mark.parametrize("name, derived", [
    ("开展家庭教育推广项目：百场巡讲", ["开展家庭教育推广项目百场巡讲", "家庭教育推广项目百场巡讲",
                                        "开展家庭教育推广项目", "家庭教育推广"]),
    ("推进“一老一小”工程", ["推进一老一小工程", "一老一小"]),
    ("实施", ["实施"]),                      # a bare prefix keeps itself: nothing shorter is derived
    ("卫生健康促进", ["卫生健康促进"]),         # no prefix, suffix, colon or quote: only itself
])
def test_derivation_rules(name, derived):
    assert derived_names(name) == derived


def test_no_two_tasks_share_a_name_of_the_programme(programme):
    keys = [(k, t.seq) for t in programme.tasks for k in task_name_keys(t)]
    assert len({k for k, _ in keys}) == len(keys)


@pytest.mark.parametrize("written, seq, how", [
    ("实施适龄妇女“两癌”免费筛查和救助行动", 5, "exact"),
    ("两癌筛查", 5, "exact"),                         # the programme's short name
    ("两 癌 筛 查。", 5, "exact"),
    ("两癌", 5, "exact"),                             # the quoted core
    ("文润童心", 8, "exact"),
    ("妇幼健康促进", 10, "exact"),                     # without 实施 … 行动
    ("开展两癌筛查工作", 5, "contained"),
    ("儿童友好城市", 3, "contained"),
    ("心理健康服务", 4, "fuzzy"),
    ("实施优质教育资源扩容赋能行动", 1, "fuzzy"),        # a typo
])
def test_a_name_resolves_to_its_task(programme, written, seq, how):
    found = match_task(written, programme)
    assert (found.seq, found.how) == (seq, how)


@pytest.mark.parametrize("written, candidates", [
    ("健康", (4, 10)), ("儿童", (3, 9)), ("行动", tuple(range(1, 11))),
])
def test_a_name_of_several_tasks_is_not_guessed(programme, written, candidates):
    found = match_task(written, programme)
    assert (found.seq, found.how, found.candidates) == (None, "ambiguous", candidates)


@pytest.mark.parametrize("written", ["实施托育服务行动", "其他工作", "x", ""])
def test_an_unknown_name_resolves_to_no_task(programme, written):
    assert match_task(written, programme).seq is None


def test_a_programme_short_name_of_two_tasks_is_refused(programme):
    data = programme.model_dump()
    data["tasks"][0]["short_names"] = ["两癌筛查"]
    with pytest.raises(ValidationError, match="short_names"):
        Programme.model_validate(data)


def test_rows_without_seq_are_matched_by_short_names(tmp_path, programme):
    rows = [["两癌筛查", "卫生健康事业中心", "完成宫颈癌筛查1200人。", "2023年12月底"],
            ["心希望健康服务", "卫生健康事业中心", "开通心理援助热线。", "2023年12月底"],
            ["妇幼健康", "卫生健康事业中心", "开展体质监测50人。", "2023年12月底"],
            ["普惠托育", "卫生健康事业中心", "新增托位120个。", "2023年12月底"]]
    headers = ["实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
    book = Book([form_sheet("卫健局", rows, headers=headers)])
    report = locate_report(read_workbook(write(book, tmp_path / "f.xlsx")), programme)
    assert [(r.seq, r.task_name) for r in report.rows] == [
        (5, "两癌筛查"), (4, "心希望健康服务"), (10, "妇幼健康"), (2, "普惠托育")]
    assert [f.code for f in report.findings] == ["table.missing_optional_column"]     # 序号 only
