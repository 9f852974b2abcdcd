"""The form filled as a Word table (.docx, written by python-docx) reads like the workbook;
a broken or tableless .docx is refused with its own Chinese reason."""
from __future__ import annotations

import io
import zipfile

from intake.conftest import EDU_ROWS
from intake.corpus import HEADERS, write_zip_bomb
from intake.office_corpus import add_table, refused, write_docx_form
from wcreport.intake.docx_reader import read_docx, sniff_docx
from wcreport.intake.formats import SPREADSHEET, detect
from wcreport.intake.reading import parse_report

UNIT = "教育和体育事业中心"
EXPECTED = {row[0]: row[3] for row in EDU_ROWS}


def progress_by_seq(report):
    return {r.seq: r.progress for r in report.rows}


def parsed(path, programme):
    fmt, report, error = parse_report(path, programme)
    assert error is None, error
    assert fmt == "docx"
    return report


def test_the_form_as_a_word_table_reads_like_the_workbook(tmp_path, programme):
    path = write_docx_form(tmp_path / "教体中心报表.docx", UNIT, EDU_ROWS)
    assert detect(path, SPREADSHEET) == "docx"
    report = parsed(path, programme)
    assert report.findings == []
    assert report.sheet == "表格1" and report.unit_line == UNIT
    assert progress_by_seq(report) == EXPECTED     # "新建幼儿园1所，\n拓展学位1200个。": two paragraphs
    first = report.rows[0]
    assert (first.task_name, first.units, first.deadline) == ("实施优质教育资源扩增赋能行动", UNIT, "2023年12月")


def test_a_header_split_over_paragraphs_and_text_split_into_runs(tmp_path, programme):
    headers = ["序 号", "实事\n名称", "责任单位", "本季度具体措施\n及任务进度情况", "完成\n时限"]
    path = write_docx_form(tmp_path / "a.docx", UNIT, EDU_ROWS, headers=headers, split_runs=True)
    grid = read_docx(path)
    assert grid.sheets[0].cells[1][3] == "本季度具体措施\n及任务进度情况"
    report = parsed(path, programme)
    assert report.unit_line == UNIT
    assert progress_by_seq(report) == EXPECTED


def test_every_table_is_a_sheet_and_the_unit_line_above_the_form_is_kept(tmp_path, programme):
    import docx

    document = docx.Document()
    document.add_paragraph("联系方式")
    add_table(document, ["填报人", "联系电话"], [["张三", "0533-1234567"]])
    document.add_paragraph("2023年为高新区妇女儿童办实事工作进展情况报表")
    document.add_paragraph(f"填报单位：{UNIT}        填报日期：2023年3月28日")
    add_table(document, HEADERS, EDU_ROWS)
    document.save(str(tmp_path / "two.docx"))
    grid = read_docx(tmp_path / "two.docx")
    assert [s.name for s in grid.sheets] == ["表格1", "表格2"]
    assert grid.sheets[0].cells == [["填报人", "联系电话"], ["张三", "0533-1234567"]]
    assert grid.sheets[1].cells[0] == [f"填报单位：{UNIT}        填报日期：2023年3月28日"]
    report = parsed(tmp_path / "two.docx", programme)
    assert report.sheet == "表格2" and report.unit_line == UNIT
    assert progress_by_seq(report) == EXPECTED


def test_merged_units_cells_are_merged_ranges(tmp_path, programme):
    path = write_docx_form(tmp_path / "m.docx", UNIT, EDU_ROWS, merge_units=True)
    sheet = read_docx(path).sheets[0]
    # row 0 is the unit line, row 1 the header: the 责任单位 column merged over the 4 task rows
    assert (2, 2, 5, 2) in sheet.merged
    assert [row[2] for row in sheet.cells[2:]] == [UNIT, None, None, None]
    report = parsed(path, programme)
    assert [r.units for r in report.rows] == [UNIT] * 4
    assert progress_by_seq(report) == EXPECTED


def test_horizontally_merged_cells_are_one_range(tmp_path):
    import docx

    document = docx.Document()
    table = add_table(document, HEADERS, [EDU_ROWS[0]])
    table.cell(1, 3).merge(table.cell(1, 4))
    document.save(str(tmp_path / "h.docx"))
    sheet = read_docx(tmp_path / "h.docx").sheets[0]
    assert (1, 3, 1, 4) in sheet.merged
    assert sheet.cells[1][4] is None and sheet.cells[1][3].startswith("新建幼儿园1所")


