"""GX's own Data Docs of a run open in headless Chromium (Debian package `chromium`) and show
the run's results. GX's index page (kept as gx-index.html) lists results through CDN-hosted
JavaScript, so the test checks it is a GX site listing the run, and opens the run's static
result pages. The offline pages the manifest links are tested in test_offline_docs.py."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wcreport.core.quarter import Quarter
from wcreport.validate.suites import validate_report

from .helpers import UNIT, good_report, with_row

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="chromium not installed (apt-get install -y chromium)")


def dump_dom(page: Path, profile: Path) -> str:
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def visible_text(dom: str) -> str:
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", dom, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", html.unescape(text))


@pytest.mark.slow
def test_data_docs_show_the_runs_results(programme, tmp_path):
    docs = tmp_path / "output" / "2023Q2" / "data_docs"
    report = with_row(good_report(programme), 0, progress="无")
    outcome = validate_report(report, UNIT, programme, Quarter(2023, 2), data_docs_dir=docs)
    assert outcome.data_docs == str(docs / "index.html")
    assert len(outcome.pages) == 3 and all(Path(p).is_file() for p in outcome.pages)
    assert Path(outcome.pages[0]).parent.name == "units"        # the offline page comes first

    index_dom = dump_dom(docs / "gx-index.html", tmp_path / "profile")
    assert "Data Docs" in visible_text(index_dom)
    assert "2023Q2-construction" in index_dom     # listed in the index's result table data

    rows_page = next(Path(p) for p in outcome.pages[1:] if "progress_rows" in p)
    text = visible_text(dump_dom(rows_page, tmp_path / "profile"))
    assert "Run Name 2023Q2-construction" in text
    assert "Expectation Suite: progress_rows" in text
    assert "Status: Failed" in text
    assert re.search(r"Unsuccessful Expectations 1\b", text)
    assert "progress_norm" in text and "无" in text          # the failing column and value
    ind_page = next(Path(p) for p in outcome.pages[1:] if "indicators" in p)
    assert "Status: Succeeded" in visible_text(dump_dom(ind_page, tmp_path / "profile"))


def test_data_docs_are_kept_per_quarter(programme, tmp_path):
    root = tmp_path / "output"
    for quarter in (Quarter(2023, 1), Quarter(2023, 2)):
        validate_report(good_report(programme), UNIT, programme, quarter,
                        data_docs_dir=root / str(quarter) / "data_docs")
    q1 = (root / "2023Q1" / "data_docs" / "index.html").read_text(encoding="utf-8")
    q2 = (root / "2023Q2" / "data_docs" / "index.html").read_text(encoding="utf-8")
    assert "2023Q1-construction" in q1 and "2023Q2-construction" not in q1
    assert "2023Q2-construction" in q2 and "2023Q1-construction" not in q2
