#!/usr/bin/env python3
"""Render the report workbook to PDF with LibreOffice and check it prints as intended.

    python tools/render_report_pdf.py REPORT.xlsx [--outdir DIR] [--png docs/report-page1.png]
    python tools/render_report_pdf.py --sample --png docs/report-page1.png

Needs (Debian/Ubuntu): ``apt-get install libreoffice-calc-nogui poppler-utils fonts-noto-cjk``.

Checks, on the PDF LibreOffice produced:

* every page is A4 landscape (pdfinfo);
* every page is one full page *width* of its sheet: each page's text (pdftotext) holds
  the header of the sheet's first column *and* of its last column. Header rows repeat
  on every page (print titles) but columns do not, so a page that spilled over to the
  right would lack the first column's header ("序号"/"季度");
* the 汇总表 starts on page 1 with the report title.

Page 1 is rasterised with pdftoppm to ``--png``. LibreOffice runs with a private
profile (parallel runs do not collide) and a fontconfig file that maps 宋体/SimSun to
Noto Serif CJK SC (the font offices use is not on a Linux server). Exit status 0 when
every check passes; a JSON summary is printed either way.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
A4_LANDSCAPE = (841.89, 595.28)
# first-column header, last-column header and a header unique to the sheet
SHEET_MARKERS = {
    "汇总表": ("序号", "完成时限", "责任单位"),
    "报送情况": ("序号", "说明", "报送状态"),
    "指标进度": ("序号", "报数单位", "判断依据"),
    "明细": ("季度", "分段", "SHA-256"),
}
# the chart's page of 指标进度: the chart alone, no table header above it
CHART_PAGE = ("指标进度", "各指标完成年度目标比例")
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  {matches}
</fontconfig>
"""
FONT_MAP = {"宋体": "Noto Serif CJK SC", "SimSun": "Noto Serif CJK SC", "仿宋": "Noto Serif CJK SC",
            "黑体": "Noto Sans CJK SC", "SimHei": "Noto Sans CJK SC"}


def _fonts_conf(folder: Path) -> Path:
    matches = "\n  ".join(
        f'<match target="pattern"><test name="family"><string>{src}</string></test>'
        f'<edit name="family" mode="assign" binding="strong"><string>{dst}</string></edit></match>'
        for src, dst in FONT_MAP.items())
    path = folder / "fonts.conf"
    path.write_text(FONTS_CONF.format(matches=matches), encoding="utf-8")
    return path


def _need(tool: str) -> str:
    found = shutil.which(tool)
    if not found:
        raise SystemExit(f"{tool} not found: apt-get install libreoffice-calc-nogui poppler-utils "
                         "fonts-noto-cjk")
    return found


def to_pdf(workbook: Path, outdir: Path, timeout: int = 240) -> Path:
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        env = {**os.environ, "FONTCONFIG_FILE": str(_fonts_conf(Path(profile))), "HOME": profile}
        subprocess.run(
            [_need("soffice"), f"-env:UserInstallation=file://{profile}/user", "--headless",
             "--norestore", "--convert-to", "pdf", "--outdir", str(outdir), str(workbook)],
            check=True, capture_output=True, timeout=timeout, env=env)
    pdf = outdir / (workbook.stem + ".pdf")
    if not pdf.exists():
        raise RuntimeError(f"LibreOffice produced no PDF for {workbook}")
    return pdf


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    info = subprocess.run([_need("pdfinfo"), str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    detail = subprocess.run([_need("pdfinfo"), "-f", "1", "-l", str(pages), str(pdf)], check=True,
                            capture_output=True, text=True).stdout
    return [(float(w), float(h)) for w, h in
            re.findall(r"^Page\s+\d+\s+size:\s+([\d.]+) x ([\d.]+)", detail, re.M)]


def page_texts(pdf: Path, pages: int) -> list[str]:
    return [subprocess.run([_need("pdftotext"), "-layout", "-f", str(i), "-l", str(i), str(pdf), "-"],
                           check=True, capture_output=True, text=True).stdout
            for i in range(1, pages + 1)]


def check_pdf(pdf: Path, title: str | None = None) -> dict:
    sizes = page_sizes(pdf)
    texts = page_texts(pdf, len(sizes))
    problems: list[str] = []
    sheets: list[str | None] = []
    for number, ((w, h), text) in enumerate(zip(sizes, texts), 1):
        if abs(w - A4_LANDSCAPE[0]) > 2 or abs(h - A4_LANDSCAPE[1]) > 2:
            problems.append(f"page {number}: {w}x{h} pt is not A4 landscape")
        compact = re.sub(r"\s+", "", text)
        sheet = next((name for name, (_, _, unique) in SHEET_MARKERS.items() if unique in compact), None)
        if sheet is None and CHART_PAGE[1] in compact:
            sheets.append(CHART_PAGE[0])
            continue
        sheets.append(sheet)
        if sheet is None:
            if "序号" not in compact and "季度" not in compact:
                problems.append(f"page {number}: no header row at all (spilled over to the right?)")
            continue
        first, last, _ = SHEET_MARKERS[sheet]
        if first not in compact or last not in compact:
            problems.append(f"page {number} ({sheet}): first or last column missing: not fit to width")
    if not sheets or sheets[0] != "汇总表":
        problems.append("page 1 is not the 汇总表")
    if title and title not in re.sub(r"\s+", "", texts[0] if texts else ""):
        problems.append("page 1 lacks the report title")
    return {"pdf": str(pdf), "pages": len(sizes), "sheets_by_page": sheets,
            "page_size_pt": sizes[0] if sizes else None, "ok": not problems, "problems": problems}


def to_png(pdf: Path, png: Path, dpi: int = 110) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    stem = png.with_suffix("")
    subprocess.run([_need("pdftoppm"), "-png", "-r", str(dpi), "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(stem)], check=True, capture_output=True)
    return png


def sample_workbook(folder: Path) -> Path:
    """A realistic 2023Q1 report from the test fixtures (for --sample)."""
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "include")]
    from report.sample import make_case, programme, realistic_texts
    from wcreport.report.consolidate import consolidate
    from wcreport.report.workbook import write_report

    prog = programme()
    results, manifest = make_case(prog, "2023Q1", texts=realistic_texts(prog), late=("zhongbu",))
    consolidated = consolidate(prog, "2023Q1", results, manifest)
    consolidated.generated_at = "2023-04-03T09:00:00+08:00"
    return write_report(consolidated, prog, folder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workbook", nargs="?", type=Path)
    parser.add_argument("--sample", action="store_true", help="render a sample report instead")
    parser.add_argument("--outdir", type=Path, help="where the PDF goes (default: a temp folder)")
    parser.add_argument("--png", type=Path, help="write page 1 as PNG here")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args(argv)
    if not args.workbook and not args.sample:
        parser.error("give a workbook or --sample")
    with tempfile.TemporaryDirectory(prefix="render-report-") as tmp:
        outdir = args.outdir or Path(tmp)
        workbook = sample_workbook(outdir) if args.sample else args.workbook
        pdf = to_pdf(Path(workbook).resolve(), outdir.resolve())
        title = Path(workbook).stem
        result = check_pdf(pdf, title)
        if args.png:
            result["png"] = str(to_png(pdf, args.png, args.dpi))
        if not args.outdir:
            result["pdf"] = "(temporary)"
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
