"""Writes the notice's form as units send it besides workbooks: a Word table (python-docx),
the same table saved as Word 97-2003 .doc by LibreOffice, and a CSV (Python's csv, in each
encoding Chinese office software writes)."""
from __future__ import annotations

import codecs
import csv
import io
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from intake.corpus import HEADERS
from wcreport.intake.reading import parse_report

TITLE = "2023年为高新区妇女儿童办实事工作进展情况报表"


def write_docx_form(path, unit_line: str, rows: list[list[object]], *, headers: list[str] | None = None,
                    merge_units: bool = False, split_runs: bool = False) -> Path:
    """The form as Word shows it: title and 「单位：」 paragraphs, then the table. A cell's
    newlines become paragraphs; ``split_runs`` writes each character as its own run (as
    Word does after edits); ``merge_units`` merges the 责任单位 column vertically."""
    import docx

    document = docx.Document()
    document.add_paragraph(TITLE)
    document.add_paragraph(f"单位：（盖章）{unit_line}")
    add_table(document, headers or HEADERS, rows, merge_units=merge_units, split_runs=split_runs)
    document.add_paragraph("填报人：张三")
    document.save(path)
    return path


needs_writer = pytest.mark.skipif(shutil.which("soffice") is None,
                                  reason="needs LibreOffice Writer (libreoffice-writer-nogui)")


def save_as_doc(docx_path: Path, target: Path) -> Path:
    """``docx_path`` saved as Word 97-2003 by LibreOffice Writer, at ``target``.

    Through .odt: LibreOffice 7.4 drops python-docx's tables when it exports a .docx
    straight to .doc, but keeps them from its own .odt."""
    with tempfile.TemporaryDirectory(prefix="doc-corpus-") as folder:
        profile = (Path(folder) / "profile").as_uri()
        source = Path(folder) / "form.docx"
        shutil.copyfile(docx_path, source)
        for step, made in (("odt", source), ("doc:MS Word 97", source.with_suffix(".odt"))):
            subprocess.run(["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore",
                            "--convert-to", step, "--outdir", folder, str(made)],
                           check=True, capture_output=True, timeout=120)
        shutil.copyfile(source.with_suffix(".doc"), target)
    return target


def add_table(document, headers: list[str], rows: list[list[object]], *, merge_units: bool = False,
              split_runs: bool = False):
    table = document.add_table(rows=1 + len(rows), cols=len(headers))
    for r, values in enumerate([headers, *rows]):
        for c, value in enumerate(values):
            set_text(table.cell(r, c), "" if value is None else str(value), split_runs=split_runs)
    if merge_units and len(rows) > 1:
        col = headers.index("责任单位")
        merged = table.cell(1, col).merge(table.cell(len(rows), col))
        set_text(merged, str(rows[0][col]))
    return table


def set_text(cell, text: str, *, split_runs: bool = False) -> None:
    """One paragraph per line; each character a run of its own with ``split_runs``."""
    lines = text.split("\n")
    for paragraph in cell.paragraphs[1:]:
        paragraph._p.getparent().remove(paragraph._p)
    first = cell.paragraphs[0]
    first.text = ""
    for i, line in enumerate(lines):
        paragraph = first if i == 0 else cell.add_paragraph()
        for piece in (list(line) if split_runs else [line]):
            paragraph.add_run(piece)


def csv_bytes(rows: list[list[object]], encoding: str, *, delimiter: str = ",") -> bytes:
    """Rows as Excel/WPS save them: ``encoding`` one of utf-8, utf-8-sig, gbk, gb18030,
    utf-16-le/utf-16-be (each with its BOM, as "Unicode 文本" is saved)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    text = buffer.getvalue()
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(encoding, b"")
    return bom + text.encode(encoding)


def form_rows(unit_line: str, rows: list[list[object]]) -> list[list[object]]:
    """The form as a CSV export of the xlsx holds it: title, 单位 line, header, rows."""
    return [[TITLE], [f"单位：（盖章）{unit_line}"], HEADERS, *rows]


def refused(path, programme, code, *fragments):
    """The file is refused with ``code``, its Chinese reason holding each fragment; the error."""
    _fmt, report, error = parse_report(path, programme)
    assert report is None and error is not None
    assert error.code == code, error
    for fragment in fragments:
        assert fragment in error.reason
    return error
