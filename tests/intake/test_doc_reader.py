"""The form filled in Word 97-2003 or WPS (.doc/.wps, saved by LibreOffice from a python-docx
file) reads like the .docx through LibreOffice Writer; a damaged one, or one that does not
convert in time, gets its own Chinese reason; no LibreOffice is our fault, not the unit's."""
from __future__ import annotations

import shutil

import pytest

from intake.conftest import EDU_ROWS
from intake.office_corpus import needs_writer, refused, save_as_doc, write_docx_form
from wcreport.core.faults import OperationsFault
from wcreport.intake import doc_reader
from wcreport.intake.formats import SPREADSHEET, detect
from wcreport.intake.reader import OLE_MAGIC, UnreadableFile, detect_format
from wcreport.intake.reading import parse_report

UNIT = "教育和体育事业中心"
EXPECTED = {row[0]: row[3] for row in EDU_ROWS}


@pytest.fixture(scope="module")
def word97(tmp_path_factory):
    """One .doc for the module: LibreOffice takes a few seconds per conversion."""
    folder = tmp_path_factory.mktemp("doc")
    docx_path = write_docx_form(folder / "form.docx", UNIT, EDU_ROWS, merge_units=True)
    return save_as_doc(docx_path, folder / "教体中心报表.doc")


@needs_writer
@pytest.mark.parametrize("name", ["教体中心报表.doc", "教体中心报表.wps", "教体中心报表"])
def test_a_word97_or_wps_file_reads_like_the_docx(tmp_path, programme, word97, name):
    path = tmp_path / name
    shutil.copyfile(word97, path)
    assert detect_format(path) is None              # OLE2 like an .xls, but not a workbook
    assert detect(path, SPREADSHEET) == "doc"       # known by its Word stream, whatever its name
    fmt, report, error = parse_report(path, programme)
    assert error is None, error
    assert fmt == "doc" and report.findings == []
    assert report.sheet == "表格1" and report.unit_line == UNIT
    assert {r.seq: r.progress for r in report.rows} == EXPECTED   # "新建幼儿园1所，\n拓展学位1200个。"
    assert [r.units for r in report.rows] == [UNIT] * 4          # the merged 责任单位 cells
    assert report.rows[0].deadline == "2023年12月"


@pytest.mark.parametrize("content", [b"\x00\x01junk" * 50, OLE_MAGIC + b"\x00" * 600, b"<html><body>form</body></html>"],
                         ids=["junk", "broken-ole", "web-page"])
def test_a_damaged_doc_gets_the_word97_reason_without_reaching_libreoffice(tmp_path, programme, monkeypatch, content):
    monkeypatch.setattr(doc_reader, "convert_to_docx", lambda *_: pytest.fail("converted a damaged .doc"))
    path = tmp_path / "坏.doc"
    path.write_bytes(content)
    assert detect(path, SPREADSHEET) == "doc"
    refused(path, programme, "file.doc_corrupt", "Word/WPS 文件（.doc/.wps）已损坏", "另存为 .docx")


def test_a_note_saved_as_rtf_stays_a_document(tmp_path):
    path = tmp_path / "说明.rtf"
    path.write_bytes(b"{\\rtf1\\ansi note}")
    assert detect(path, SPREADSHEET) is None


@needs_writer
def test_a_conversion_over_the_time_budget_is_stopped_and_said(tmp_path, programme, word97, monkeypatch):
    monkeypatch.setattr(doc_reader, "CONVERT_SECONDS", 0.01)
    # read in this process: the parse's child process would not see the patched budget
    with pytest.raises(UnreadableFile) as caught:
        doc_reader.read_doc(word97)
    assert caught.value.code == "file.doc_corrupt"
    assert "0.01 秒内未能打开" in caught.value.reason and caught.value.reason.endswith("后重新报送。")


@needs_writer
def test_a_word_document_without_the_form_gets_the_word_reason(tmp_path, programme):
    import docx

    document = docx.Document()
    document.add_paragraph(f"单位：{UNIT}。一季度新建幼儿园1所。")
    document.save(str(tmp_path / "说明.docx"))
    path = save_as_doc(tmp_path / "说明.docx", tmp_path / "说明.doc")
    refused(path, programme, "file.docx_no_table", "Word 文件中没有表格")


def test_no_libreoffice_is_our_fault_not_the_units(tmp_path, programme, monkeypatch):
    monkeypatch.setattr(doc_reader.shutil, "which", lambda _tool: None)
    path = tmp_path / "a.doc"
    path.write_bytes(b"{\\rtf1\\ansi note}")       # an RTF saved as .doc goes to LibreOffice
    with pytest.raises(OperationsFault, match="soffice"):
        doc_reader.read_doc(path)       # in this process: the parse's child would not see the patch
