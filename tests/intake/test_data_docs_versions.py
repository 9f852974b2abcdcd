"""Data Docs per file version: the unit's page is the version that counts, the others are linked.

A unit whose first file was rejected sends a second one that passes: its Data Docs page
must show the second file's results (as its feedback and the report do), name that file,
and link the first file's own page, which still names the first file and its findings."""
from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.flow.ingest_unit import decide_unit
from wcreport.validate.data_docs import build_data_docs_index

NOW = time.time()
EMPTY_PROGRESS = [[1, "实施优质教育资源扩增赋能行动", "教体中心", "", "12月"]]
UNIT = "edu_sports"


def form(paths, name: str, rows, mtime: float) -> Path:
    target = write(Book([form_sheet("教育和体育事业中心", rows)]), paths.inbox / name)
    touch_mtime(target, mtime)
    return target


def text_of(page: Path) -> str:
    body = page.read_text(encoding="utf-8").split("</head>", 1)[1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def links_of(page: Path) -> list[Path]:
    hrefs = re.findall(r'href="([^"]+)"', page.read_text(encoding="utf-8"))
    return [(page.parent / html.unescape(h)).resolve() for h in hrefs]


def test_the_unit_page_is_the_accepted_version_and_links_the_rejected_one(paths, programme):
    form(paths, "教体中心-初稿.xlsx", EMPTY_PROGRESS, NOW - 7200)
    first = decide_unit(paths, programme, UNIT)            # the quarterly run: only the first file
    assert first.status == "rejected"
    unit_page = paths.data_docs / "units" / f"{paths.quarter}-{UNIT}.html"
    assert "教体中心-初稿.xlsx" in text_of(unit_page) and "未通过" in text_of(unit_page)
    assert list((paths.data_docs / "versions").glob("*.html")) == []    # its only version: the unit's page

    form(paths, "教体中心-修改稿.xlsx", EDU_ROWS, NOW - 3600)
    result = decide_unit(paths, programme, UNIT)           # the unit's rerun after its correction
    assert result.status == "submitted" and result.accepted_path == "教体中心-修改稿.xlsx"
    assert result.data_docs == f"{paths.quarter}/data_docs/units/{paths.quarter}-{UNIT}.html"

    shown = text_of(unit_page)
    assert "文件 教体中心-修改稿.xlsx" in shown                   # names the file that counts
    assert "结论 通过" in shown and "未通过：" not in shown
    files = {f.path: f for f in result.files}
    assert files["教体中心-修改稿.xlsx"].sha256[:12] in shown
    assert "本单位本季度的其他文件版本" in shown and "教体中心-初稿.xlsx" in shown

    first_sha = files["教体中心-初稿.xlsx"].sha256
    first_page = (paths.data_docs / "versions" / f"{paths.quarter}-{UNIT}-{first_sha[:12]}.html").resolve()
    assert first_page in links_of(unit_page)
    old = text_of(first_page)
    assert "文件 教体中心-初稿.xlsx" in old and first_sha[:12] in old
    assert "未通过：" in old                                   # the first file's own result, kept
    assert "教体中心-修改稿.xlsx（本单位以此文件为准）" in old
    assert unit_page.resolve() in links_of(first_page)

    summary = json.loads(unit_page.with_suffix(".json").read_text(encoding="utf-8"))
    assert (summary["file"], summary["errors"]) == ("教体中心-修改稿.xlsx", 0)
    index = text_of(Path(build_data_docs_index(paths.data_docs)))
    assert "教育和体育事业中心 教体中心-修改稿.xlsx 通过 0 " in index and "初稿" not in index


def test_a_rejected_correction_does_not_replace_the_accepted_page(paths, programme):
    form(paths, "教体中心.xlsx", EDU_ROWS, NOW - 7200)
    form(paths, "教体中心-修改.xlsx", EMPTY_PROGRESS, NOW - 3600)
    result = decide_unit(paths, programme, UNIT)
    assert result.status == "submitted" and result.rejected_corrections == ["教体中心-修改.xlsx"]
    unit_page = paths.output_root / result.data_docs
    shown = text_of(unit_page)
    assert "文件 教体中心.xlsx" in shown and "结论 通过" in shown
    rejected_sha = {f.path: f for f in result.files}["教体中心-修改.xlsx"].sha256
    rejected_page = (paths.data_docs / "versions" / f"{paths.quarter}-{UNIT}-{rejected_sha[:12]}.html").resolve()
    assert rejected_page in links_of(unit_page)
    assert "未通过：" in text_of(rejected_page)


def test_a_rejected_unit_page_is_its_newest_version(paths, programme):
    form(paths, "教体中心.xlsx", EMPTY_PROGRESS, NOW - 7200)
    form(paths, "教体中心-2.xlsx", EMPTY_PROGRESS + [[2, "x", "教体中心", "", "11月"]], NOW - 3600)
    result = decide_unit(paths, programme, UNIT)
    assert result.status == "rejected" and result.data_docs is None
    shown = text_of(paths.data_docs / "units" / f"{paths.quarter}-{UNIT}.html")
    assert "文件 教体中心-2.xlsx" in shown


def results_of(page: Path) -> str:
    """The page's findings and rule tables, as written (between the summary and the other versions)."""
    text = page.read_text(encoding="utf-8")
    return text[text.index("<h2>问题清单</h2>"):text.index("</tbody></table>", text.rindex('class="suite"'))]


def test_the_unit_page_carries_its_version_pages_results_as_written(paths, programme):
    form(paths, "教体中心.xlsx", EDU_ROWS, NOW - 7200)
    form(paths, "教体中心-修改.xlsx", EMPTY_PROGRESS, NOW - 3600)
    result = decide_unit(paths, programme, UNIT)
    files = {f.path: f for f in result.files}
    version_page = paths.data_docs / "versions" / f"{paths.quarter}-{UNIT}-{files['教体中心.xlsx'].sha256[:12]}.html"
    rejected_page = paths.data_docs / "versions" / f"{paths.quarter}-{UNIT}-{files['教体中心-修改.xlsx'].sha256[:12]}.html"
    unit_page = paths.output_root / result.data_docs
    assert results_of(unit_page) == results_of(version_page)
    assert results_of(rejected_page) != results_of(version_page)      # each version shows its own results
    assert "&amp;" not in results_of(rejected_page)                   # escaped once, by its template
