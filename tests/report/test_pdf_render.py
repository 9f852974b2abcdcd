"""LibreOffice renders the report to A4 landscape pages, each one sheet-width wide."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from report.sample import make_case, programme, realistic_texts
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import write_report

TOOL = Path(__file__).resolve().parents[2] / "tools" / "render_report_pdf.py"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (shutil.which("soffice") and shutil.which("pdfinfo")),
                       reason="needs libreoffice-calc-nogui and poppler-utils"),
]


def load_tool():
    spec = importlib.util.spec_from_file_location("render_report_pdf", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pdf_pages_are_a4_landscape_and_fit_the_width(tmp_path):
    tool = load_tool()
    prog = programme()
    texts = realistic_texts(prog)
    # one task long enough to continue over several rows and pages
    texts[("health", 4)] = "".join(f"第{i}次：开展心理健康评估筛查，建立学生心理档案。" for i in range(400))
    results, manifest = make_case(prog, texts=texts)
    c = consolidate(prog, "2023Q1", results, manifest)
    workbook = write_report(c, prog, tmp_path)
    pdf = tool.to_pdf(workbook, tmp_path / "pdf")
    result = tool.check_pdf(pdf, c.title)
    assert result["ok"], result["problems"]
    assert result["sheets_by_page"][0] == "汇总表"
    assert set(result["sheets_by_page"]) == {"汇总表", "报送情况", "指标进度"}     # 明细 is not printed
    png = tool.to_png(pdf, tmp_path / "page1.png", dpi=40)
    assert png.stat().st_size > 1000


def test_check_flags_a_sheet_that_spills_to_the_right(tmp_path):
    """The check itself: without fit-to-width the 汇总表 needs a second page column."""
    import openpyxl

    tool = load_tool()
    prog = programme()
    c = consolidate(prog, "2023Q1", *make_case(prog, texts=realistic_texts(prog)))
    workbook = write_report(c, prog, tmp_path)
    wb = openpyxl.load_workbook(workbook)
    ws = wb["汇总表"]
    ws.sheet_properties.pageSetUpPr.fitToPage = False
    ws.page_setup.scale = 100
    ws.column_dimensions["D"].width = 160
    broken = tmp_path / "broken.xlsx"
    wb.save(broken)
    result = tool.check_pdf(tool.to_pdf(broken, tmp_path / "pdf"), c.title)
    assert not result["ok"]
    assert any("not fit to width" in p or "spilled" in p for p in result["problems"])


def test_libreoffice_reads_hostile_text_as_text_not_formulas(tmp_path):
    """A real spreadsheet program loads the workbook: "-2+3" stays text, nothing is evaluated."""
    import csv
    import subprocess

    from report.test_report_xlsx import HOSTILE

    prog = programme()
    c = consolidate(prog, "2023Q1", *make_case(prog, texts=HOSTILE))
    workbook = write_report(c, prog, tmp_path / "x.xlsx")
    profile = tmp_path / "lo-profile"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
                    "--outdir", str(tmp_path), str(workbook)], check=True, capture_output=True, timeout=300)
    rows = list(csv.reader((tmp_path / "x-明细.csv").open(encoding="utf-8")))
    texts = {(r[3], r[1]): r[4] for r in rows[1:]}
    assert texts[("淄博宝山生态科技园管理服务中心", "1")] == "-2+3"
    assert texts[("中埠镇", "1")] == "@SUM(1,2)"
    assert texts[("教育和体育事业中心", "1")] == HOSTILE[("edu_sports", 1)]
    assert texts[("四宝山街道", "1")] == HOSTILE[("sibaoshan", 1)]
