"""A CSV (or Excel's "Unicode text" .txt) -> a one-sheet grid, so ``locate`` reads the form.

Chinese office software writes CSV as GBK/GB18030 (Excel/WPS on Chinese Windows), UTF-8
with or without a BOM, or UTF-16 with a BOM and tabs ("Unicode 文本"). A UTF-16 file is
known by its BOM; otherwise charset-normalizer chooses between UTF-8 and GB18030. Text
that still holds control characters is binary junk, refused like an undecodable file.
The delimiter (comma, tab or semicolon) is sniffed with the csv module.

A CSV has no magic bytes, so it is known by its name: a ``.csv`` is always read as one
(and refused with a reason if it is not text); a ``.txt`` only if it decodes to a table
with the form's header, because units also send plain notes as .txt, which stay ignored.
"""
from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from pathlib import Path

from wcreport.core.settings import settings
from wcreport.intake.locate import header_field
from wcreport.intake.reader import MAX_COLS, MAX_ROWS, SheetGrid, UnreadableFile, WorkbookGrid, check_size

ENCODINGS = ["utf_8", "gb18030"]     # without a BOM; gb18030 is a superset of GBK
DELIMITERS = ",\t;"
SHEET_NAME = "CSV"
SNIFF_BYTES = 64 * 1024


def sniff_csv(path: Path) -> str | None:
    """"csv" for a file named .csv, or a .txt whose text holds the form's header; else None."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix != ".txt":
        return None
    try:
        if Path(path).stat().st_size > settings().max_file_bytes:
            return None
        rows = _rows(_decode(Path(path).read_bytes()))[:60]
    except (OSError, UnreadableFile):
        return None
    return "csv" if any(_is_header(row) for row in rows) else None


def _is_header(row: list[str]) -> bool:
    fields = {header_field(value) for value in row} - {None}
    return "progress" in fields and len(fields) >= 3


def read_csv(path: str | Path) -> WorkbookGrid:
    """The file's rows as one sheet; raise UnreadableFile with a Chinese reason."""
    path = Path(path)
    check_size(path)
    rows = _rows(_decode(path.read_bytes()))
    cells: list[list[object]] = [[value or None for value in row[:MAX_COLS]] for row in rows[:MAX_ROWS]]
    return WorkbookGrid("csv", [SheetGrid(SHEET_NAME, False, cells, [], last_row=len(rows))])


def _decode(data: bytes) -> str:
    """The text, decoded by its BOM (UTF-16 is only ever written with one), else as what
    charset-normalizer finds among UTF-8 and GB18030 (a superset of GBK)."""
    try:
        text = data.decode("utf-16") if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else None
    except UnicodeDecodeError:
        raise UnreadableFile.of("file.csv_encoding") from None
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(data, cp_isolation=ENCODINGS).best()
        text = str(best) if best is not None else None
    if text is None or _has_control_chars(text):
        raise UnreadableFile.of("file.csv_encoding")
    return text.removeprefix("\ufeff")


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in text)


def _rows(text: str) -> list[list[str]]:
    sample = text[:SNIFF_BYTES]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:           # too few rows of one width to tell: the most frequent delimiter
        dialect = csv.excel_tab if sample.count("\t") > max(sample.count(","), sample.count(";")) else csv.excel
        if dialect is csv.excel and sample.count(";") > sample.count(","):
            dialect = _Semicolon
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        return list(reader)
    except csv.Error:           # an oversized field (csv.field_size_limit) or a stray NUL
        raise UnreadableFile.of("file.csv_corrupt", line=reader.line_num) from None


class _Semicolon(csv.excel):
    delimiter = ";"
