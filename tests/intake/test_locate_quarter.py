"""The right sheet of the right quarter, and headers as people draw them.

Year-end habits: one workbook for the whole year (三季度, 四季度, 全年 and a hidden stale
template), last quarter's file sent again, a parent header merged over sub-headers, and
an extra 备注 column. Each is written as a real workbook and read back.
"""
from __future__ import annotations

import os

import pytest

from intake.corpus import HEADERS, Book, Sheet, form_sheet, write
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.intake.locate import locate_report
from wcreport.intake.quarter_names import Naming, file_name_check, judge
from wcreport.intake.reader import read_workbook
from wcreport.intake.scan import scan_and_identify

Q4 = Quarter(2023, 4)
TITLE = "2023年{}为高新区妇女儿童办实事工作进展情况报表"


def parse(tmp_path, book, programme, quarter=Q4, fmt="xlsx"):
    return locate_report(read_workbook(write(book, tmp_path / f"f.{fmt}")), programme, quarter)


def edu_rows(text: str) -> list[list[object]]:
    """The education centre's four tasks, each with ``text`` and the task's number."""
    return [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", f"{text}：新建幼儿园。", "2023年12月"],
            [4, "实施“心希望”健康服务行动", "教育和体育事业中心", f"{text}：心理筛查。", "2023年12月"]]


def quarter_sheet(name: str, period: str, text: str, *, hidden: bool = False) -> Sheet:
    sheet = form_sheet("教育和体育事业中心", edu_rows(text), title=TITLE.format(period), name=name)
    sheet.hidden = hidden
    return sheet


def all_text(report) -> str:
    return "\n".join(f"{r.task_name}{r.units}{r.progress}" for r in report.rows)


def year_book(*, with_q4: bool = True, whole_year_period: str = "全年") -> Book:
    sheets = [quarter_sheet("三季度", "第三季度", "三季度进展")]
    if with_q4:
        sheets.append(quarter_sheet("四季度", "第四季度", "四季度进展"))
    sheets.append(quarter_sheet("全年", whole_year_period, "全年汇总"))
    sheets.append(quarter_sheet("模板", "第四季度", "旧模板示例", hidden=True))
    return Book(sheets)


@pytest.mark.parametrize("text, naming", [
    ("2023年第四季度", Naming.THIS), ("四季度", Naming.THIS), ("4季度", Naming.THIS), ("Q4", Naming.THIS),
    ("2023Q4", Naming.THIS), ("第4季度", Naming.THIS), ("10-12月", Naming.THIS), ("10月—12月", Naming.THIS),
    ("第三季度", Naming.OTHER), ("2023年三季度", Naming.OTHER), ("1-9月", Naming.OTHER), ("前三季度", Naming.OTHER),
    ("Q3", Naming.OTHER), ("全年", Naming.WHOLE_YEAR), ("1-12月", Naming.WHOLE_YEAR),
    ("2023年为高新区妇女儿童办实事工作进展情况报表", Naming.NONE), ("2023年度报表", Naming.NONE),
    ("2022年第三季度", Naming.NONE), ("四季青街道", Naming.NONE), ("Sheet1", Naming.NONE),
])
def test_quarter_names_people_write(text, naming):
    assert judge(text, Q4).naming is naming


def test_year_in_a_sheet_name_is_the_whole_year():
    assert judge("2023年度", Q4, sheet_name=True).naming is Naming.WHOLE_YEAR
    assert judge("2023年度", Q4).naming is Naming.NONE     # in a title it is the programme's year


def test_year_workbook_reads_this_quarters_sheet_only(tmp_path, programme):
    report = parse(tmp_path, year_book(), programme)
    assert report.sheet == "四季度" and report.names_quarter is True
    assert [r.progress for r in report.rows] == ["四季度进展：新建幼儿园。", "四季度进展：心理筛查。"]
    for other in ("三季度进展", "全年汇总", "旧模板示例"):
        assert other not in all_text(report)
    assert report.findings == []
    assert "名称或标题为本季度" in report.sheet_note and "「三季度」为其他季度的报表" in report.sheet_note
    assert "「模板」为隐藏工作表" in report.sheet_note


