"""Writes real workbooks for the ingest tests: xlsx/xlsm (openpyxl), xls (xlwt), ods (odfpy).

A workbook is described as data (Book of Sheet specs) so the same content can be
written in every format; hostile files (zip bombs, encrypted OLE, damaged zips)
are made byte by byte.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HEADERS = ["序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
IND_HEADERS = ["序号", "指标名称", "目标值", "计量单位", "本年累计完成值"]


@dataclass
class Sheet:
    name: str
    rows: list[list[object]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)   # 0-based inclusive
    hidden: bool = False


@dataclass
class Book:
    sheets: list[Sheet]


def form_sheet(unit_line: str, rows: list[list[object]], *, title: str = "2023年为高新区妇女儿童办实事工作进展情况报表",
               headers: list[str] | None = None, name: str = "报表", extra_top: int = 0) -> Sheet:
    """The notice's form: title row, 单位 line, header row, data rows (title merged across)."""
    headers = headers or HEADERS
    top = [[] for _ in range(extra_top)]
    body = [*top, [title], [f"单位：（盖章）{unit_line}"], headers, *rows]
    return Sheet(name, body, merges=[(extra_top, 0, extra_top, len(headers) - 1)])


def indicator_sheet(values: list[tuple[str, object]], name: str = "指标") -> Sheet:
    rows = [IND_HEADERS] + [[i + 1, n, "", "", v] for i, (n, v) in enumerate(values)]
    return Sheet(name, rows)


# --- writers ---------------------------------------------------------------------

def write_xlsx(book: Book, path: Path) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for spec in book.sheets:
        ws = wb.create_sheet(spec.name)
        for r, row in enumerate(spec.rows, 1):
            for c, value in enumerate(row, 1):
                if value is None or value == "":
                    continue
                cell = ws.cell(r, c, value)
                if isinstance(value, str):
                    cell.data_type = "s"
        for r1, c1, r2, c2 in spec.merges:
            ws.merge_cells(start_row=r1 + 1, start_column=c1 + 1, end_row=r2 + 1, end_column=c2 + 1)
        if spec.hidden:
            ws.sheet_state = "hidden"
    wb.save(path)
    return path


def write_xlsm(book: Book, path: Path) -> Path:
    """An xlsx plus a (dummy) VBA project and the macro-enabled content type."""
    buf = io.BytesIO()
    write_xlsx(book, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"spreadsheetml.sheet.main+xml", b"sheet.macroEnabled.main+xml")
            out.writestr(info, data)
        out.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0" + b"\0" * 508)
    return path


def write_xls(book: Book, path: Path) -> Path:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    wrap = xlwt.easyxf("align: wrap on")
    for spec in book.sheets:
        ws = wb.add_sheet(spec.name)
        merged_cells = {}
        for r1, c1, r2, c2 in spec.merges:
            merged_cells[(r1, c1)] = (r2, c2)
        covered = {(r, c) for r1, c1, r2, c2 in spec.merges for r in range(r1, r2 + 1)
                   for c in range(c1, c2 + 1) if (r, c) != (r1, c1)}
        for r, row in enumerate(spec.rows):
            for c, value in enumerate(row):
                if (r, c) in covered or (r, c) in merged_cells:
                    continue
                if value is None or value == "":
                    continue
                ws.write(r, c, value, wrap)
        for (r1, c1), (r2, c2) in merged_cells.items():
            value = spec.rows[r1][c1] if r1 < len(spec.rows) and c1 < len(spec.rows[r1]) else ""
            ws.write_merge(r1, r2, c1, c2, value, wrap)
        if spec.hidden:
            ws.visibility = 1
    wb.save(path if hasattr(path, "write") else str(path))
    return path


