"""LibreOffice judges how the annual account prints: long words (blocks taller than a page) and a lost quarter."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from report import test_year as year_case
from report.sample import realistic_texts
from report.test_print_check import SYSTEM_PYTHON, TOOL, _uno_available
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import write_report
from wcreport.report.year import build_year

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not _uno_available(), reason=(
    "needs LibreOffice with python3-uno (tools/install_system_packages.sh)"))]


def check_print(workbook, tmp_path) -> dict:
    """tools/check_print.py, with the 年度 sheet's task blocks judged like the 汇总表's."""
    out = subprocess.run([SYSTEM_PYTHON, str(TOOL), str(workbook), "--pdf", str(tmp_path / "judged.pdf"),
                          "--blocks", "汇总表", "年度"], capture_output=True, text=True, timeout=1200)
    assert out.stdout, out.stderr[-3000:]
    return json.loads(out.stdout)


def stretched(text: str, factor: float) -> str:
    """``text`` ``factor`` times as long (repeated, then cut)."""
    return (text * (int(factor) + 1))[:round(len(text) * factor)]


# task 1's block: taller than a page; or (x1.03) one that fits a page but not page 1 below the title
@pytest.mark.parametrize("longer", [{1: 6, 2: 6}, {1: 1.03}], ids=["taller_than_a_page", "a_page_but_not_page_1"])
def test_the_year_prints_without_clipping_with_long_words(tmp_path, monkeypatch, longer):
    texts = realistic_texts(year_case.PROG)
    texts = {key: stretched(text, longer.get(key[1], 1)) for key, text in texts.items()}
    make_case = year_case.make_case

    def long_case(*args, texts_=texts, **kwargs):
        return make_case(*args, **{**kwargs, "texts": {**texts_, **(kwargs.get("texts") or {})}})

    monkeypatch.setattr(year_case, "make_case", long_case)
    root = tmp_path / "output"
    for n in (1, 2, 3):
        year_case.write_quarter(root, n)
    shutil.rmtree(root / "2023Q3")
    results, manifest = year_case.quarter_case(4)
    q4 = consolidate(year_case.PROG, "2023Q4", results, manifest)
    account = build_year(year_case.PROG, q4, root)
    assert [s.quarter for s in account.unavailable] == ["2023Q3"]
    result = check_print(write_report(q4, year_case.PROG, root / "2023Q4", account), tmp_path)
    assert result["ok"], result["problems"]
    sheets = result["sheets"]
    assert sheets["年度总结"]["pages"] == 1
    assert sheets["年度"]["max_shortfall_mm"] == 0.0
    assert sheets["年度"]["fit_one_page"] > 0
    assert len(sheets["年度指标"]["charts"]) == len(account.indicators)
