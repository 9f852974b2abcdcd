"""LibreOffice judges how the workbook prints (tools/check_print.py, over UNO).

Three quarters: the demo quarter (the sample files through the pipeline's own gather,
ingest and merge), the same quarter with every text ten times longer, and 2,000 units.
Every printed row is as tall as LibreOffice needs, task blocks that fit a page do not
cross a page break, the chart has a page of its own, pages are A4 landscape, 明细 and the
file-name column do not print. A last test breaks a workbook on purpose and expects the
check to say so.

Needs the system python3 with ``uno`` (python3-uno), the Python script provider, soffice,
poppler and the fonts: tools/install_system_packages.sh.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from report.sample import make_case, programme
from report.test_scale import big_programme
from wcreport.core.programme import programme_for_year
from wcreport.core.quarter import Quarter
from wcreport.demo.sample import write_quarter_samples
from wcreport.report import text_flow
from wcreport.report.consolidate import consolidate
from wcreport.report.sheets import indicators, status
from wcreport.report.workbook import write_report

TOOL = Path(__file__).resolve().parents[2] / "tools" / "check_print.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def _uno_available() -> bool:
    if not (shutil.which("soffice") and shutil.which("pdfinfo") and Path(SYSTEM_PYTHON).exists()):
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True).returncode == 0


pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _uno_available(), reason=(
    "needs LibreOffice with python3-uno (tools/install_system_packages.sh)"))]


def check_print(workbook: Path, tmp_path: Path) -> dict:
    out = subprocess.run([SYSTEM_PYTHON, str(TOOL), str(workbook), "--pdf", str(tmp_path / "judged.pdf")],
                         capture_output=True, text=True, timeout=1200)
    assert out.stdout, out.stderr[-3000:]
    result = json.loads(out.stdout)
    print(json.dumps({k: result[k] for k in ("pdf_pages", "sheets", "timing")}, ensure_ascii=False))
    assert (out.returncode == 0) == result["ok"]
    return result


@pytest.fixture(scope="module")
def demo_quarter(tmp_path_factory):
    """The demo quarter's run and workbook: sample files, then the pipeline's own steps."""
    from wcreport.orchestration import tasks

    root = tmp_path_factory.mktemp("demo")
    quarter = Quarter(2023, 1)
    write_quarter_samples(programme_for_year(2023), quarter, root / "inbox")
    run = tasks.resolve_run(str(quarter), str(root / "inbox"), str(root / "output"))
    for unit in tasks.gather(run):
        tasks.ingest(run, unit)
    return run, Path(tasks.merge(run)["report"])


def assert_prints_clean(result: dict) -> None:
    assert result["ok"], result["problems"]
    sheets = result["sheets"]
    assert sheets["明细"] == {"printed": False}
    assert {name for name, s in sheets.items() if s["printed"]} == {"汇总表", "报送情况", "指标进度"}
    for name in ("汇总表", "报送情况", "指标进度"):
        assert sheets[name]["max_shortfall_mm"] == 0.0, name
    [chart] = sheets["指标进度"]["charts"]
    assert chart["page_starts_at_row"] == chart["rows"][0]


def test_demo_quarter_prints_clean(demo_quarter, tmp_path):
    _, workbook = demo_quarter
    result = check_print(workbook, tmp_path)
    assert_prints_clean(result)
    assert result["sheets"]["汇总表"]["blocks"] == 10


def test_ten_times_longer_texts_print_clean(demo_quarter, tmp_path):
    from wcreport.orchestration import tasks

    run, _ = demo_quarter
    longer = dict(run, output=str(tmp_path / "output"))
    shutil.copytree(run["output"], longer["output"])
    for path in (Path(longer["output"]) / run["quarter"] / "units").glob("*.json"):
        result = json.loads(path.read_text(encoding="utf-8"))
        for row in result.get("rows", []):
            if row.get("progress"):
                row["progress"] = "\n".join(f"（{i}）{row['progress']}" for i in range(1, 11))
        path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    workbook = Path(tasks.merge(longer)["report"])
    result = check_print(workbook, tmp_path)
    assert_prints_clean(result)
    summary = result["sheets"]["汇总表"]
    assert summary["taller_than_a_page"] == 10 and summary["pages"] > 50


def test_two_thousand_units_print_clean(tmp_path):
    prog = big_programme()
    text = "本季度召开专题推进会，制定工作方案并明确责任分工，建立工作台账，实行周调度，深入基层开展调研走访。" * 2
    texts = {(u.key, t.seq): f"{u.name}：{text}" for u in prog.units for t in prog.tasks}
    results, manifest = make_case(prog, texts=texts, missing=("u0007",), rejected={"u0008": "表头缺失"},
                                  indicators={u.key: {"school_places": 1} for u in prog.units})
    workbook = write_report(consolidate(prog, "2023Q1", results, manifest), prog, tmp_path)
    result = check_print(workbook, tmp_path)
    assert_prints_clean(result)
    assert result["sheets"]["报送情况"]["printed_rows"] == 2003


def _edit(xlsx: Path, member: str, change) -> None:
    """Rewrite one XML part of the xlsx (openpyxl would drop the chart on a round trip)."""
    with zipfile.ZipFile(xlsx) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    parts[member] = change(parts[member].decode("utf-8")).encode("utf-8")
    with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_the_check_finds_what_would_print_badly(tmp_path, monkeypatch):
    from report.sample import realistic_texts

    prog = programme()
    # rows of at most four lines: every task's block has several rows, most of them fit a page
    for module in (text_flow, status):
        monkeypatch.setattr(module, "MAX_ROW_LINES", 4)
    # a chart taller than the room left for it on its page
    original = indicators.percent_chart

    def tall_chart(*args):
        chart = original(*args)
        chart.height = 25.0
        return chart

    monkeypatch.setattr(indicators, "percent_chart", tall_chart)
    case = make_case(prog, texts=realistic_texts(prog))
    workbook = write_report(consolidate(prog, "2023Q1", *case), prog, tmp_path)
    # a clipped row; no manual page breaks in the 汇总表; the file names printed
    _edit(workbook, "xl/worksheets/sheet1.xml",
          lambda xml: re.sub(r"<rowBreaks.*?</rowBreaks>", "",
                             re.sub(r'(<row r="5"[^>]*?ht=")[\d.]+"', r'\g<1>8"', xml), flags=re.S))
    _edit(workbook, "xl/workbook.xml", lambda xml: xml.replace("'报送情况'!$A$1:$G$", "'报送情况'!$A$1:$H$"))
    problems = "\n".join(check_print(workbook, tmp_path)["problems"])
    assert re.search(r"汇总表: row 5 is [\d.]+ mm, its text needs [\d.]+ mm \(clipped\)", problems)
    assert re.search(r"汇总表: block \d+ .* fits a page .* crosses a page break", problems)
    assert "报送情况: machine column '报送文件'" in problems
    assert re.search(r"指标进度: chart 1 .* is cut by a page break", problems)