def test_year_workbook_in_the_third_quarter_reads_the_third(tmp_path, programme):
    report = parse(tmp_path, year_book(), programme, quarter=Quarter(2023, 3))
    assert report.sheet == "三季度"
    assert "三季度进展" in all_text(report) and "四季度进展" not in all_text(report)


def test_without_this_quarters_sheet_the_whole_year_sheet_is_read_with_a_warning(tmp_path, programme):
    report = parse(tmp_path, year_book(with_q4=False), programme)
    assert report.sheet == "全年" and report.names_quarter is False
    assert "全年汇总" in all_text(report) and "三季度进展" not in all_text(report)
    (warning,) = report.findings
    assert (warning.code, warning.severity) == ("table.whole_year_sheet", "warning")
    assert "没有标明本季度（2023年第4季度）的工作表，已采用全年工作表「全年」" in warning.message


def test_a_whole_year_sheet_titled_another_quarter_is_refused(tmp_path, programme):
    report = parse(tmp_path, year_book(with_q4=False, whole_year_period="1-9月"), programme)
    assert report.sheet is None and report.rows == [] and report.indicators == []
    (error,) = report.findings
    assert (error.code, error.severity) == ("table.other_quarter", "error")
    assert "为2023年第3季度，不是本季度（2023年第4季度）的报表" in error.message
    assert "请使用本季度模板重新填报" in error.message


def test_last_quarters_file_resent_is_refused_by_its_title(tmp_path, programme):
    book = Book([quarter_sheet("Sheet1", "第三季度", "三季度进展")])
    report = parse(tmp_path, book, programme)
    assert report.rows == [] and report.sheet is None
    assert report.unit_line == "教育和体育事业中心"        # the refusal still reaches the unit
    (error,) = report.findings
    assert error.code == "table.other_quarter"
    assert error.message.startswith("该文件标题「2023年第三季度为高新区妇女儿童办实事工作进展情况报表」为2023年第3季度，"
                                    "不是本季度（2023年第4季度）的报表")


def test_a_sheet_named_this_quarter_but_titled_another_is_refused(tmp_path, programme):
    """Copied from last quarter's sheet and renamed, title unchanged: the unit is asked to fix it."""
    report = parse(tmp_path, Book([quarter_sheet("四季度", "第三季度", "三季度进展")]), programme)
    assert [f.code for f in report.findings] == ["table.other_quarter"]


def test_a_sheet_name_of_another_quarter_refuses_when_the_title_says_nothing(tmp_path, programme):
    report = parse(tmp_path, Book([quarter_sheet("Q3", "", "三季度进展")]), programme)
    (error,) = report.findings
    assert "该文件工作表「Q3」为2023年第3季度" in error.message


def test_a_form_naming_no_quarter_reads_as_before(tmp_path, programme):
    plain = Book([form_sheet("教育和体育事业中心", edu_rows("进展"))])
    with_quarter, without = parse(tmp_path, plain, programme), parse(tmp_path, plain, programme, quarter=None)
    assert with_quarter.findings == without.findings == []
    assert with_quarter.rows == without.rows
    assert (with_quarter.names_quarter, without.names_quarter) == (False, None)


def test_hidden_only_form_is_refused_even_when_it_names_this_quarter(tmp_path, programme):
    book = Book([Sheet("封面", [["封面"]]), quarter_sheet("四季度", "第四季度", "四季度进展", hidden=True)])
    report = parse(tmp_path, book, programme)
    assert report.rows == [] and [f.code for f in report.findings] == ["table.hidden_only"]


