"""The Data Docs pages the manifest and the dashboard link open fully offline.

Headless Chromium (Debian package ``chromium``) loads them inside a network namespace
without any network (``unshare -n``, as root) and must show the run's results; the
pages name no external address at all."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wcreport.core.model import Finding
from wcreport.core.quarter import Quarter
from wcreport.validate import offline_docs
from wcreport.validate.data_docs import build_data_docs_index
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, with_row
from .test_data_docs import visible_text

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
UNSHARE = shutil.which("unshare")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


def offline_dom(page: Path, profile: Path, screenshot: Path | None = None) -> str:
    """The page's DOM as Chromium renders it with no network at all."""
    if os.geteuid() != 0 or UNSHARE is None:
        pytest.skip("needs root and unshare for a network namespace without network")
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--window-size=1300,900"]
    if screenshot is not None:
        args += [f"--screenshot={screenshot}"]
    else:
        args += ["--dump-dom"]
    proc = subprocess.run([UNSHARE, "-n", *args, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.mark.slow
def test_unit_page_and_index_show_the_results_without_network(programme, tmp_path):
    docs = tmp_path / "output" / "2023Q2" / "data_docs"
    report = with_row(good_report(programme), 0, progress="无")
    outcome = validate_report(report, UNIT, programme, Quarter(2023, 2), data_docs_dir=docs)
    page = Path(outcome.pages[0])                  # what the manifest links for the unit
    assert page == docs / "units" / "2023Q2-construction.html"

    html_text = page.read_text(encoding="utf-8")
    assert not EXTERNAL.search(html_text) and "newsletter" not in html_text and "<script" not in html_text
    text = visible_text(offline_dom(page, tmp_path / "profile"))
    assert "数据校验结果 · 建设局" in text
    assert "未通过：1 个错误" in text
    assert "进展情况各行（progress_rows）" in text and "数量指标（indicators）" in text
    assert "未通过" in text and "progress_norm" in text and "无" in text   # the failing rule and value
    for finding in outcome.findings:
        assert finding.message in text

    index = Path(build_data_docs_index(docs))       # what the manifest links for the quarter
    assert index == docs / "index.html"
    index_html = index.read_text(encoding="utf-8")
    assert not EXTERNAL.search(index_html) and "<script" not in index_html
    text = visible_text(offline_dom(index, tmp_path / "profile"))
    assert "数据校验报告（Data Docs）· 2023年第2季度" in text and "建设局 未通过 1 0" in text
    assert (docs / "gx-index.html").exists()        # GX's own index is kept, linked as online-only


def test_values_from_the_units_file_are_escaped(tmp_path):
    bad = "<img src=x onerror=alert(1)>"
    result = {"success": False, "statistics": {"evaluated_expectations": 1, "unsuccessful_expectations": 1},
              "results": [{"success": False,
                           "expectation_config": {"type": "expect_column_values_to_not_be_in_set",
                                                  "kwargs": {"column": "progress_norm"},
                                                  "meta": {"code": "progress.empty", "message_zh": "进展为空"}},
                           "result": {"element_count": 1, "unexpected_count": 1,
                                      "unexpected_index_list": [{"row_id": 0, "progress_norm": bad}]}}]}
    finding = Finding(code="progress.empty", severity="error", message=f"进展「{bad}」为空", cell="D4", sheet=bad)
    page = offline_docs.write_unit_page(tmp_path, quarter=Quarter(2023, 2), unit_key="construction",
                                        unit_name=bad, results={"progress_rows": result}, findings=[finding],
                                        gx_pages=[], validated_at=dt.datetime(2023, 6, 30, 9, tzinfo=dt.UTC))
    html_text = page.read_text(encoding="utf-8")
    assert "<img" not in html_text and html_text.count("&lt;img src=x") == 5
    assert "2023-06-30 17:00（北京时间）" in html_text
    index = offline_docs.write_index(tmp_path).read_text(encoding="utf-8")
    assert "<img" not in index and "&lt;img src=x" in index