def test_a_corrupt_docx_gets_the_word_reason(tmp_path, programme):
    whole = write_docx_form(tmp_path / "whole.docx", UNIT, EDU_ROWS).read_bytes()
    (tmp_path / "坏.docx").write_bytes(whole[: len(whole) // 2])
    assert sniff_docx(tmp_path / "坏.docx") == "docx"
    refused(tmp_path / "坏.docx", programme, "file.docx_corrupt", "Word 文件已损坏", "重新保存")


def test_a_zip_whose_main_part_is_not_word_xml_is_corrupt(tmp_path, programme):
    with zipfile.ZipFile(tmp_path / "x.docx", "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    refused(tmp_path / "x.docx", programme, "file.docx_corrupt", "Word 文件已损坏")


def test_a_docx_without_a_table(tmp_path, programme):
    import docx

    document = docx.Document()
    document.add_paragraph(f"单位：{UNIT}")
    document.add_paragraph("一季度新建幼儿园1所，拓展学位1200个。")
    document.save(str(tmp_path / "说明.docx"))
    refused(tmp_path / "说明.docx", programme, "file.docx_no_table", "Word 文件中没有表格", "实事名称")


def _paste_a_photo(docx_path, png_path) -> None:
    import random

    import docx
    from PIL import Image

    noise = random.Random(7).randbytes(160 * 160 * 3)         # incompressible: the file grows past 64 KiB
    Image.frombytes("RGB", (160, 160), noise).save(png_path)
    document = docx.Document(str(docx_path))
    document.add_picture(str(png_path))
    document.save(str(docx_path))
    assert docx_path.stat().st_size > 64 * 1024


def test_an_oversized_docx(tmp_path, programme, monkeypatch):
    path = write_docx_form(tmp_path / "big.docx", UNIT, EDU_ROWS)
    _paste_a_photo(path, tmp_path / "photo.png")      # as units paste a photo of the stamped page
    monkeypatch.setenv("REPORT_MAX_FILE_BYTES", "64KiB")        # the smallest limit a setting may have
    refused(path, programme, "file.too_large", "超过上限")


def test_a_docx_zip_bomb_is_refused_before_parsing(tmp_path, programme, monkeypatch):
    monkeypatch.setenv("REPORT_MAX_UNCOMPRESSED_BYTES", str(5 * 1024 * 1024))
    bomb = write_zip_bomb(tmp_path / "bomb.xlsx", mib=8)
    word = io.BytesIO()
    write_docx_form(word, UNIT, EDU_ROWS)
    with zipfile.ZipFile(bomb) as src, zipfile.ZipFile(tmp_path / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as out:
        for info in zipfile.ZipFile(word).infolist():
            out.writestr(info.filename, zipfile.ZipFile(word).read(info))
        out.writestr("word/padding.xml", src.read("xl/padding.xml"))
    refused(tmp_path / "bomb.docx", programme, "zip.bomb", "压缩炸弹")


def test_a_docx_declaring_entities_is_refused(tmp_path, programme):
    word = io.BytesIO()
    write_docx_form(word, UNIT, EDU_ROWS)
    source = zipfile.ZipFile(word)
    lol = b'<?xml version="1.0"?>\n<!DOCTYPE w [<!ENTITY lol "lol">]>\n'
    with zipfile.ZipFile(tmp_path / "dtd.docx", "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "word/document.xml":
                data = lol + data.split(b"?>", 1)[1].lstrip()
            out.writestr(info.filename, data)
    refused(tmp_path / "dtd.docx", programme, "xml.dtd", "XML 炸弹")


def test_rows_beyond_the_cap_are_not_read_and_said(tmp_path, programme, monkeypatch):
    import copy

    import docx

    from wcreport.intake import docx_reader, reading

    monkeypatch.setattr(docx_reader, "MAX_ROWS", 50)       # the real cap (5000) works the same, slower
    monkeypatch.setattr(reading, "MAX_ROWS", 50)
    document = docx.Document()
    document.add_paragraph(f"单位：{UNIT}")
    table = add_table(document, HEADERS, [EDU_ROWS[0]])
    blank = table.add_row()._tr
    for _ in range(58):
        table._tbl.append(copy.deepcopy(blank))
    document.save(str(tmp_path / "long.docx"))
    sheet = read_docx(tmp_path / "long.docx").sheets[0]
    assert len(sheet.cells) == 1 + 50 and sheet.last_row == 1 + 61
    report = parsed(tmp_path / "long.docx", programme)
    assert [f.code for f in report.findings] == ["table.too_many_rows"]
    assert progress_by_seq(report) == {1: EDU_ROWS[0][3]}


def test_columns_beyond_the_cap_are_not_read(tmp_path, monkeypatch):
    import docx

    from wcreport.intake import docx_reader

    monkeypatch.setattr(docx_reader, "MAX_COLS", 3)
    document = docx.Document()
    add_table(document, HEADERS, [EDU_ROWS[0]])
    document.save(str(tmp_path / "wide.docx"))
    assert [len(row) for row in read_docx(tmp_path / "wide.docx").sheets[0].cells] == [3, 3]


def test_a_hostile_grid_span_is_bounded(tmp_path):
    import docx

    document = docx.Document()
    table = add_table(document, HEADERS, [EDU_ROWS[0]])
    table.cell(1, 0)._tc.grid_span = 10**9
    document.save(str(tmp_path / "span.docx"))
    cells = read_docx(tmp_path / "span.docx").sheets[0].cells
    assert len(cells[1]) <= 100 and cells[1][0] == "1"


def test_a_table_inside_a_content_control_is_read(tmp_path, programme):
    """WPS and document templates wrap the form in a content control (w:sdt)."""
    from docx.oxml.ns import qn
    from lxml import etree

    path = write_docx_form(tmp_path / "sdt.docx", UNIT, EDU_ROWS)
    import docx

    document = docx.Document(str(path))
    body = document.element.body
    sdt = etree.SubElement(body, qn("w:sdt"))
    content = etree.SubElement(sdt, qn("w:sdtContent"))
    for child in [c for c in body.iterchildren() if c.tag in (qn("w:p"), qn("w:tbl"))]:
        content.append(child)        # moves the unit line and the table into the control
    body.insert(0, sdt)
    document.save(str(path))
    report = parsed(path, programme)
    assert report.unit_line == UNIT and progress_by_seq(report) == EXPECTED


# --- references as the unit finds the cell in Word -------------------------------------------
def test_references_count_the_tables_rows_as_word_does_not_the_unit_paragraph(tmp_path, programme):
    """Word numbers a table's rows from its first row (its own formulas say A1, B2 …): the
    「单位：」 paragraph above the table is no row of it, so the header is row 1."""
    from wcreport.core.quarter import Quarter
    from wcreport.validate.suites import validate_report

    rows = [list(row) for row in EDU_ROWS]
    rows[1][4] = "尽快"
    path = write_docx_form(tmp_path / "a.docx", UNIT, rows)
    sheet = read_docx(path).sheets[0]
    assert sheet.cells[0] == [f"单位：（盖章）{UNIT}"] and sheet.cells[1][0] == "序号"
    report = parsed(path, programme)
    assert report.header_row == 1
    assert [r.row for r in report.rows] == [2, 3, 4, 5]
    assert report.rows[1].cells == {"seq": "A3", "task_name": "B3", "units": "C3", "progress": "D3", "deadline": "E3"}
    outcome = validate_report(report, "edu_sports", programme, Quarter.parse("2023Q1"))
    deadline = [f for f in outcome.findings if f.code == "deadline.invalid"]
    assert [(f.sheet, f.cell) for f in deadline] == [("表格1", "E3")]


def test_a_title_and_unit_row_inside_the_table_is_counted(tmp_path, programme):
    import docx

    document = docx.Document()
    table = add_table(document, HEADERS, EDU_ROWS)
    title = table.add_row()._tr
    table._tbl.remove(title)
    table._tbl.tr_lst[0].addprevious(title)      # a first row, merged across: the 单位 line inside the table
    merged = table.cell(0, 0).merge(table.cell(0, len(HEADERS) - 1))
    merged.text = f"单位：{UNIT}"
    document.save(str(tmp_path / "in.docx"))
    report = parsed(tmp_path / "in.docx", programme)
    assert report.unit_line == UNIT and report.header_row == 2
    assert [r.row for r in report.rows] == [3, 4, 5, 6]
    assert report.rows[0].cells["progress"] == "D3"