@pytest.mark.parametrize("name, refused", [
    ("建设局2023年第三季度报表.xlsx", True), ("建设局三季度.xlsx", True), ("建设局四季度报表.xlsx", False),
    ("建设局报表.xlsx", False), ("建设局2022年第三季度报表.xlsx", False),
])
def test_file_name_of_another_quarter_when_no_sheet_names_one(tmp_path, programme, name, refused):
    report = parse(tmp_path, Book([form_sheet("教育和体育事业中心", edu_rows("进展"))]), programme)
    found = file_name_check(name, report, Q4)
    assert (found is not None) is refused
    if found:
        assert f"该文件文件名「{name}」为2023年第3季度，不是本季度（2023年第4季度）的报表" in found.message


def test_file_name_does_not_overrule_a_sheet_naming_this_quarter(tmp_path, programme):
    report = parse(tmp_path, year_book(), programme)
    assert file_name_check("教体中心三季度报表（修改）.xlsx", report, Q4) is None


def test_scan_refuses_last_quarters_file_name(tmp_path, programme):
    paths = quarter_paths("2023Q4", tmp_path / "inbox", tmp_path / "output")
    write(Book([form_sheet("教育和体育事业中心", edu_rows("进展"))]), paths.inbox / "教体中心第三季度报表.xlsx")
    write(Book([form_sheet("教育和体育事业中心", edu_rows("进展"))]), paths.inbox / "教体中心第四季度报表.xlsx")
    old = paths.inbox / "教体中心第三季度报表.xlsx"
    os.utime(old, (old.stat().st_mtime + 60,) * 2)     # the resent old file is the newest
    records = {r.path: r for r in scan_and_identify(paths, programme, stable_seconds=0, max_wait_seconds=0)}
    refused, right = records["教体中心第三季度报表.xlsx"], records["教体中心第四季度报表.xlsx"]
    assert refused.status == "rejected" and refused.unit == "edu_sports"
    assert [f.code for f in refused.findings] == ["table.other_quarter"]
    assert "文件名「教体中心第三季度报表.xlsx」为2023年第3季度" in refused.reasons[0]
    assert right.status == "pending"


# --- headers as people draw them -------------------------------------------------------

TWO_ROW = [
    ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", None, "完成时限"],
    [None, None, None, "具体措施", "进度情况", None],
]
TWO_ROW_MERGES = [(2, 0, 3, 0), (2, 1, 3, 1), (2, 2, 3, 2), (2, 3, 2, 4), (2, 5, 3, 5)]


def drawn(header: list[list[object]], merges, rows: list[list[object]], name: str = "报表") -> Sheet:
    return Sheet(name, [[TITLE.format("第四季度")], ["单位：教育和体育事业中心"], *header, *rows],
                 merges=[(0, 0, 0, 5), *merges])


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_two_row_header_reads_both_sub_columns(tmp_path, programme, fmt):
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "召开推进会2次。", "新建幼儿园1所。", "2023年12月"],
            [4, "实施“心希望”健康服务行动", "教育和体育事业中心", "", "开展心理筛查3次。", "2023年12月"]]
    report = parse(tmp_path, Book([drawn(TWO_ROW, TWO_ROW_MERGES, rows)]), programme, fmt=fmt)
    assert report.findings == []
    assert report.header_row == 3
    assert [r.progress for r in report.rows] == ["具体措施：召开推进会2次。\n进度情况：新建幼儿园1所。",
                                                 "进度情况：开展心理筛查3次。"]
    assert [r.cells["progress"] for r in report.rows] == ["D5", "E6"]
    assert [r.deadline for r in report.rows] == ["2023年12月", "2023年12月"]


def test_two_row_header_without_merges(tmp_path, programme):
    """Drawn with borders only: the parent written over the first sub-column, the rest blank."""
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "召开推进会。", "已完成。", "2023年12月"]]
    report = parse(tmp_path, Book([drawn(TWO_ROW, [], rows)]), programme)
    assert [r.progress for r in report.rows] == ["具体措施：召开推进会。\n进度情况：已完成。"]
    assert report.findings == []


