"""`wcreport check` shows what it understood: each indicator number it read, a warning when
the text held more than the number, an error when a comma makes it ambiguous."""
from __future__ import annotations

import openpyxl
import pytest

from wcreport.cli.main import main
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import FIRST_DATA_ROW, FORM_SHEET, INDICATOR_SHEET, build_unit_workbook
from wcreport.intake.cells import read_number
from wcreport.validate.selfcheck import check, check_file

QUARTER = Quarter(2023, 2)
UNIT = "edu_sports"     # tasks 1, 4, 7, 10; indicators 新建幼儿园 .. 女性健康科普大讲堂


def filled(tmp_path, programme, values: dict[str, object]):
    """The unit's form, every task filled in properly, the indicators as given by name."""
    tasks = programme.tasks_of(UNIT)
    workbook = build_unit_workbook(programme, UNIT, QUARTER,
                                   progress={t.seq: "本季度召开推进会2次，完成摸底。" for t in tasks},
                                   deadlines={t.seq: "2023年12月底" for t in tasks})
    sheet = workbook[INDICATOR_SHEET]
    for row in range(FIRST_DATA_ROW, sheet.max_row + 1):
        name = sheet.cell(row, 2).value
        sheet.cell(row, 5).value = values.get(name, 0)
    path = tmp_path / "教育和体育事业中心.xlsx"
    workbook.save(path)
    return path


def by_code(result, code):
    return [f for f in result.record.findings if f.code == code]


def test_every_number_read_is_echoed(tmp_path, programme):
    path = filled(tmp_path, programme, {"拓展学位": "约1200个", "新建幼儿园": 1})
    ok, text = check_file(path, programme)
    assert "读取到的指标数字" in text
    assert "指标「拓展学位」：「约1200个」按 1200 计" in text
    assert "指标「新建幼儿园」：「1」按 1 计" in text
    assert text.count("按 0 计") == 5            # the others, 0 each


@pytest.mark.parametrize("raw, cause_words", [
    ("约2处", "是约数"), ("100人次以上", "是约数"), ("1200个（其中新建800个）", "不止一个数字"),
    ("已完成1200", "除数字外还有"),
])
def test_text_beside_the_number_is_a_warning_that_says_what_was_counted(tmp_path, programme, raw, cause_words):
    result = check(filled(tmp_path, programme, {"拓展学位": raw}), programme)
    (warning,) = by_code(result, "indicator.loose_number")
    assert warning.severity == "warning" and warning.sheet == INDICATOR_SHEET and warning.cell.startswith("E")
    assert cause_words in warning.message and f"「{raw}」" in warning.message
    assert f"已按 {read_number(raw).value:g} 计" in warning.message or "已按第一个数" in warning.message
    assert result.accepted                       # a warning does not reject


def test_the_measure_word_alone_is_no_warning(tmp_path, programme):
    result = check(filled(tmp_path, programme, {"拓展学位": "1,200个", "新建幼儿园": "1所"}), programme)
    assert by_code(result, "indicator.loose_number") == [] and result.accepted


@pytest.mark.parametrize("raw, meaning", [("1,5", "是 1.5 还是 15？"), ("１，５", "是 1.5 还是 15？"),
                                          ("1,2,3", "是一个数还是几个数？")])
def test_a_comma_that_changes_the_number_is_an_error_asking_for_it_plainly(tmp_path, programme, raw, meaning):
    result = check(filled(tmp_path, programme, {"新建中小学": raw}), programme)
    (error,) = by_code(result, "indicator.ambiguous_comma")
    assert error.severity == "error" and meaning in error.message and "请去掉逗号，直接写出数字" in error.message
    assert by_code(result, "indicator.not_numeric") == []      # replaced by the clearer message
    assert not result.accepted


def test_exit_codes_stay_0_accepted_1_rejected(tmp_path, programme, capsys):
    good = filled(tmp_path, programme, {"拓展学位": "约1200个"})
    assert main(["check", str(good), "--year", "2023"]) == 0
    assert "「约1200个」按 1200 计" in capsys.readouterr().out
    bad = tmp_path / "bad" / "教育和体育事业中心.xlsx"
    bad.parent.mkdir()
    filled(bad.parent, programme, {"拓展学位": "1,5"})
    assert main(["check", str(bad), "--year", "2023"]) == 1
    assert "逗号" in capsys.readouterr().out


def test_a_blank_template_echoes_nothing_and_says_it_is_empty(tmp_path, programme):
    path = tmp_path / "blank.xlsx"
    build_unit_workbook(programme, UNIT, QUARTER).save(path)
    ok, text = check_file(path, programme)
    assert not ok and "读取到的指标数字" not in text and "为空" in text
    assert openpyxl.load_workbook(path)[FORM_SHEET].protection.sheet
