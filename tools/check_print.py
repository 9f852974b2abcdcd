#!/usr/bin/python3
"""Judge how a report workbook prints, with LibreOffice itself (UNO).

    /usr/bin/python3 tools/check_print.py REPORT.xlsx [--pdf OUT.pdf] [--json]

Runs with the *system* python3, which has the ``uno`` module of the Debian package
``python3-uno`` (the project's virtualenv cannot import it). Also needs
``libreoffice-calc-nogui``, ``poppler-utils``, ``fonts-noto-cjk`` and
``fonts-crosextra-carlito`` (Calibri's metrics, the workbook's default font; without it
LibreOffice's columns are about a third wider than Excel's). tools/install_system_packages.sh
installs them.

LibreOffice starts headless with a private profile and a pipe, loads the workbook,
exports it to PDF (only then are the pages laid out), and checks, for every sheet it
prints:

* **no clipped cell**: every printed row is at least as tall as LibreOffice's optimal
  height for its cells (``OptimalHeight``); merged cells, which that ignores, are
  measured one by one in a scratch sheet at their merged width and compared with the
  height of the rows they span;
* **no text cut off at a cell's edge**: a text cell that does not wrap is no wider than
  its cell (merged cells at their merged width), else it would be cut off or spill;
* **task blocks** (on the sheet named by ``--blocks``, rows grouped by the value in
  column A): a block that fits on one page does not cross a page break
  (``RowPageBreaks``); in a longer one every page starts with the block's own row
  (序号 and 实事名称 repeated);
* **charts** lie on one page, on a page of their own (no table row printed on it, no
  print title rows repeated above it), and inside the print area;
* **pages**: A4 landscape, one page wide (no column page break inside the print area);
* **not printed**: the sheets named by ``--unprinted`` print nothing, and columns whose
  header is in ``--machine-headers`` are outside every print area.

Prints a JSON summary (per sheet: printed rows, pages, the largest shortfall and the
smallest slack in mm) and exits 0 when every check passes, 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import uno
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException

# tools/, also when this file runs as a macro copy inside LibreOffice (no __file__ there)
TOOLS = Path(os.environ["WCREPORT_TOOLS"]) if "WCREPORT_TOOLS" in os.environ else Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
from render_report_pdf import _fonts_conf, page_sizes  # noqa: E402  (the renderer's font mapping)

UNBOUNDED_WIDTH = 100000           # 1 m: a cell no line of the report's text is wider than
TOLERANCE = 30                     # 0.3 mm: LibreOffice rounds heights to its own units
A4 = (29700, 21000)                # 1/100 mm
MACHINE_HEADERS = ("SHA-256", "来源文件", "来源位置", "报送文件")
MEASURED_PROPS = ("CharHeight", "CharHeightAsian", "CharFontName", "CharFontNameAsian", "CharWeight",
                  "CharWeightAsian", "IsTextWrapped", "ParaIndent")
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}


def prop(name: str, value) -> PropertyValue:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


# --- LibreOffice ------------------------------------------------------------------
MACRO = "wcreport_check_print.py"


class Office:
    """soffice --headless on a private pipe, with the renderer's font mapping.

    The checks make tens of thousands of UNO calls; over the pipe each costs milliseconds,
    so this file is copied into the private profile as a Python macro and the checks run
    inside LibreOffice's own process (``office_check``), where a call costs microseconds.
    """

    def __init__(self, timeout: float = 120) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="check-print-"))
        scripts = self.tmp / "user" / "user" / "Scripts" / "python"
        scripts.mkdir(parents=True)
        shutil.copyfile(__file__, scripts / MACRO)
        self.pipe = f"wcreport_check_{os.getpid()}_{int(time.time() * 1000)}"
        env = {**os.environ, "FONTCONFIG_FILE": str(_fonts_conf(self.tmp)), "HOME": str(self.tmp),
               "WCREPORT_TOOLS": str(TOOLS)}
        self.proc = subprocess.Popen(
            [shutil.which("soffice") or "soffice", f"-env:UserInstallation=file://{self.tmp}/user",
             "--headless", "--invisible", "--norestore", "--nologo", "--nodefault", "--nolockcheck",
             f"--accept=pipe,name={self.pipe};urp;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.ctx = self._connect(timeout)

    def _connect(self, timeout: float):
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        deadline = time.monotonic() + timeout
        while True:
            try:
                return resolver.resolve(f"uno:pipe,name={self.pipe};urp;StarOffice.ComponentContext")
            except NoConnectException:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("LibreOffice did not start (soffice --headless)") from None
                time.sleep(0.3)

    def run(self, request: dict) -> dict:
        """``office_check(request)`` inside LibreOffice; its JSON answer."""
        factory = self.ctx.ServiceManager.createInstanceWithContext(
            "com.sun.star.script.provider.MasterScriptProviderFactory", self.ctx)
        script = factory.createScriptProvider("").getScript(
            f"vnd.sun.star.script:{MACRO}$office_check?language=Python&location=user")
        answer, _, _ = script.invoke((json.dumps(request, ensure_ascii=False),), (), ())
        return json.loads(answer)

    def close(self) -> None:
        try:
            self.ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", self.ctx).terminate()
        except Exception:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.tmp, ignore_errors=True)


# --- what the file says (merged ranges, straight from the xlsx) ---------------------
def merged_ranges(xlsx: Path) -> dict[str, list[tuple[int, int, int, int]]]:
    """Sheet name -> merged ranges as 0-based (first col, first row, last col, last row)."""
    with zipfile.ZipFile(xlsx) as z:
        book = ET.fromstring(z.read("xl/workbook.xml"))
        rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target") for r in rels}
        out = {}
        for sheet in book.find("m:sheets", NS):
            target = targets[sheet.get(f"{{{NS['r']}}}id")].lstrip("/")
            target = target if target.startswith("xl/") else "xl/" + target
            root = ET.fromstring(z.read(target))
            cells = root.find("m:mergeCells", NS)
            out[sheet.get("name")] = [_range(m.get("ref")) for m in cells] if cells is not None else []
        return out


def _range(ref: str) -> tuple[int, int, int, int]:
    first, _, last = ref.partition(":")
    c0, r0 = _cell(first)
    c1, r1 = _cell(last or first)
    return c0, r0, c1, r1


def _cell(ref: str) -> tuple[int, int]:
    letters, digits = re.fullmatch(r"\$?([A-Z]+)\$?(\d+)", ref).groups()
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return col - 1, int(digits) - 1


# --- one sheet ------------------------------------------------------------------------
class SheetCheck:
    def __init__(self, doc, sheet, merges, args) -> None:
        self.doc, self.sheet, self.args = doc, sheet, args
        self.name = sheet.Name
        self.problems: list[str] = []
        self.style = doc.StyleFamilies.getByName("PageStyles").getByName(sheet.PageStyle)
        self.areas = [(a.StartColumn, a.StartRow, a.EndColumn, a.EndRow) for a in sheet.getPrintAreas()]
        cursor = sheet.createCursor()
        cursor.gotoEndOfUsedArea(False)
        self.used = (cursor.RangeAddress.EndColumn, cursor.RangeAddress.EndRow)
        self.heights = self._heights(self.used[1] + 1)
        self.shapes = [sheet.DrawPage.getByIndex(i) for i in range(sheet.DrawPage.Count)]
        if not self.areas:
            self.areas = [(0, 0, self.used[0], max([self.used[1]] + [self.shape_rows(s)[1] for s in self.shapes]))]
        self.merges = merges
        self.printed_rows = sorted({r for a in self.areas for r in range(a[1], a[3] + 1)})
        self._extend(max(self.printed_rows) + 1)

    # -- geometry
    def _heights(self, count: int) -> list[int]:
        rows = self.sheet.Rows
        out = []
        for i in range(count):
            row = rows.getByIndex(i)
            out.append(row.Height if row.IsVisible else 0)
        return out

    def _extend(self, count: int) -> None:
        if count > len(self.heights):
            rows = self.sheet.Rows
            for i in range(len(self.heights), count):
                row = rows.getByIndex(i)
                self.heights.append(row.Height if row.IsVisible else 0)

    def _row_at(self, y: int) -> int:
        top, i = 0, 0
        while True:
            self._extend(i + 1)
            if top + self.heights[i] > y:
                return i
            top += self.heights[i]
            i += 1

    def shape_rows(self, shape) -> tuple[int, int]:
        top = shape.Position.Y
        return self._row_at(top + TOLERANCE), self._row_at(top + shape.Size.Height - TOLERANCE)

    @property
    def printed(self) -> bool:
        return not all(self._empty_area(a) for a in self.areas)

    def _empty_area(self, area) -> bool:
        c0, r0, c1, r1 = area
        shapes = any(r0 <= self.shape_rows(s)[0] <= r1 for s in self.shapes)
        return not shapes and not self._has_content(c0, r0, c1, r1)

    def _has_content(self, c0: int, r0: int, c1: int, r1: int) -> bool:
        """Any text or value in the range (LibreOffice's own content query, clipped to the range:
        for a single cell it can answer with a neighbour)."""
        found = self.sheet.getCellRangeByPosition(c0, r0, c1, r1).queryContentCells(1 | 2 | 4 | 16)
        return any(a.StartColumn <= c1 and a.EndColumn >= c0 and a.StartRow <= r1 and a.EndRow >= r0
                   for a in found.getRangeAddresses())

    def breaks(self) -> list[int]:
        last = max(self.printed_rows)
        return [b.Position for b in self.sheet.getRowPageBreaks() if 0 < b.Position <= last]

    def title_rows(self) -> list[int]:
        if not self.sheet.getPrintTitleRows():
            return []
        t = self.sheet.getTitleRows()
        return list(range(t.StartRow, t.EndRow + 1))

    def page_body(self) -> int:
        """Height a page's body holds, in sheet units (1/100 mm at 100 %)."""
        s = self.style
        body = s.Height - s.TopMargin - s.BottomMargin
        body -= s.HeaderHeight if s.HeaderIsOn else 0
        body -= s.FooterHeight if s.FooterIsOn else 0
        scale = s.PageScale if not (s.ScaleToPagesX or s.ScaleToPagesY or s.ScaleToPages) else self._fit_scale()
        return int(body * 100 / scale)

    def _fit_scale(self) -> float:
        s = self.style
        width = sum(self.sheet.Columns.getByIndex(c).Width for c in range(self.areas[0][0], self.areas[0][2] + 1))
        return min(100.0, 100.0 * (s.Width - s.LeftMargin - s.RightMargin) / width)

    # -- checks
    def check_pages(self) -> None:
        s = self.style
        if not s.IsLandscape or abs(s.Width - A4[0]) > 100 or abs(s.Height - A4[1]) > 100:
            self.problems.append(f"{self.name}: page is {s.Width}x{s.Height} (1/100 mm), not A4 landscape")
        for c0, _, c1, _ in self.areas:
            inside = [b.Position for b in self.sheet.getColumnPageBreaks() if c0 < b.Position <= c1]
            if inside:
                self.problems.append(f"{self.name}: columns break onto another page at column {inside[0]}"
                                     " (not one page wide)")

    def check_rows(self, scratch) -> dict:
        """Set heights against LibreOffice's optimal heights; merged cells measured apart."""
        set_heights = {r: self.heights[r] for r in self.printed_rows}
        merged_need = [self._merged_need(m, scratch) for m in self._printed_merges()]
        self._clear_outside_print_areas()
        self._clear_merged_anchors()
        rows = self.sheet.Rows
        first, last = min(self.printed_rows), max(self.printed_rows)
        rows_range = self.sheet.getCellRangeByPosition(0, first, 0, last).Rows
        rows_range.OptimalHeight = True
        worst, slack = 0, None
        for r in self.printed_rows:
            optimal = rows.getByIndex(r).Height
            short = optimal - set_heights[r]
            if set_heights[r] and short > TOLERANCE:
                self.problems.append(f"{self.name}: row {r + 1} is {set_heights[r] / 100:.1f} mm, its text needs "
                                     f"{optimal / 100:.1f} mm (clipped)")
            worst = max(worst, short)
            if set_heights[r]:
                slack = -short if slack is None else min(slack, -short)
        for (c0, r0, c1, r1), need in merged_need:
            have = sum(set_heights.get(r, 0) for r in range(r0, r1 + 1))
            if need - have > TOLERANCE:
                self.problems.append(f"{self.name}: merged cell {_ref(c0, r0)}:{_ref(c1, r1)} is {have / 100:.1f} mm,"
                                     f" its text needs {need / 100:.1f} mm (clipped)")
            worst = max(worst, need - have)
        return {"max_shortfall_mm": round(worst / 100, 2), "min_slack_mm": round((slack or 0) / 100, 2),
                "merged_cells_measured": len(merged_need)}

    def check_unwrapped(self, scratch) -> dict:
        """A text cell that does not wrap must fit its width on one line: wrapped at the cell's
        (merged) width it is no taller than in a cell wide enough for any line."""
        merged_width = {(c0, r0): sum(self.sheet.Columns.getByIndex(c).Width for c in range(c0, c1 + 1))
                        for c0, r0, c1, _ in self.merges}
        printed = set(self.printed_rows)
        checked = 0
        for c0, r0, c1, r1 in self.areas:
            found = self.sheet.getCellRangeByPosition(c0, r0, c1, r1).queryContentCells(4)   # text
            cells = found.getCells().createEnumeration()
            while cells.hasMoreElements():
                cell = cells.nextElement()
                address = cell.CellAddress
                if address.Row not in printed or cell.IsTextWrapped or not cell.String:
                    continue
                key = (address.Column, address.Row)
                width = merged_width.get(key) or self.sheet.Columns.getByIndex(address.Column).Width
                checked += 1
                # both wrapped (LibreOffice lays wrapped and unwrapped text out with different line heights)
                one_line = scratch.measure(cell, UNBOUNDED_WIDTH, wrap=True)
                if scratch.measure(cell, width, wrap=True) - one_line > TOLERANCE:
                    self.problems.append(f"{self.name}: {_ref(*key)} does not wrap and its text is wider than "
                                         f"the cell (cut off): {cell.String[:40]!r}")
        return {"unwrapped_cells_measured": checked}

    def _printed_merges(self):
        printed = set(self.printed_rows)
        for c0, r0, c1, r1 in self.merges:
            if r0 in printed and any(a[0] <= c0 <= a[2] for a in self.areas):
                yield c0, r0, c1, r1

    def _merged_need(self, merge, scratch) -> tuple[tuple, int]:
        c0, r0, c1, r1 = merge
        anchor = self.sheet.getCellByPosition(c0, r0)
        width = sum(self.sheet.Columns.getByIndex(c).Width for c in range(c0, c1 + 1))
        return merge, scratch.measure(anchor, width) if anchor.String else 0

    def _clear_outside_print_areas(self) -> None:
        right = max(a[2] for a in self.areas)
        if self.used[0] > right:
            self.sheet.getCellRangeByPosition(right + 1, 0, self.used[0], self.used[1]).clearContents(1 | 2 | 4 | 16)

    def _clear_merged_anchors(self) -> None:
        for c0, r0, _, _ in self.merges:
            self.sheet.getCellByPosition(c0, r0).clearContents(1 | 2 | 4 | 16)

    def check_blocks(self, breaks: list[int]) -> dict:
        """Rows grouped by column A: a block that fits a page must not cross a page break."""
        titles = set(self.title_rows())
        rows = [r for r in self.printed_rows if r not in titles and r > max(titles, default=-1)]
        blocks = self._blocks(rows)
        capacity = self.page_body() - sum(self.heights[r] for r in titles)
        fitting, tall = 0, 0
        for key, members in blocks:
            height = sum(self.heights[r] for r in members)
            inside = [b for b in breaks if members[0] < b <= members[-1]]
            # the first block shares page 1 with what is above it (title lines), which never moves
            room = capacity if members[0] != rows[0] else self.page_body() - sum(self.heights[:members[0]])
            if height <= room:
                fitting += 1
                if inside:
                    self.problems.append(f"{self.name}: block {key} (rows {members[0] + 1}-{members[-1] + 1}, "
                                         f"{height / 100:.0f} mm) fits a page ({capacity / 100:.0f} mm) but crosses "
                                         f"a page break at row {inside[0] + 1}")
                continue
            tall += 1
            for b in inside:
                if not (self._value(0, b) and self._value(1, b)):
                    self.problems.append(f"{self.name}: block {key} continues on a new page at row {b + 1} "
                                         "without its 序号/实事名称")
        return {"blocks": len(blocks), "fit_one_page": fitting, "taller_than_a_page": tall,
                "page_capacity_mm": round(capacity / 100, 1)}

    def _blocks(self, rows: list[int]) -> list[tuple[str, list[int]]]:
        blocks: list[tuple[str, list[int]]] = []
        for r in rows:
            value = self._value(0, r)
            if value and (not blocks or blocks[-1][0] != value):
                blocks.append((value, [r]))
            elif blocks:
                blocks[-1][1].append(r)
        return blocks

    def _value(self, col: int, row: int) -> str:
        cell = self.sheet.getCellByPosition(col, row)
        return cell.String.strip()

    def check_charts(self, breaks: list[int]) -> list[dict]:
        """Each chart on one page, alone on it, inside the print area."""
        if not self.shapes:
            return []
        right = max(a[2] for a in self.areas)
        titles = set(self.title_rows())
        out = []
        for i, shape in enumerate(self.shapes, 1):
            first, last = self.shape_rows(shape)
            inside = [b for b in breaks if first < b <= last]
            if inside:
                self.problems.append(f"{self.name}: chart {i} (rows {first + 1}-{last + 1}) is cut by a page "
                                     f"break at row {inside[0] + 1}")
            page_start = max([b for b in breaks if b <= first], default=0)
            shared = [r for r in range(page_start, first) if r not in titles and self._has_content(0, r, right, r)]
            if shared:
                self.problems.append(f"{self.name}: chart {i} shares its page with table row {shared[-1] + 1}")
            if titles and page_start > max(titles):
                self.problems.append(f"{self.name}: chart {i} has print title rows {min(titles) + 1}-"
                                     f"{max(titles) + 1} repeated above it on its page")
            if last > max(self.printed_rows):
                self.problems.append(f"{self.name}: chart {i} reaches row {last + 1}, outside the print area")
            out.append({"rows": [first + 1, last + 1], "height_mm": round(shape.Size.Height / 100, 1),
                        "page_starts_at_row": page_start + 1})
        return out

    def check_machine_columns(self) -> None:
        for r in range(min(4, self.used[1] + 1)):
            for c in range(self.used[0] + 1):
                text = self._value(c, r)
                if text in self.args.machine_headers and any(a[0] <= c <= a[2] and a[1] <= r <= a[3]
                                                             for a in self.areas):
                    self.problems.append(f"{self.name}: machine column {text!r} ({_ref(c, r)}) is printed")