def test_three_row_header(tmp_path, programme):
    header = [
        ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", None, None, "完成时限"],
        [None, None, None, "具体措施", "进度情况", None, None],
        [None, None, None, None, "已完成", "下一步", None],
    ]
    merges = [(2, 0, 4, 0), (2, 1, 4, 1), (2, 2, 4, 2), (2, 3, 2, 5), (3, 3, 4, 3), (3, 4, 3, 5), (2, 6, 4, 6)]
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心",
             "召开推进会。", "新建幼儿园1所。", "继续推进。", "2023年12月"]]
    report = parse(tmp_path, Book([drawn(header, merges, rows)]), programme)
    assert report.findings == []
    (row,) = report.rows
    assert row.progress == "具体措施：召开推进会。\n进度情况·已完成：新建幼儿园1所。\n进度情况·下一步：继续推进。"
    assert (row.row, row.deadline) == (6, "2023年12月")


def test_progress_merged_across_its_header_columns_is_read_once(tmp_path, programme):
    header = [["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", None, "完成时限"]]
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "新建幼儿园1所。", None, "2023年12月"]]
    report = parse(tmp_path, Book([drawn(header, [(2, 3, 2, 4), (3, 3, 3, 4)], rows)]), programme)
    assert [r.progress for r in report.rows] == ["新建幼儿园1所。"]
    assert report.findings == []


def test_text_in_a_column_no_header_claims_is_a_warning(tmp_path, programme):
    header = [[*HEADERS, "备注"]]
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "新建幼儿园1所。", "2023年12月", "另有2所在建"],
            [4, "实施“心希望”健康服务行动", "教育和体育事业中心", "心理筛查。", "2023年12月", "无"],
            [7, "实施家家幸福安康行动", "教育和体育事业中心", "巡讲12场。", "2023年12月", "经费已到位"],
            [None, None, None, None, None, None, "表外备忘"]]
    report = parse(tmp_path, Book([drawn(header, [], rows)]), programme)
    warnings = [f for f in report.findings if f.code == "table.column_not_read"]
    assert [(f.severity, f.cell) for f in warnings] == [("warning", "F4")]
    assert warnings[0].message.startswith("第F列（备注）有内容未被读取：F4、F6。")
    assert [r.progress for r in report.rows] == ["新建幼儿园1所。", "心理筛查。", "巡讲12场。"]


def test_text_in_a_column_without_a_header_is_a_warning(tmp_path, programme):
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "新建幼儿园1所。", "2023年12月", "补充：另建2所"]]
    report = parse(tmp_path, Book([drawn([HEADERS], [], rows)]), programme)
    (warning,) = report.findings
    assert warning.message.startswith("第F列（无表头）有内容未被读取：F4。")


def test_reference_column_is_not_read_and_not_warned(tmp_path, programme):
    header = [[*HEADERS, "上季度报送内容（仅供参考）"]]
    rows = [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "新建幼儿园1所。", "2023年12月", "三季度旧文字"]]
    report = parse(tmp_path, Book([drawn(header, [], rows)]), programme)
    assert report.findings == [] and "三季度旧文字" not in all_text(report)


def test_a_blank_unnamed_copy_does_not_hide_the_filled_whole_year_sheet(tmp_path, programme):
    blank = form_sheet("教育和体育事业中心", [[1, "实施优质教育资源扩增赋能行动", "教育和体育事业中心", "", ""]],
                       name="Sheet2")
    report = parse(tmp_path, Book([quarter_sheet("全年", "全年", "全年汇总"), blank]), programme)
    assert report.sheet == "全年" and [f.code for f in report.findings] == ["table.whole_year_sheet"]


def test_a_filled_unnamed_sheet_wins_over_the_whole_year_sheet(tmp_path, programme):
    plain = form_sheet("教育和体育事业中心", edu_rows("本季度进展"), name="Sheet1")
    report = parse(tmp_path, Book([quarter_sheet("全年", "全年", "全年汇总"), plain]), programme)
    assert report.sheet == "Sheet1" and report.findings == []
    assert "全年汇总" not in all_text(report)
