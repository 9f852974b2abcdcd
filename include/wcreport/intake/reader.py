"""Workbook bytes -> a grid of cells, with merged ranges, guarded against hostile files.

The format is detected from the file's bytes, never its name (WPS saves old .xls
content as .et or even .xlsx). Before any parser sees a zip-based workbook, its
declared member sizes and compression ratios are checked: python-calamine has no
decompression limit of its own. XML members that declare a DTD are refused
(entity expansion bombs); defusedxml would refuse the same. A refusal is an
``UnreadableFile`` whose code and reason come from ``wcreport.core.findings_catalogue``.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from wcreport.core.findings_catalogue import finding_type, finding_with_text, message
from wcreport.core.model import Finding
from wcreport.core.settings import settings

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Formats this module can read.
READABLE = ("xlsx", "xlsm", "xlsb", "xls", "ods")
WORD_EXTENSIONS = (".doc", ".dot", ".wps", ".wpt")    # legacy Word/WPS: OLE2 like .xls (see doc_reader)
# Limits, overridable by environment for unusual programmes.
MAX_MEMBER_RATIO = 200          # uncompressed / compressed, per member above 1 MiB
MAX_MEMBERS = 10_000
MAX_ROWS = 5_000                # per sheet; a form has a few dozen
MAX_COLS = 100
MIB = 1024 * 1024


class UnreadableFile(Exception):
    """A file that cannot be read as a workbook: a catalogued ``code`` and its Chinese ``reason``."""

    def __init__(self, code: str, reason: str):
        finding_type(code)
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason

    @classmethod
    def of(cls, code: str, /, *, cause: str | None = None, **values) -> UnreadableFile:
        """The exception for a catalogued code, with the catalogue's message as reason."""
        return cls(code, message(code, cause=cause, **values))

    def as_finding(self) -> Finding:
        return finding_with_text(self.code, self.reason)


