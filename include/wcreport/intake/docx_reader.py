"""A Word document (.docx) -> one sheet per table, so ``locate`` reads the form unchanged.

The notice's 附件 is often a Word document, filled in Word or WPS. Each body table
becomes a ``SheetGrid`` ("表格1", "表格2", …): a cell's text is its paragraphs joined
with newlines (runs joined, as Word shows them), and horizontally (``gridSpan``) and
vertically (``vMerge``) merged cells become merged ranges. The 「单位：」 line is usually
a paragraph above the table, so it is kept as a row above the table's rows; references
still count rows as Word numbers the table's (its first row is 1, whether a header or a
title/单位 row inside the table), as Word's own table formulas do (``SheetGrid.rows_above``).

Guards, before python-docx sees the file: the size limit, the zip's declared sizes and
ratios and the DTD refusal of ``reader.check_zip``. python-docx parses with lxml and
``resolve_entities=False``, so even a DTD that slipped past could not expand.
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from wcreport.intake.reader import (
    MAX_COLS,
    MAX_ROWS,
    ZIP_MAGIC,
    SheetGrid,
    UnreadableFile,
    WorkbookGrid,
    check_size,
    check_zip,
)

if TYPE_CHECKING:
    from docx.oxml.document import CT_Body
    from docx.oxml.table import CT_Row, CT_Tbl, CT_Tc
    from docx.oxml.xmlchemy import BaseOxmlElement

MAIN_PART = "word/document.xml"
_UNIT_LINE = re.compile(r"单位[^:：\n]{0,8}[:：]")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def sniff_docx(path: Path) -> str | None:
    """"docx" for a zip holding a Word main part, or a damaged zip named .docx (so its
    reader gives the Word-specific reason); None otherwise."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) not in ZIP_MAGIC:
                return None
        with zipfile.ZipFile(path) as zf:
            return "docx" if MAIN_PART in zf.namelist() else None
    except (zipfile.BadZipFile, OSError, ValueError):
        return "docx" if Path(path).suffix.lower() == ".docx" else None


def read_docx(path: str | Path) -> WorkbookGrid:
    """Every body table of the document as a sheet; raise UnreadableFile with a Chinese reason."""
    path = Path(path)
    check_size(path)
    try:
        check_zip(path)
    except UnreadableFile as exc:
        if exc.code == "zip.corrupt":
            raise UnreadableFile.of("file.docx_corrupt") from None
        raise
    body = _body(path)
    sheets = [_sheet(f"表格{i}", unit_lines, tbl) for i, (unit_lines, tbl) in enumerate(_tables(body), 1)]
    if not sheets:
        raise UnreadableFile.of("file.docx_no_table")
    return WorkbookGrid("docx", sheets)


def _body(path: Path) -> CT_Body:
    import docx

    try:
        return docx.Document(str(path)).element.body
    except Exception:           # not a Word package, a missing part, malformed XML
        raise UnreadableFile.of("file.docx_corrupt") from None


def _tables(body: CT_Body) -> list[tuple[list[str], CT_Tbl]]:
    """(the 「单位：」 paragraphs since the previous table, table) for each body table."""
    found: list[tuple[list[str], CT_Tbl]] = []
    lines: list[str] = []
    for child in _blocks(body):
        if child.tag == _W + "p":
            text = child.text.strip()
            if _UNIT_LINE.search(text):
                lines.append(text)
        elif child.tag == _W + "tbl":
            found.append((lines, child))
            lines = []
    return found


def _blocks(parent: BaseOxmlElement) -> Iterator[BaseOxmlElement]:
    """The paragraphs and tables of ``parent`` in order, including those inside content
    controls (``w:sdt``), which WPS and templates wrap around a form."""
    for child in parent.iterchildren():
        if child.tag == _W + "sdt":
            for content in child.iterchildren(_W + "sdtContent"):
                yield from _blocks(content)
        else:
            yield child


def _sheet(name: str, unit_lines: list[str], tbl: CT_Tbl) -> SheetGrid:
    top: list[list[object]] = [[line] for line in unit_lines]
    trs = tbl.tr_lst
    cells, merged = _grid(trs[:MAX_ROWS], offset=len(top))
    return SheetGrid(name, False, top + cells, merged, last_row=len(top) + len(trs), rows_above=len(top))


def _grid(trs: Sequence[CT_Row], *, offset: int) -> tuple[list[list[object]], list[tuple[int, int, int, int]]]:
    """Rows of cell texts and merged ranges (0-based, inclusive, shifted down by ``offset``)."""
    rows: list[list[object]] = []
    merged: list[tuple[int, int, int, int]] = []
    open_vertical: dict[int, list[int]] = {}        # first column -> [r1, c1, r2, c2]
    for r, tr in enumerate(trs, offset):
        row: list[object] = [None] * min(tr.grid_before, MAX_COLS)     # spans are the file's word: bounded
        for tc in tr.tc_lst:
            if len(row) >= MAX_COLS:
                break
            col, span = len(row), min(max(tc.grid_span, 1), MAX_COLS)
            if tc.vMerge == "continue" and col in open_vertical:
                open_vertical[col][2] = r
                row.extend([None] * span)
                continue
            _close(open_vertical.pop(col, None), merged)
            row.append(_text(tc))
            row.extend([None] * (span - 1))
            if tc.vMerge == "restart":
                open_vertical[col] = [r, col, r, col + span - 1]
            elif span > 1:
                merged.append((r, col, r, col + span - 1))
        rows.append(row[:MAX_COLS])
    for box in open_vertical.values():
        _close(box, merged)
    return rows, [m for m in merged if m[1] < MAX_COLS]


def _close(box: list[int] | None, merged: list[tuple[int, int, int, int]]) -> None:
    if box is not None and (box[0] != box[2] or box[1] != box[3]):
        merged.append((box[0], box[1], box[2], box[3]))


def _text(tc: CT_Tc) -> str | None:
    """The cell's text as Word shows it: its paragraphs joined with newlines (nested tables
    aside); leading and trailing empty paragraphs dropped, indentation kept."""
    text = "\n".join(p.text for p in tc.iterchildren(_W + "p")).strip("\n")
    return text or None