def _ref(col: int, row: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


class Scratch:
    """A scratch sheet where one cell is measured at a given width (merged cells)."""

    def __init__(self, doc) -> None:
        doc.Sheets.insertNewByName("__measure__", doc.Sheets.Count)
        self.sheet = doc.Sheets.getByName("__measure__")
        self.cell = self.sheet.getCellByPosition(0, 0)
        self.row = self.sheet.Rows.getByIndex(0)
        self.column = self.sheet.Columns.getByIndex(0)
        self.known: dict[tuple, int] = {}       # the same text, width and font measure the same
        self.measured = 0

    def measure(self, source, width: int, wrap: bool | None = None) -> int:
        """The optimal height of ``source``'s text in a cell ``width`` wide (``wrap``: wrapped
        or not, whatever the source cell says)."""
        props = tuple(self._get(source, name) for name in MEASURED_PROPS)
        if wrap is not None:
            props = tuple(wrap if name == "IsTextWrapped" else value for name, value in zip(MEASURED_PROPS, props))
        key = (source.String, width, props)
        if key not in self.known:
            self.column.Width = width
            for name, value in zip(MEASURED_PROPS, props):
                if value is not None:
                    self.cell.setPropertyValue(name, value)
            self.cell.String = source.String
            self.row.OptimalHeight = True
            self.known[key] = self.row.Height
            self.measured += 1
        return self.known[key]

    @staticmethod
    def _get(source, name: str):
        try:
            value = source.getPropertyValue(name)
        except Exception:
            return None
        return value if isinstance(value, (int, float, str, bool)) else None


# --- the whole workbook --------------------------------------------------------------
def check(xlsx: Path, args) -> dict:
    """Run the checks on ``xlsx`` inside a private LibreOffice."""
    request = {"workbook": str(Path(xlsx).resolve()), "pdf": str(Path(args.pdf).resolve()) if args.pdf else None,
               "blocks": list(args.blocks), "unprinted": list(args.unprinted),
               "machine_headers": list(args.machine_headers)}
    office = Office()
    try:
        return office.run(request)
    finally:
        office.close()


def office_check(request_json: str) -> str:
    """The macro: load the workbook in this LibreOffice, check it, answer in JSON."""
    request = json.loads(request_json)
    args = argparse.Namespace(**request)
    desktop = uno.getComponentContext().ServiceManager.createInstanceWithContext(
        "com.sun.star.frame.Desktop", uno.getComponentContext())
    xlsx = Path(request["workbook"])
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(str(xlsx)), "_blank", 0, (prop("Hidden", True),))
    try:
        result = _check_document(doc, xlsx, args)
    except Exception as exc:               # the caller gets the reason, not a bare UNO error
        import traceback
        result = {"ok": False, "problems": [f"checker failed: {exc!r}"], "traceback": traceback.format_exc()}
    finally:
        doc.close(True)
    return json.dumps(result, ensure_ascii=False)


