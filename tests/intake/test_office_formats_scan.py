"""The scan takes a Word table and a CSV like a workbook: archived under their format,
read, the unit identified; a note (.txt) and a tableless .docx keep out of the reports."""
from __future__ import annotations

import io
import time

import docx

from intake.conftest import EDU_ROWS
from intake.corpus import touch_mtime
from intake.office_corpus import csv_bytes, form_rows, write_docx_form
from wcreport.intake.formats import DOCUMENT_EXTS, SPREADSHEET_EXTS
from wcreport.intake.mailheaders import kind_of
from wcreport.intake.scan import scan_and_identify

OLD = time.time() - 3600
UNIT = "教育和体育事业中心"


def put(paths, rel: str, data: bytes) -> None:
    target = paths.inbox / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    touch_mtime(target, OLD)


def docx_bytes(unit_line: str) -> bytes:
    buffer = io.BytesIO()
    write_docx_form(buffer, unit_line, EDU_ROWS)
    return buffer.getvalue()


def test_word_csv_and_unicode_text_are_read_in_the_scan(paths, programme):
    put(paths, "教体中心/报表.docx", docx_bytes(UNIT))
    # a title and 单位 line of one cell above the header: too ragged for the csv sniffer
    put(paths, "卫健中心报表.csv", csv_bytes(form_rows("卫生健康事务中心", []), "gbk", delimiter=";"))
    put(paths, "检察院报表.txt", csv_bytes(form_rows("检察院", []), "utf-16-le", delimiter="\t"))
    put(paths, "报送说明.txt", "附件为本单位季度报表。".encode("gbk"))
    notes = docx.Document()
    notes.add_paragraph("报送说明：附件为本单位季度报表。")
    buffer = io.BytesIO()
    notes.save(buffer)
    put(paths, "说明.docx", buffer.getvalue())
    records = {r.path: r for r in scan_and_identify(paths, programme)}
    got = {path: (r.kind, r.status, r.format, r.archived_as.rsplit(".", 1)[1]) for path, r in records.items()}
    assert got == {
        "教体中心/报表.docx": ("spreadsheet", "pending", "docx", "docx"),
        "卫健中心报表.csv": ("spreadsheet", "pending", "csv", "csv"),
        "检察院报表.txt": ("spreadsheet", "pending", "csv", "csv"),
        "报送说明.txt": ("other", "ignored", None, "txt"),
        "说明.docx": ("spreadsheet", "rejected", "docx", "docx"),
    }
    assert records["教体中心/报表.docx"].unit == "edu_sports"
    assert records["卫健中心报表.csv"].unit == "health"
    assert records["检察院报表.txt"].unit == "procuratorate"
    assert "不是电子表格文件（.txt）" in records["报送说明.txt"].reasons[0]
    assert "Word 文件中没有表格" in records["说明.docx"].reasons[0]


def test_the_mailbox_keeps_word_and_csv_attachments_as_reports():
    assert {".docx", ".doc", ".wps", ".csv"} <= SPREADSHEET_EXTS and not {".docx", ".doc"} & DOCUMENT_EXTS
    assert kind_of("报表.docx") == kind_of("报表.CSV") == kind_of("报表.doc") == kind_of("报表.WPS") == "spreadsheet"
    assert kind_of("说明.rtf") == "document"
