"""Workbook bytes -> a grid of cells, with merged ranges, guarded against hostile files.

The format is detected from the file's bytes, never its name (WPS saves old .xls
content as .et or even .xlsx). Before any parser sees a zip-based workbook, its
declared member sizes and compression ratios are checked: python-calamine has no
decompression limit of its own. XML members that declare a DTD are refused
(entity expansion bombs); defusedxml would refuse the same.
"""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from wcreport.core.settings import settings

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Formats this module can read.
READABLE = ("xlsx", "xlsm", "xlsb", "xls", "ods")
# Limits, overridable by environment for unusual programmes.
MAX_MEMBER_RATIO = 200          # uncompressed / compressed, per member above 1 MiB
MAX_MEMBERS = 10_000
MAX_ROWS = 5_000                # per sheet; a form has a few dozen
MAX_COLS = 100

RESUBMIT = "请另存为 .xlsx 后重新报送"


class UnreadableFile(Exception):
    """A file that cannot be read as a workbook. ``code`` is stable, ``reason`` Chinese."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass
class SheetGrid:
    name: str
    hidden: bool
    cells: list[list[object]]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # 0-based, inclusive


@dataclass
class WorkbookGrid:
    format: str
    sheets: list[SheetGrid]


ENCRYPTED_REASON = "文件设置了打开密码（已加密），无法读取。请取消密码保护后另存为 .xlsx 重新报送"


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

    An OLE2 file (legacy .xls, WPS .et, but also an encrypted .xlsx) is "xls". A zip
    that cannot be opened as one is "zip" (damaged). Anything else is None.
    """
    path = Path(path)
    try:
        head = _head(path)
    except OSError:
        return None
    if head.startswith(OLE_MAGIC):
        return "xls"
    if head[:4] in ZIP_MAGIC:
        try:
            with zipfile.ZipFile(path) as zf:
                return _zip_kind(set(zf.namelist()), zf)
        except (zipfile.BadZipFile, OSError, ValueError):
            return "zip"
    return None


def _describe_bytes(path: Path) -> str:
    head = _head(path, 512).lstrip().lower()
    if head.startswith(b"%pdf"):
        return "该文件是 PDF 文件，不是电子表格"
    if head.startswith((b"<html", b"<!doctype html", b"<?xml", b"<table")) or b"<html" in head:
        return "该文件是网页（HTML/XML）格式，只是扩展名为表格"
    return "无法识别该文件的格式（文件内容不是 Excel、WPS 或 ODS 表格）"


def check_zip(path: Path) -> None:
    """Refuse damaged zips, zip bombs and XML with DTDs before any parser expands them."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UnreadableFile("zip.corrupt", f"文件已损坏，无法打开（压缩包结构不完整）。{RESUBMIT}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise UnreadableFile("zip.bomb", f"文件内部包含 {len(infos)} 个部件，超过安全上限，已拒收。{RESUBMIT}")
        total = sum(i.file_size for i in infos)
        if total > (limit := settings().max_uncompressed_bytes):
            raise UnreadableFile(
                "zip.bomb",
                f"文件解压后约 {total // (1024 * 1024)} MB，超过安全上限 "
                f"{limit // (1024 * 1024)} MB（疑似压缩炸弹），已拒收。{RESUBMIT}")
        for info in infos:
            if info.file_size > 1024 * 1024 and info.file_size > MAX_MEMBER_RATIO * max(info.compress_size, 1):
                raise UnreadableFile(
                    "zip.bomb",
                    f"文件内部部件 {info.filename} 的压缩比异常（疑似压缩炸弹），已拒收。{RESUBMIT}")
            if info.flag_bits & 0x1:
                raise UnreadableFile("encrypted", "文件设置了密码或已加密，无法读取。请取消密码保护后另存为 .xlsx 重新报送"
                                                  f"{RESUBMIT}")
        for info in infos:
            if not info.filename.endswith((".xml", ".rels")) or info.file_size == 0:
                continue
            try:
                with zf.open(info) as member:
                    start = member.read(4096)
            except Exception:
                raise UnreadableFile("zip.corrupt", f"文件已损坏（部件 {info.filename} 无法解压）。{RESUBMIT}") from None
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise UnreadableFile("xml.dtd", f"文件内部 XML 含有 DTD/实体声明（疑似 XML 炸弹），已拒收。{RESUBMIT}")


def _ole_encrypted(path: Path) -> bool:
    """An OLE2 container holding an encrypted OOXML package (password-protected .xlsx)."""
    with open(path, "rb") as fh:
        data = fh.read(min(os.path.getsize(path), 4 * 1024 * 1024))
    return "EncryptedPackage".encode("utf-16-le") in data or "EncryptionInfo".encode("utf-16-le") in data


def read_workbook(path) -> WorkbookGrid:
    """Read every sheet's cells and merged ranges; raise UnreadableFile with a Chinese reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise UnreadableFile("file.missing", "文件无法访问（可能已被移走或正在被占用），请重新报送。") from None
    if size == 0:
        raise UnreadableFile("file.empty", "文件为空（0 字节），可能保存未完成。请重新保存后再报送。")
    if size > (limit := settings().max_file_bytes):
        raise UnreadableFile(
            "file.too_large",
            f"文件大小 {size / 1024 / 1024:.1f} MB，超过上限 {limit // (1024 * 1024)} MB。"
            "报表只需填写文字和数字，请删除图片等附件内容，另存为 .xlsx 后重新报送。")
    fmt = detect_format(path)
    if fmt == "zip":
        raise UnreadableFile("zip.corrupt", f"文件已损坏，无法打开（压缩包结构不完整）。{RESUBMIT}")
    if fmt is None:
        raise UnreadableFile("format.unknown", f"{_describe_bytes(path)}。{RESUBMIT}")
    if fmt == "xls":
        if _ole_encrypted(path):
            raise UnreadableFile("encrypted", "文件设置了打开密码（已加密），无法读取。请取消密码保护后另存为 .xlsx 重新报送")
    else:
        check_zip(path)
    return _read_calamine(path, fmt)


def _read_calamine(path: Path, fmt: str) -> WorkbookGrid:
    import python_calamine as pc

    try:
        workbook = pc.CalamineWorkbook.from_path(str(path))
    except pc.PasswordError:
        raise UnreadableFile("encrypted", ENCRYPTED_REASON) from None
    except Exception as exc:
        if "password" in str(exc).lower() or "encrypt" in str(exc).lower():
            raise UnreadableFile("encrypted", ENCRYPTED_REASON) from None
        raise UnreadableFile("file.corrupt", f"文件已损坏或格式不受支持，无法读取。{RESUBMIT}") from None
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
                raise UnreadableFile("encrypted", "文件设置了密码，无法读取。请取消密码保护后另存为 .xlsx 重新报送") from None
            except UnreadableFile:
                raise
            except Exception:
                raise UnreadableFile("file.corrupt", f"工作表「{meta.name}」已损坏，无法读取。{RESUBMIT}") from None
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
            sheets.append(SheetGrid(meta.name, hidden, cells, merged))
    finally:
        try:
            workbook.close()
        except Exception:
            pass
    if not sheets:
        raise UnreadableFile("workbook.empty", "文件中没有工作表。请使用通知附件的报表格式填写后重新报送。")
    return WorkbookGrid(fmt, sheets)


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