@dataclass
class SheetGrid:
    name: str
    hidden: bool
    cells: list[list[object]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # 0-based, inclusive
    last_row: int | None = None     # 1-based last row with content; above MAX_ROWS means rows were not read
    # Rows kept above a Word table (its 「单位：」 paragraphs): references count the table's rows
    # as Word does, so these are not counted.
    rows_above: int = 0


@dataclass
class WorkbookGrid:
    format: str
    sheets: list[SheetGrid]


def _head(path: Path, size: int = 8) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _zip_kind(names: set[str], zf: zipfile.ZipFile) -> str | None:
    if "mimetype" in names:
        try:
            info = zf.getinfo("mimetype")
            mime = zf.read(info).decode("ascii", "replace").strip() if info.file_size < 200 else ""
        except Exception:
            mime = ""
        if mime == "application/vnd.oasis.opendocument.spreadsheet":
            return "ods"
        if mime.startswith("application/vnd.oasis.opendocument"):
            return None  # a text document or a presentation
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/workbook.xml" in names:
        return "xlsm" if "xl/vbaProject.bin" in names else "xlsx"
    return None


def detect_format(path) -> str | None:
    """Spreadsheet format from the file's bytes: xlsx, xlsm, xlsb, xls, ods; None otherwise.

    An OLE2 file (legacy .xls, WPS .et, but also an encrypted .xlsx) is "xls", unless it is
    a Word/WPS document (``is_word_ole``). A zip
    that cannot be opened as one is "zip" (damaged). Anything else is None.
    """
    path = Path(path)
    try:
        head = _head(path)
    except OSError:
        return None
    if head.startswith(OLE_MAGIC):
        return None if is_word_ole(path) else "xls"
    if head[:4] in ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                return _zip_kind(set(zf.namelist()), zf)
        except (zipfile.BadZipFile, OSError, ValueError):
            return "zip"
    return None


def is_word_ole(path: Path) -> bool:
    """An OLE2 file that is a Word/WPS document (a root ``WordDocument`` stream), or one olefile
    cannot open whose name says Word (so it is refused as a damaged Word file, not a workbook)."""
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            return bool(ole.exists("WordDocument"))
    except Exception:           # olefile raises OSError and assorted errors on damaged files
        return path.suffix.lower() in WORD_EXTENSIONS


def _unknown_format_cause(path: Path) -> str | None:
    """What a file that is no spreadsheet looks like: "pdf", "html" or unknown (None)."""
    head = _head(path, 512).lstrip().lower()
    if head.startswith(b"%pdf"):
        return "pdf"
    if head.startswith((b"<html", b"<!doctype html", b"<?xml", b"<table")) or b"<html" in head:
        return "html"
    return None


def check_zip(path: Path) -> None:
    """Refuse damaged zips, zip bombs and XML with DTDs before any parser expands them."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableFile.of("zip.corrupt") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UnreadableFile.of("zip.bomb", cause="members", count=len(infos))
        total = sum(i.file_size for i in infos)
        if total > (limit := settings().max_uncompressed_bytes):
            raise UnreadableFile.of("zip.bomb", size_mb=total // MIB, limit_mb=limit // MIB)
        for info in infos:
            if info.file_size > MIB and info.file_size > MAX_MEMBER_RATIO * max(info.compress_size, 1):
                raise UnreadableFile.of("zip.bomb", cause="ratio", member=info.filename)
            if info.flag_bits & 0x1:
                raise UnreadableFile.of("encrypted")
        for info in infos:
            if not info.filename.endswith((".xml", ".rels")) or info.file_size == 0:
                continue
            try:
                with zf.open(info) as member:
                    start = member.read(4096)
            except Exception:
                raise UnreadableFile.of("zip.corrupt", cause="member", member=info.filename) from None
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise UnreadableFile.of("xml.dtd")


def _ole_encrypted(path: Path) -> bool:
    """An OLE2 container holding an encrypted OOXML package (password-protected .xlsx)."""
    with open(path, "rb") as fh:
        data = fh.read(min(os.path.getsize(path), 4 * 1024 * 1024))
    return "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data


def check_size(path: Path) -> int:
    """The file's size; refuse a missing, empty or oversized file before any parser sees it."""
    try:
        size = path.stat().st_size
    except OSError:
        raise UnreadableFile.of("file.missing") from None
    if size == 0:
        raise UnreadableFile.of("file.empty")
    if size > (limit := settings().max_file_bytes):
        raise UnreadableFile.of("file.too_large", size_mb=size / MIB, limit_mb=limit // MIB)
    return size


def read_workbook(path) -> WorkbookGrid:
    """Read every sheet's cells and merged ranges; raise UnreadableFile with a Chinese reason."""
    path = Path(path)
    check_size(path)
    fmt = detect_format(path)
    if fmt == "zip":
        raise UnreadableFile.of("zip.corrupt")
    if fmt is None:
        raise UnreadableFile.of("format.unknown", cause=_unknown_format_cause(path))
    if fmt == "xls":
        if _ole_encrypted(path):
            raise UnreadableFile.of("encrypted")
    else:
        check_zip(path)
    return _read_calamine(path, fmt)


def _read_calamine(path: Path, fmt: str) -> WorkbookGrid:
    import python_calamine as pc

    try:
        workbook = pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        raise UnreadableFile.of("encrypted") from None
    except Exception as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise UnreadableFile.of("encrypted") from None
        raise UnreadableFile.of("file.corrupt") from None
    sheets: list[SheetGrid] = []
    ods_merges = _ods_merges(path) if fmt == "ods" else {}
    try:
        for meta in workbook.sheets_metadata:
            if str(meta.typ).split(".")[-1] not in ("WorkSheet",):
                continue  # chart sheets, dialog sheets, macro sheets
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
                rows = sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS)
            except pc.PasswordError:
                raise UnreadableFile.of("encrypted") from None
            except UnreadableFile:
                raise
            except Exception:
                raise UnreadableFile.of("file.corrupt", cause="sheet", sheet=meta.name) from None
            cells = [[None if v == "" else v for v in row[:MAX_COLS]] for row in rows]
            try:
                ranges = sheet.merged_cell_ranges or []
            except Exception:
                ranges = []
            merged = [(r1, c1, r2, c2) for (r1, c1), (r2, c2) in ranges
                      if r1 < MAX_ROWS and c1 < MAX_COLS]
            if not merged:
                merged = ods_merges.get(meta.name, [])
            hidden = str(meta.visible).split(".")[-1] != "Visible"
            sheets.append(SheetGrid(meta.name, hidden, cells, merged, _last_row(sheet)))
    finally:
        try:
            workbook.close()
        except Exception:
            pass
    if not sheets:
        raise UnreadableFile.of("workbook.empty")
    return WorkbookGrid(fmt, sheets)


def _last_row(sheet) -> int | None:
    """1-based last row calamine found content in (cells with formatting only do not count)."""
    try:
        end = sheet.end
    except Exception:
        return None
    return end[0] + 1 if end else None


_ODS_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


def _ods_merges(path: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """Merged ranges of an .ods (calamine does not report them), parsed with defusedxml.

    The zip has already passed ``check_zip``, so content.xml's size is bounded and it
    declares no DTD.
    """
    from defusedxml.ElementTree import iterparse

    merges: dict[str, list[tuple[int, int, int, int]]] = {}
    try:
        with zipfile.ZipFile(path) as zf, zf.open("content.xml") as content:
            sheet, row, col = None, 0, 0
            for event, elem in iterparse(content, events=("start", "end")):
                tag = elem.tag
                if event == "start":
                    if tag == _ODS_TABLE + "table":
                        sheet, row = elem.get(_ODS_TABLE + "name"), 0
                        merges.setdefault(sheet, [])
                    elif tag == _ODS_TABLE + "table-row":
                        col = 0
                    continue
                if tag == _ODS_TABLE + "table-row":
                    row += min(int(elem.get(_ODS_TABLE + "number-rows-repeated", "1")), MAX_ROWS)
                    elem.clear()
                elif tag in (_ODS_TABLE + "table-cell", _ODS_TABLE + "covered-table-cell"):
                    rows_spanned = int(elem.get(_ODS_TABLE + "number-rows-spanned", "1"))
                    cols_spanned = int(elem.get(_ODS_TABLE + "number-columns-spanned", "1"))
                    if sheet is not None and (rows_spanned > 1 or cols_spanned > 1) and row < MAX_ROWS:
                        merges[sheet].append((row, col, row + rows_spanned - 1, col + cols_spanned - 1))
                    col += min(int(elem.get(_ODS_TABLE + "number-columns-repeated", "1")), 16384)
                elif tag == _ODS_TABLE + "table":
                    sheet = None
                    elem.clear()
    except Exception:
        return {}
    return merges
