"""完成时限 written as offices write ongoing work (长期, 持续推进, 常态化, 全年) reads from the
unit's file without a non-date warning and is kept as written; the deadline the report
uses is unchanged (none for an ongoing term, the programme year's end for 全年)."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, write_xlsx
from wcreport.core.quarter import Quarter
from wcreport.intake.reading import parse_report
from wcreport.validate.accepted import accepted_rows
from wcreport.validate.completion import parse_deadline
from wcreport.validate.frames import deadline_columns
from wcreport.validate.suites import validate_report

UNIT = "教育和体育事业中心"
Q1 = Quarter.parse("2023Q1")


@pytest.mark.parametrize(("written", "kind"), [("长期", "ongoing"), ("持续推进", "ongoing"), ("常态化", "ongoing"),
                                               ("全年", "date")])
def test_an_ongoing_deadline_is_no_warning_and_changes_no_date(tmp_path, programme, written, kind):
    path = tmp_path / "教体中心.xlsx"
    write_xlsx(Book([form_sheet(UNIT, [[*row[:4], written] for row in EDU_ROWS])]), path)
    _fmt, report, error = parse_report(path, programme, Q1)
    assert error is None and report.findings == []
    outcome = validate_report(report, "edu_sports", programme, Q1)
    assert not [f for f in outcome.findings if f.code.startswith("deadline.")]
    assert [r.deadline for r in accepted_rows(report.rows, programme, "edu_sports")] == [written] * 4
    parsed = parse_deadline(written, programme.year)
    assert parsed.kind == kind
    columns = deadline_columns(written, programme.year)
    if kind == "ongoing":
        assert parsed.date is None and math.isnan(columns.yyyymmdd)
    else:
        assert parsed.date == dt.date(programme.year, 12, 31)


def test_a_non_date_beside_them_still_warns(tmp_path, programme):
    path = tmp_path / "教体中心.xlsx"
    write_xlsx(Book([form_sheet(UNIT, [[*row[:4], "尽快"] for row in EDU_ROWS])]), path)
    _fmt, report, _error = parse_report(path, programme, Q1)
    outcome = validate_report(report, "edu_sports", programme, Q1)
    assert {f.code for f in outcome.findings if f.code.startswith("deadline.")} == {"deadline.invalid"}
