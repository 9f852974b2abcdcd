"""Layout drift: the form is found and read the same however the unit reshaped it."""
from __future__ import annotations

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import HEADERS, IND_HEADERS, Book, Sheet, form_sheet, indicator_sheet, write
from wcreport.intake.locate import a1, header_field, locate_report
from wcreport.intake.reader import read_workbook


def parse(tmp_path, book, programme, fmt="xlsx"):
    return locate_report(read_workbook(write(book, tmp_path / f"f.{fmt}")), programme)


def progress_by_seq(report):
    return {r.seq: r.progress for r in report.rows}


def test_a1():
    assert [a1(0, 0), a1(6, 3), a1(9, 26)] == ["A1", "D7", "AA10"]


@pytest.mark.parametrize("text, field", [
    ("序 号", "seq"), ("序　号", "seq"), ("实事\n名称", "task_name"), ("进度情况", "progress"),
    ("完成时间", "deadline"), ("完成\n时限", "deadline"), ("本季度具体措施\n及任务进度情况", "progress"),
    ("责任 单位", "units"), ("备注", None), ("计量单位", None),
])
def test_header_variants(text, field):
    assert header_field(text) == field


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_template_layout_with_indicators(tmp_path, programme, fmt):
    book = Book([form_sheet("教育和体育事业中心", EDU_ROWS),
                 indicator_sheet([("新建幼儿园", 1), ("拓展学位", "1,200个"), ("新建中小学", "")])])
    report = parse(tmp_path, book, programme, fmt)
    assert report.findings == []
    assert report.sheet == "报表" and report.header_row == 3
    assert report.unit_line == "教育和体育事业中心"
    assert [r.seq for r in report.rows] == [1, 4, 7, 10]
    first = report.rows[0]
    assert first.progress == "新建幼儿园1所，\n拓展学位1200个。"       # multi-line kept as written
    assert first.cells == {"seq": "A4", "task_name": "B4", "units": "C4", "progress": "D4", "deadline": "E4"}
    assert [(i.key, i.raw, i.value, i.sheet, i.cell) for i in report.indicators] == [
        ("new_kindergartens", "1", 1.0, "指标", "E2"), ("school_places", "1,200个", 1200.0, "指标", "E3")]


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_drifted_layout(tmp_path, programme, fmt):
    """Title rows, variant headers, extra and swapped columns, merged 责任单位, blank and
    repeated header rows, rows out of order with a wrong 序号, text and full-width numbers."""
    headers = ["序 号", "实事\n名称", "备注", "进度情况", "责任 单位", "完成时间"]
    rows = [
        ["１０", "实施妇幼健康促进行动", "", "建立儿童视力健康档案。", "教体中心", "长期"],
        [None] * 6,
        headers,
        ["2", "实施优质教育资源扩增赋能行动", "重点", "新建幼儿园1所。", "教体中心", "2023年12月"],
        ["3", "实施“心希望”健康服务行动", "", "开展心理健康筛查。", None, "2023年12月"],
        ["填报人：张三", None, None, None, None, None],
    ]
    title = ["2023年为高新区妇女儿童办实事工作进展情况报表"]
    unit_line = ["单位：", "教体中心", "", "", "填报日期：2023-03-31"]
    sheet = Sheet("Sheet1", [title, [], unit_line, headers, *rows], merges=[(0, 0, 0, 5), (7, 4, 8, 4)])
    report = parse(tmp_path, Book([sheet]), programme, fmt)
    assert report.header_row == 4
    assert report.unit_line == "教体中心"
    assert progress_by_seq(report) == {10: "建立儿童视力健康档案。", 1: "新建幼儿园1所。", 4: "开展心理健康筛查。"}
    task4 = next(r for r in report.rows if r.seq == 4)
    assert task4.units == "教体中心"               # filled from the merged range
    assert task4.cells["units"] == "E8"           # pointing at the merge's anchor
    assert task4.cells["progress"] == "D9"
    assert task4.row == 9
    mismatches = [f for f in report.findings if f.code == "table.seq_mismatch"]
    assert {f.cell for f in mismatches} == {"A8", "A9"}
    assert all(f.severity == "warning" for f in report.findings)


def test_several_sheets_pick_the_filled_visible_form(tmp_path, programme):
    old = form_sheet("教育和体育事业中心", [[1, "实施优质教育资源扩增赋能行动", "教体中心", "", ""]], name="报表(旧)")
    hidden = form_sheet("教育和体育事业中心", EDU_ROWS, name="隐藏报表")
    hidden.hidden = True
    book = Book([Sheet("填报说明", [["请按通知要求填写"]]), old, form_sheet("教育和体育事业中心", EDU_ROWS), hidden])
    report = parse(tmp_path, book, programme)
    assert report.sheet == "报表"
    assert "采用「报表」" in report.sheet_note and "报表(旧)" in report.sheet_note


