"""Unit identity: 单位 line, else 责任单位 column, else file name; aliases, fuzzy, ambiguity."""
from __future__ import annotations

import pytest

from wcreport.core.model import ParsedReport, ProgressRow
from wcreport.intake.identity import identify_unit, match_unit


def report(unit_line=None, units=()):
    rows = [ProgressRow(seq=i + 1, task_name="x", units=u, progress="p", sheet="报表", row=4 + i)
            for i, u in enumerate(units)]
    return ParsedReport(sheet="报表", unit_line=unit_line, rows=rows)


@pytest.mark.parametrize("text, key", [
    ("教育和体育事业中心", "edu_sports"), ("教体中心", "edu_sports"), ("卫健中心（盖章）", "health"),
    ("高新区检察院", "procuratorate"), ("检察院", "procuratorate"), ("公积金分中心", "housing_fund"),
    ("淄博高新区教育和体育事业中心", "edu_sports"), ("卫生建康事业中心", "health"),  # typo: fuzzy
    ("中埠镇人民政府", "zhongbu"), ("ＢＡＯＳＨＡＮ_PARK", None),
])
def test_match_unit(programme, text, key):
    assert match_unit(text, programme).unit == key


def test_unit_line_first(programme):
    ident = identify_unit(report("卫健中心", ["教体中心"]), "教体中心报表.xlsx", programme)
    assert (ident.unit, ident.source) == ("health", "unit_line")


def test_units_column_when_line_is_empty(programme):
    ident = identify_unit(report("", ["教育和体育事业中心", "教体中心", ""]), "报表.xlsx", programme)
    assert (ident.unit, ident.source) == ("edu_sports", "units_column")


def test_units_column_lists_of_all_responsible_units_fall_back_to_file_name(programme):
    units = ["教育和体育事业中心\n各街道、镇、中心", "教育和体育事业中心\n卫生健康事业中心\n各街道、镇、中心"]
    ident = identify_unit(report("", units), "（四宝山街道）为妇女儿童办实事第1季度报表 (2).xlsx", programme)
    assert (ident.unit, ident.source) == ("sibaoshan", "file_name")


def test_common_unit_across_rows_of_the_units_column(programme):
    units = ["组织人事部\n建设局\n卫生健康事业中心", "组织人事部\n建设局", "组织人事部\n卫生健康事业中心"]
    assert identify_unit(report(None, units), "x.xlsx", programme).unit == "org_personnel"


def test_file_name_only(programme):
    ident = identify_unit(None, "sub/2023年第一季度 公积金分中心 报表-最终版.et", programme)
    assert (ident.unit, ident.source) == ("housing_fund", "file_name")


def test_ambiguous_names_the_candidates(programme):
    ident = identify_unit(report("宝山"), "报表.xlsx", programme)
    assert ident.unit is None
    assert {"sibaoshan", "baoshan_park"} <= set(ident.candidates)
    assert "可能是" in ident.reason and "四宝山街道" in ident.reason and "淄博宝山生态科技园管理服务中心" in ident.reason
    assert "「单位：」行写的是「宝山」" in ident.reason


def test_unknown_unit_is_refused(programme):
    ident = identify_unit(report("某某未列明单位", ["某某未列明单位"]), "其他单位报表.xlsx", programme)
    assert ident.unit is None and len(ident.candidates) == 3
    assert "「某某未列明单位」，不是本次实事的责任单位" in ident.reason
    assert "最接近的责任单位" in ident.reason


def test_nothing_names_a_unit(programme):
    ident = identify_unit(report("", ["某某未列明单位"]), "其他单位报表.xlsx", programme)
    assert ident.unit is None and ident.candidates == []
    assert "与通知中的责任单位都对应不上" in ident.reason
    assert "请在表格第2行「单位：」后填写本单位全称" in ident.reason


def test_an_outside_organisation_is_not_attributed_through_weak_evidence(programme):
    ident = identify_unit(report("淄博某某管理咨询有限公司", ["中埠镇"]), "中埠镇报表.xlsx", programme)
    assert ident.unit is None
    assert "「淄博某某管理咨询有限公司」，不是本次实事的责任单位" in ident.reason


def test_two_units_on_one_line_are_refused(programme):
    ident = identify_unit(report("四宝山街道、中埠镇", ["四宝山街道"]), "四宝山街道报表.xlsx", programme)
    assert ident.unit is None and set(ident.candidates) == {"sibaoshan", "zhongbu"}
    assert "同时写了四宝山街道、中埠镇多个单位" in ident.reason


@pytest.mark.parametrize("rel_path", ["中埠镇/报表.xlsx", "各单位/中埠镇人民政府/一季度/报表.xlsx"])
def test_the_units_own_folder_is_explicit_evidence(programme, rel_path):
    ident = identify_unit(report("", ["各街道、镇、中心"]), rel_path, programme)
    assert (ident.unit, ident.source) == ("zhongbu", "folder")


def test_folder_and_unit_line_agreeing_are_both_recorded(programme):
    ident = identify_unit(report("中埠镇"), "中埠镇/报表.xlsx", programme)
    assert (ident.unit, ident.source) == ("zhongbu", "folder+unit_line")


def test_folder_and_unit_line_disagreeing_are_refused(programme):
    ident = identify_unit(report("四宝山街道"), "中埠镇/四宝山街道报表.xlsx", programme)
    assert ident.unit is None
    assert "文件夹「中埠镇」" in ident.reason and "「四宝山街道」" in ident.reason


def test_a_known_sender_is_explicit_evidence(programme):
    assert identify_unit(report(""), "x.xlsx", programme, sender=("a@b.cn", "health")).source == "sender"
    clash = identify_unit(report("中埠镇"), "x.xlsx", programme, sender=("a@b.cn", "health"))
    assert clash.unit is None and "a@b.cn" in clash.reason


def test_a_folder_named_after_no_unit_is_no_evidence(programme):
    ident = identify_unit(report("卫健中心"), "第一批/扫描件/报表.xlsx", programme)
    assert (ident.unit, ident.source) == ("health", "unit_line")


def _next_year(programme, subject):
    """The programme with another year's titles: file names carry the new subject."""
    notice = programme.notice.model_copy(update={"title": f"关于2024年{subject}的通知"})
    report = programme.report.model_copy(update={"title": f"2024年{subject}工作进展情况报表"})
    return programme.model_copy(update={"notice": notice, "report": report})


@pytest.mark.parametrize("subject, file_name", [
    ("为高新区妇女儿童办实事", "卫生建康事业中心为高新区妇女儿童办实事报表.xlsx"),
    ("为全区老年人办实事", "卫生建康事业中心为全区老年人办实事报表.xlsx"),
    ("推进乡村振兴重点任务", "2024年推进乡村振兴重点任务-卫生建康事业中心.xlsx"),
])
def test_file_name_noise_comes_from_the_programme_titles(programme, subject, file_name):
    ident = identify_unit(None, file_name, _next_year(programme, subject))   # a typo: matched fuzzily
    assert (ident.unit, ident.source) == ("health", "file_name")


def test_title_words_inside_a_unit_name_are_kept(programme):
    titled = _next_year(programme, "为检察院办实事")
    assert identify_unit(None, "高新区检察院为检察院办实事报表.xlsx", titled).unit == "procuratorate"
    assert identify_unit(None, "检察院报表.xlsx", titled).unit == "procuratorate"