def write_ods(book: Book, path: Path) -> Path:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for spec in book.sheets:
        table = Table(name=spec.name)
        spans = {(r1, c1): (r2 - r1 + 1, c2 - c1 + 1) for r1, c1, r2, c2 in spec.merges}
        covered = {(r, c) for r1, c1, r2, c2 in spec.merges for r in range(r1, r2 + 1)
                   for c in range(c1, c2 + 1) if (r, c) != (r1, c1)}
        width = max([len(r) for r in spec.rows] + [c2 + 1 for *_x, c2 in spec.merges] or [1])
        for r, row in enumerate(spec.rows):
            tr = TableRow()
            for c in range(width):
                value = row[c] if c < len(row) else None
                if (r, c) in covered:
                    tr.addElement(CoveredTableCell())
                    continue
                kwargs = {}
                if (r, c) in spans:
                    kwargs = {"numberrowsspanned": spans[(r, c)][0], "numbercolumnsspanned": spans[(r, c)][1]}
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    cell = TableCell(valuetype="float", value=value, **kwargs)
                    cell.addElement(P(text=str(value)))
                elif value is None or value == "":
                    cell = TableCell(**kwargs)
                else:
                    cell = TableCell(valuetype="string", **kwargs)
                    for line in str(value).split("\n"):
                        cell.addElement(P(text=line))
                tr.addElement(cell)
            table.addElement(tr)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


WRITERS = {"xlsx": write_xlsx, "xlsm": write_xlsm, "xls": write_xls, "ods": write_ods}


def write(book: Book, path: Path, fmt: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or path.suffix.lstrip(".").lower()
    return WRITERS[fmt](book, path)


# --- hostile and broken files ------------------------------------------------

def write_zip_bomb(path: Path, mib: int = 210) -> Path:
    """A valid-looking xlsx whose sheet XML expands to ``mib`` MiB (stored as ~300 KB)."""
    buf = io.BytesIO()
    write_xlsx(Book([Sheet("报表", [["x"]])]), buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info))
        with out.open("xl/padding.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1024 * 1024)
            for _ in range(mib):
                member.write(chunk)
    return path


def write_ratio_bomb(path: Path) -> Path:
    """Under the total-size limit, but one member with a compression ratio of ~1000:1."""
    return write_zip_bomb(path, mib=20)


def write_xml_bomb(path: Path) -> Path:
    """A small xlsx whose sheet XML declares nested entities ("billion laughs")."""
    buf = io.BytesIO()
    write_xlsx(Book([Sheet("报表", [["x"]])]), buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    lol = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
           + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                      for i in range(1, 10))
           + b']>\n')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
                data = lol + body.replace(b"<v>", b"<v>&lol9;", 1)
            out.writestr(info.filename, data)
    return path


def write_corrupt_zip(path: Path) -> Path:
    """The first half of a real xlsx: the central directory is missing."""
    buf = io.BytesIO()
    write_xlsx(Book([form_sheet("教体中心", [[1, "实施优质教育资源扩增赋能行动", "教体中心", "进展", "12月"]])]), buf)
    data = buf.getvalue()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_encrypted_zip(path: Path) -> Path:
    """A real xlsx whose members are all flagged as encrypted (zip "traditional" encryption)."""
    buf = io.BytesIO()
    write_xlsx(Book([Sheet("报表", [["x"]])]), buf)
    data = bytearray(buf.getvalue())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        data[at + 8] |= 0x1          # general purpose bit flag of the central directory entry
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))
    return path


def _xls_bytes(book: Book | None = None) -> bytes:
    buf = io.BytesIO()
    write_xls(book or Book([Sheet("Sheet1", [["x"]])]), buf)
    return buf.getvalue()


def write_encrypted_ooxml(path: Path) -> Path:
    """An OLE2 container with an EncryptedPackage stream: what a password-protected .xlsx is."""
    data = bytearray(_xls_bytes())
    old = "Workbook\x00".encode("utf-16-le")
    new = "EncryptedPackage\x00".encode("utf-16-le")
    at = data.index(old + b"\x00" * (64 - len(old)))
    data[at:at + 66] = new + b"\x00" * (64 - len(new)) + struct.pack("<H", len(new))
    path.write_bytes(bytes(data))
    return path


def write_encrypted_xls(path: Path, book: Book) -> Path:
    """A real .xls whose workbook stream starts with a FILEPASS record (password to open)."""
    data = bytearray(_xls_bytes(book))
    # xlwt writes BOF (0x0809) then INTERFACEHDR (0x00E1, 2 bytes): make the latter FILEPASS (0x002F).
    bof = data.index(struct.pack("<HH", 0x0809, 16))
    nxt = bof + 4 + 16
    rtype, _length = struct.unpack_from("<HH", data, nxt)
    assert rtype == 0x00E1, hex(rtype)
    struct.pack_into("<H", data, nxt, 0x002F)
    path.write_bytes(bytes(data))
    return path


def touch_mtime(path: Path, mtime: float) -> None:
    os.utime(path, (mtime, mtime))
