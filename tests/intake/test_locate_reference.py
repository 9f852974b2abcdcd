"""Reference material (last quarter's text, marked 仅供参考) is never read as this quarter's report,
wherever it stands: a column before the real one, a filled sheet beside a blank form."""
from __future__ import annotations

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import HEADERS, IND_HEADERS, Book, Sheet, form_sheet, indicator_sheet, write
from wcreport.intake.locate import header_field, indicator_header_field, is_reference, locate_report
from wcreport.intake.reader import read_workbook

REFERENCE_COLUMN = "上季度具体措施及任务进度情况（仅供参考）"


def parse(tmp_path, book, programme, fmt="xlsx"):
    return locate_report(read_workbook(write(book, tmp_path / f"f.{fmt}")), programme)


@pytest.mark.parametrize("text", [REFERENCE_COLUMN, "上季度报送内容（仅供参考）", "上季度报送值（仅供参考）",
                                  "上季度累计完成值", "完成时限（仅供参考）"])
def test_reference_headers_name_no_field(text):
    assert is_reference(text)
    assert header_field(text) is None and indicator_header_field(text) is None


@pytest.mark.parametrize("fmt", ["xlsx", "ods"])
def test_a_reference_column_before_the_progress_column_is_skipped(tmp_path, programme, fmt):
    headers = HEADERS[:3] + [REFERENCE_COLUMN] + HEADERS[3:]
    rows = [row[:3] + [f"上季度：{row[3]}"] + row[3:] for row in EDU_ROWS]
    indicators = Sheet("指标", [IND_HEADERS[:4] + ["上季度累计完成值（仅供参考）", IND_HEADERS[4]],
                                [1, "拓展学位", 2200, "个", 1200, 1800]])
    report = parse(tmp_path, Book([form_sheet("教育和体育事业中心", rows, headers=headers), indicators]),
                   programme, fmt)
    assert report.findings == []
    assert [r.progress for r in report.rows] == [row[3] for row in EDU_ROWS]
    assert report.rows[0].cells["progress"] == "E4"
    assert [(i.key, i.value, i.cell) for i in report.indicators] == [("school_places", 1800.0, "F2")]


def test_a_filled_reference_sheet_is_not_taken_for_a_blank_form(tmp_path, programme):
    blank = [[row[0], row[1], row[2], "", ""] for row in EDU_ROWS]
    book = Book([form_sheet("教育和体育事业中心", EDU_ROWS, name="上季度报送内容（仅供参考）"),
                 form_sheet("教育和体育事业中心", blank),
                 indicator_sheet([("拓展学位", 1200)], name="上季度指标（仅供参考）")])
    report = parse(tmp_path, book, programme)
    assert report.sheet == "报表"
    assert all(r.progress == "" for r in report.rows)
    assert report.indicators == []