def test_only_hidden_sheet_has_the_form_is_never_read(tmp_path, programme):
    hidden = form_sheet("教育和体育事业中心", EDU_ROWS, name="数据")
    hidden.hidden = True
    report = parse(tmp_path, Book([Sheet("封面", [["封面"]]), hidden]), programme)
    assert report.sheet is None and report.rows == []
    (error,) = report.findings
    assert (error.code, error.severity) == ("table.hidden_only", "error")
    assert "隐藏的工作表「数据」含有报表表头，隐藏的工作表不会被读取" in error.message


def test_indicator_section_below_the_form(tmp_path, programme):
    rows = [*EDU_ROWS, [], IND_HEADERS, [1, "拓展学位", 2200, "个", "２２００"], [2, "新建幼儿园", 2, "所", "1.0"]]
    report = parse(tmp_path, Book([form_sheet("教体中心", rows)]), programme)
    assert len(report.rows) == 4
    assert [(i.key, i.value, i.cell) for i in report.indicators] == [
        ("school_places", 2200.0, "E10"), ("new_kindergartens", 1.0, "E11")]


def test_indicator_not_a_number_is_kept_for_validation(tmp_path, programme):
    book = Book([form_sheet("教体中心", EDU_ROWS), indicator_sheet([("拓展学位", "已完成")])])
    report = parse(tmp_path, book, programme)
    assert report.findings == []
    (value,) = report.indicators
    assert (value.key, value.raw, value.value, value.cell) == ("school_places", "已完成", None, "E2")


@pytest.mark.parametrize("line, expected", [
    ("单位：（盖章）教体中心", "教体中心"), ("单位：教体中心（盖章）", "教体中心"),
    ("填报单位：卫健中心    填报人：李四  联系电话：123", "卫健中心"), ("单位(盖章)：", ""),
])
def test_unit_line_variants(tmp_path, programme, line, expected):
    sheet = Sheet("报表", [["标题"], [line], HEADERS, *EDU_ROWS])
    assert parse(tmp_path, Book([sheet]), programme).unit_line == expected


def test_no_header_is_an_error_naming_the_sheets(tmp_path, programme):
    report = parse(tmp_path, Book([Sheet("Sheet1", [["教体中心"], ["已完成全部任务"]])]), programme)
    (finding,) = report.findings
    assert finding.code == "table.no_header" and finding.severity == "error"
    assert "「Sheet1」中都未找到报表表头行" in finding.message


def test_missing_progress_column_is_an_error(tmp_path, programme):
    sheet = Sheet("报表", [["序号", "实事名称", "责任单位", "完成时限"], [1, "实施优质教育资源扩增赋能行动", "教体中心", "12月"]])
    report = parse(tmp_path, Book([sheet]), programme)
    errors = [f for f in report.findings if f.severity == "error"]
    assert [(f.code, f.cell) for f in errors] == [("table.missing_column", "A1")]
    assert "缺少「本季度具体措施及任务进度情况」列" in errors[0].message


def test_other_missing_columns_are_warnings(tmp_path, programme):
    sheet = Sheet("报表", [["序号", "实事名称", "本季度具体措施及任务进度情况"],
                          [1, "实施优质教育资源扩增赋能行动", "新建幼儿园1所。"]])
    report = parse(tmp_path, Book([sheet]), programme)
    assert [(f.code, f.severity, f.field) for f in report.findings] == [
        ("table.missing_optional_column", "warning", "units"),
        ("table.missing_optional_column", "warning", "deadline")]
    assert "第 1 行表头中缺少「完成时限」列" in report.findings[1].message


def test_header_without_rows_is_an_error(tmp_path, programme):
    report = parse(tmp_path, Book([form_sheet("教体中心", [])]), programme)
    assert [f.code for f in report.findings] == ["table.no_rows"]
    assert "没有任何实事行" in report.findings[0].message


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_task_over_vertically_merged_rows_is_one_task(tmp_path, programme, fmt):
    fragments = ["一是完成摸底。", "二是建成示范点1个。\n（已验收）", "三是发放补贴12户。"]
    body = [["单位：建设局"], HEADERS,
            [2, "实施普惠托育服务提质扩容行动", "建设局", fragments[0], "2023年12月"],
            [None, None, None, fragments[1], None],
            [None, None, None, fragments[2], None],
            [3, "实施儿童友好城市建设行动", "建设局", "推进中。", "2023年12月"]]
    merges = [(2, c, 4, c) for c in (0, 1, 2, 4)]
    report = parse(tmp_path, Book([Sheet("报表", body, merges=merges)]), programme, fmt)
    assert [(r.seq, r.progress) for r in report.rows] == [(2, "\n".join(fragments)), (3, "推进中。")]
    assert report.rows[0].cells["progress"] == "D3"


def test_a_progress_cell_merged_with_its_task_is_read_once(tmp_path, programme):
    body = [["单位：建设局"], HEADERS, [2, "实施普惠托育服务提质扩容行动", "建设局", "一段文字。", "2023年12月"], []]
    merges = [(2, c, 3, c) for c in range(5)]
    report = parse(tmp_path, Book([Sheet("报表", body, merges=merges)]), programme, "xlsx")
    assert [(r.seq, r.progress) for r in report.rows] == [(2, "一段文字。")]