g_exportedScripts = (office_check,)


def _check_document(doc, xlsx: Path, args) -> dict:
    started = time.monotonic()
    pdf = Path(args.pdf) if args.pdf else Path(tempfile.mkdtemp(prefix="check-print-pdf-")) / (xlsx.stem + ".pdf")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    doc.storeToURL(uno.systemPathToFileUrl(str(pdf.resolve())), (prop("FilterName", "calc_pdf_Export"),))
    exported = time.monotonic()
    sizes = page_sizes(pdf)
    problems = [f"PDF page {i}: {w:.0f}x{h:.0f} pt is not A4 landscape" for i, (w, h) in enumerate(sizes, 1)
                if abs(w - 841.89) > 2 or abs(h - 595.28) > 2]
    merges = merged_ranges(xlsx)
    sheets = [doc.Sheets.getByIndex(i) for i in range(doc.Sheets.Count)]
    checks = [SheetCheck(doc, sheet, merges.get(sheet.Name, []), args) for sheet in sheets]
    breaks = {c.name: c.breaks() for c in checks}          # read before anything is changed
    scratch = Scratch(doc)
    summary = {}
    for c in checks:
        if c.name in args.unprinted:
            if c.printed:
                c.problems.append(f"{c.name}: should not print, but its print area has content")
            summary[c.name] = {"printed": c.printed}
            problems += c.problems
            continue
        if not c.printed:
            summary[c.name] = {"printed": False}
            continue
        info = {"printed": True, "printed_rows": len(c.printed_rows), "pages": len(breaks[c.name]) + 1,
                "scale": c.style.PageScale}
        c.check_pages()
        c.check_machine_columns()
        if c.name in args.blocks:
            info.update(c.check_blocks(breaks[c.name]))
        charts = c.check_charts(breaks[c.name])
        if charts:
            info["charts"] = charts
        info.update(c.check_unwrapped(scratch))        # before check_rows clears merged anchors
        info.update(c.check_rows(scratch))
        summary[c.name] = info
        problems += c.problems
    timing = {"pdf_export_s": round(exported - started, 1), "checks_s": round(time.monotonic() - exported, 1)}
    return {"workbook": str(xlsx), "pdf": str(pdf) if args.pdf else "(temporary)", "pdf_pages": len(sizes),
            "sheets": summary, "timing": timing, "ok": not problems, "problems": problems}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workbook", type=Path)
    parser.add_argument("--pdf", help="keep the PDF LibreOffice laid out here")
    parser.add_argument("--blocks", nargs="*", default=["汇总表"], help="sheets whose rows form task blocks")
    parser.add_argument("--unprinted", nargs="*", default=["明细"], help="sheets that must not print")
    parser.add_argument("--machine-headers", nargs="*", default=list(MACHINE_HEADERS))
    args = parser.parse_args(argv)
    result = check(args.workbook, args)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
