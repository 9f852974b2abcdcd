"""Blank forms that guide: the notice's form for every unit, protected, validated, with last
quarter's text for reference; they read back through the project's own reader as blank
reports, open in LibreOffice, and zip for mailing."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from wcreport.cli.main import main
from wcreport.core.model import IndicatorValue, ProgressRow, UnitResult
from wcreport.core.quarter import Quarter
from wcreport.core.settings import PROJECT_ROOT, quarter_paths
from wcreport.deliver import forms
from wcreport.intake.locate import locate_report
from wcreport.intake.reader import read_workbook
from wcreport.intake.stamped.ocr import unit_line
from wcreport.validate.selfcheck import check

QUARTER = Quarter(2023, 2)
BLANK_CODES = {"progress.empty", "deadline.empty", "indicator.missing"}


@pytest.fixture(scope="module")
def templates(tmp_path_factory, programme) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("templates")
    paths = forms.write_quarter_templates(programme, QUARTER, folder)
    return {unit.key: path for unit, path in zip(programme.units, paths)}


def _tasks(programme, key):
    return programme.tasks_of(key)


# --- the reader sees a blank report, not a broken layout -----------------------------------
def test_every_units_template_reads_back_as_its_blank_report(programme, templates):
    assert len(templates) == len(programme.units) == 15
    for key, path in templates.items():
        unit = programme.units_by_key[key]
        parsed = locate_report(read_workbook(path), programme)
        assert parsed.findings == [], (key, parsed.findings)
        assert (parsed.sheet, parsed.header_row, parsed.unit_line) == (forms.FORM_SHEET, forms.HEADER_ROW, unit.name)
        tasks = _tasks(programme, key)
        assert [(r.seq, r.task_name, r.units) for r in parsed.rows] == [
            (t.seq, t.name, "\n".join(programme.units_label_for_form(t))) for t in tasks]
        assert all(r.progress == "" and r.deadline == "" for r in parsed.rows)
        assert parsed.rows[0].cells["progress"] == f"D{forms.FIRST_DATA_ROW}"
        assert parsed.indicators == []


@pytest.mark.slow
def test_the_self_check_says_a_blank_template_is_empty(programme, templates):
    for key, path in templates.items():
        result = check(path, programme)
        codes = {f.code for f in result.record.findings}
        assert not result.accepted and result.unit_name == programme.units_by_key[key].name
        assert "progress.empty" in codes and codes <= BLANK_CODES, (key, codes)


def test_responsible_units_are_written_as_the_notice_writes_them(programme, templates):
    sheet = openpyxl.load_workbook(templates["health"])[forms.FORM_SHEET]
    by_seq = {sheet.cell(r, 1).value: sheet.cell(r, 3).value for r in range(forms.FIRST_DATA_ROW, sheet.max_row + 1)}
    assert by_seq[2] == "组织人事部\n建设局\n卫生健康事业中心\n市住房公积金管理中心高新区分中心\n各街道、镇、中心"
    assert by_seq[4] == "教育和体育事业中心\n卫生健康事业中心\n各街道、镇、中心"


# --- guidance, protection and validation as openpyxl reads them --------------------------
def test_instructions_name_the_deadline_organiser_phone_and_the_stamped_scan(programme, templates):
    sheet = openpyxl.load_workbook(templates["construction"])[forms.FORM_SHEET]
    note = next(sheet.cell(r, 1).value for r in range(1, forms.HEADER_ROW) if "填表说明" in str(sheet.cell(r, 1).value))
    assert "2023年6月30日" in note and "组织人事部群团科" in note and "3580430" in note and "盖章扫描件" in note
    assert "浅黄色" in note and "上季度" not in note                # no reference column without a previous quarter
    # Readers of the printed, stamped copy look for 「单位：」: the note never says it.
    assert not re.search(r"(?<!责任)单位[:：]", note)
    assert "上季度" in forms.instructions(programme, QUARTER, with_reference=True)


def test_fixed_cells_are_locked_and_input_cells_open_marked_and_tall(programme, templates):
    for key, path in templates.items():
        workbook = openpyxl.load_workbook(path)
        form, indicators = workbook[forms.FORM_SHEET], workbook[forms.INDICATOR_SHEET]
        for sheet in (form, indicators):
            assert sheet.protection.sheet is True and not sheet.protection.password
            assert sheet.protection.formatRows is False       # rows may be made taller
        for row in range(forms.FIRST_DATA_ROW, forms.FIRST_DATA_ROW + len(_tasks(programme, key))):
            for col in (1, 2, 3):
                assert form.cell(row, col).protection.locked is True
            for col in (4, 5):
                cell = form.cell(row, col)
                assert cell.protection.locked is False and cell.fill.fgColor.rgb.endswith(forms.INPUT_FILL.fgColor.rgb[-6:])
                assert cell.alignment.wrap_text
            assert form.row_dimensions[row].height >= 90
        assert form.cell(2, 1).protection.locked is True and form.cell(2, 1).value.startswith("单位：（盖章）")


def test_indicator_cells_take_numbers_at_least_zero_and_show_the_target(programme, templates):
    for key, path in templates.items():
        sheet = openpyxl.load_workbook(path)[forms.INDICATOR_SHEET]
        validations = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
        pairs = programme.indicators_of(key)
        for offset, (_task, indicator) in enumerate(pairs):
            row = forms.FIRST_DATA_ROW + offset
            assert sheet.cell(row, 2).value == indicator.name
            assert sheet.cell(row, 5).protection.locked is False
            rule = validations[f"E{row}"]
            assert (rule.type, rule.operator, rule.formula1) == ("decimal", "greaterThanOrEqual", "0")
            assert rule.showInputMessage and rule.showErrorMessage and rule.errorStyle == "stop"
            assert forms.target_words(indicator) in rule.prompt and indicator.measure in rule.prompt
        assert len(validations) == len(pairs)
    rule = next(v for v in openpyxl.load_workbook(templates["edu_sports"])[forms.INDICATOR_SHEET].data_validations.dataValidation
                if "拓展学位" in v.promptTitle)
    assert "全年目标：2200个以上" in rule.prompt


def test_progress_and_deadline_cells_carry_input_messages(templates):
    sheet = openpyxl.load_workbook(templates["edu_sports"])[forms.FORM_SHEET]
    prompts = {str(v.sqref): v for v in sheet.data_validations.dataValidation}
    last = forms.FIRST_DATA_ROW + 3
    assert "见附件" in prompts[f"D{forms.FIRST_DATA_ROW}:D{last}"].prompt
    assert "长期坚持" in prompts[f"E{forms.FIRST_DATA_ROW}:E{last}"].prompt
    assert prompts[f"D{forms.FIRST_DATA_ROW}:D{last}"].type is None          # any text, only a message


# --- last quarter's text, for reference only -------------------------------------------
def _previous(programme, output_root: Path, status="submitted", quarter="2023Q1") -> Path:
    rows = [ProgressRow(seq=1, task_name="实施优质教育资源扩增赋能行动", progress='=HYPERLINK("http://evil.example","点我")',
                        deadline="2023年12月底", sheet="报表", row=4),
            ProgressRow(seq=4, task_name="实施“心希望”健康服务行动", progress="开展心理健康评估筛查3次。",
                        deadline="", sheet="报表", row=5)]
    result = UnitResult(quarter=quarter, unit="edu_sports", unit_name="教育和体育事业中心", status=status,
                        rows=rows if status == "submitted" else [],
                        indicators=[IndicatorValue(key="school_places", name="拓展学位", raw="@SUM(1)", value=None,
                                                   sheet="指标", cell="E4")] if status == "submitted" else [])
    path = quarter_paths(quarter, output_root, output_root).units / "edu_sports.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.model_dump_json(), encoding="utf-8")
    return path


def test_previous_quarters_text_stands_beside_as_text_never_a_formula(tmp_path, programme):
    _previous(programme, tmp_path / "output")
    path = forms.write_unit_template(programme, "edu_sports", QUARTER, tmp_path / "t.xlsx", output_root=tmp_path / "output")
    workbook = openpyxl.load_workbook(path)
    form = workbook[forms.FORM_SHEET]
    assert form.cell(forms.HEADER_ROW, 6).value == forms.REFERENCE_HEADER
    reference = form.cell(forms.FIRST_DATA_ROW, 6)
    assert reference.value.startswith('=HYPERLINK("http://evil.example"') and "2023年12月底" in reference.value
    assert reference.data_type == "s" and reference.quotePrefix and reference.protection.locked
    assert form.cell(forms.FIRST_DATA_ROW + 1, 6).value == "开展心理健康评估筛查3次。"
    assert form.cell(forms.FIRST_DATA_ROW + 2, 6).value == "（上季度未填写此项）"
    assert form.print_area == f"'{forms.FORM_SHEET}'!$A$1:$E${forms.FIRST_DATA_ROW + 3}"     # printed: this quarter only
    indicators = workbook[forms.INDICATOR_SHEET]
    assert indicators.cell(forms.HEADER_ROW, 6).value == forms.INDICATOR_REFERENCE_HEADER
    school = next(r for r in range(forms.FIRST_DATA_ROW, indicators.max_row + 1) if indicators.cell(r, 2).value == "拓展学位")
    assert indicators.cell(school, 6).value == "@SUM(1)" and indicators.cell(school, 6).data_type == "s"
    notes = [str(form.cell(r, 1).value) for r in range(1, forms.HEADER_ROW)]
    assert "上季度" in next(note for note in notes if "填表说明" in note)


@pytest.mark.slow
def test_the_reader_never_takes_the_reference_as_this_quarters_report(tmp_path, programme):
    _previous(programme, tmp_path / "output")
    path = forms.write_unit_template(programme, "edu_sports", QUARTER, tmp_path / "t.xlsx", output_root=tmp_path / "output")
    parsed = locate_report(read_workbook(path), programme)
    assert parsed.findings == [] and parsed.indicators == []
    assert [r.progress for r in parsed.rows] == ["", "", "", ""]
    assert {f.code for f in check(path, programme).record.findings} <= BLANK_CODES


def test_only_an_accepted_result_of_the_same_year_is_a_reference(tmp_path, programme):
    output = tmp_path / "output"
    assert forms.previous_accepted(output, "edu_sports", QUARTER) is None                # nothing yet
    _previous(programme, output, status="rejected")
    assert forms.previous_accepted(output, "edu_sports", QUARTER) is None
    _previous(programme, output)
    assert forms.previous_accepted(output, "edu_sports", QUARTER).status == "submitted"
    _previous(programme, output, quarter="2022Q4")
    assert forms.previous_accepted(output, "edu_sports", Quarter(2023, 1)) is None       # a new year starts afresh
    assert forms.previous_accepted(None, "edu_sports", QUARTER) is None


def test_sample_filling_keeps_the_layout(programme):
    workbook = forms.build_unit_workbook(programme, "housing_fund", QUARTER, progress={2: "=1+1"}, deadlines={2: "长期坚持"})
    cell = workbook[forms.FORM_SHEET].cell(forms.FIRST_DATA_ROW, 4)
    assert (cell.value, cell.data_type) == ("=1+1", "s")


# --- zips for mailing ------------------------------------------------------------------------
def test_templates_command_zips_a_quarter_or_each_unit(tmp_path, programme, capsys):
    out = tmp_path / "out"
    assert main(["templates", "--quarter", "2023Q2", "--out", str(out), "--output", str(tmp_path / "none"),
                 "--zip"]) == 0
    with zipfile.ZipFile(out / forms.quarter_zip_filename(QUARTER)) as archive:
        assert sorted(archive.namelist()) == sorted(forms.template_filename(programme, u.key, QUARTER)
                                                    for u in programme.units)
        assert archive.testzip() is None
    assert main(["templates", "--quarter", "2023Q2", "--out", str(out / "each"), "--output", str(tmp_path / "none"),
                 "--unit", "中埠镇", "--zip", "unit"]) == 0
    (single,) = (out / "each").glob("*.zip")
    with zipfile.ZipFile(single) as archive:
        assert archive.namelist() == [forms.template_filename(programme, "zhongbu", QUARTER)]
    assert "已打包" in capsys.readouterr().out


# --- LibreOffice -----------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdftotext") and shutil.which("pdftoppm")),
                    reason="needs libreoffice-calc-nogui and poppler-utils")
def test_every_template_opens_in_libreoffice(tmp_path, programme, templates):
    """One soffice run converts all fifteen; each PDF is A4 landscape and reads as the form."""
    profile = tmp_path / "profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                    "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"), *map(str, templates.values())],
                   check=True, capture_output=True, timeout=600, env={**os.environ, "HOME": str(profile)})
    for key, path in templates.items():
        pdf = tmp_path / "pdf" / (path.stem + ".pdf")
        info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
        width, height = map(float, re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
        assert width > height, key
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                              text=True).stdout
        compact = re.sub(r"\s+", "", text)
        name = programme.units_by_key[key].name
        assert programme.report.title in compact and "填表说明" in compact and "本季度具体措施及任务进度情况" in compact
        assert unit_line(text) == f"（盖章）{name}", key            # what the stamped-copy reader finds
    page = tmp_path / "page1"
    subprocess.run(["pdftoppm", "-png", "-r", "40", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "pdf" / (templates["edu_sports"].stem + ".pdf")), str(page)], check=True)
    assert page.with_suffix(".png").stat().st_size > 1000


def test_docs_show_the_rendered_template():
    assert (PROJECT_ROOT / "docs" / "template.png").stat().st_size > 10_000
