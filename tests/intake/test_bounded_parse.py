"""Untrusted parses run in a child process within a time and memory budget (intake.bounded).

The hostile files are real: a PDF whose one page draws half a million text operators
(35 KB; pypdf needs about a minute for its text layer on this machine) and an .xlsx of
5 KB whose one far cell (XFD4000) makes calamine allocate a 65-million-cell range. Each
gets its own Chinese reason within the budget; the other files of the quarter are read
as before.
"""
from __future__ import annotations

import io
import os
import time
import zlib
from pathlib import Path

import pytest
from openpyxl import Workbook

from intake.conftest import EDU_ROWS
from intake.corpus import Book, form_sheet, touch_mtime, write
from wcreport.flow.ingest_unit import decide_unit
from wcreport.intake.bounded import Budget, Done, Failed, run_bounded, warm
from wcreport.intake.reader import UnreadableFile
from wcreport.intake.reading import parse_report
from wcreport.intake.stamped import read_stamped_copy
from wcreport.validate.selfcheck import check_file

SECOND = Budget(seconds=2, memory_bytes=512 * 1024 * 1024)
# For what must not time out: a loaded machine can take seconds to start a child process.
ROOMY = Budget(seconds=60, memory_bytes=512 * 1024 * 1024)
# A loaded 2-core machine: the child is killed at the budget, the rest is process start and clean-up.
SLACK_SECONDS = 6


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF with a correct cross-reference table, written byte by byte."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def slow_pdf(path: Path, operators: int = 500_000) -> Path:
    """One page whose compressed content stream shows one glyph ``operators`` times."""
    content = zlib.compress(b"BT /F1 12 Tf " + b"(\xe4) Tj 1 0 Td " * operators + b"ET", 9)
    path.write_bytes(_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]))
    return path


def wide_workbook(path: Path) -> Path:
    """A form title and one cell in the last column: calamine materialises the range between."""
    book = Workbook()
    sheet = book.active
    sheet["A1"] = "2023年为高新区妇女儿童办实事工作进展情况报表"
    sheet["XFD4000"] = "x"
    book.save(path)
    return path


def test_a_pdf_that_keeps_pypdf_busy_is_stopped_at_the_budget(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORT_PARSE_TIMEOUT_SECONDS", "2")
    path = slow_pdf(tmp_path / "盖章件.pdf")
    assert path.stat().st_size < 64 * 1024
    started = time.monotonic()
    copy = read_stamped_copy(path, name="盖章件.pdf")
    assert time.monotonic() - started < 2 + SLACK_SECONDS
    assert [f.code for f in copy.findings] == ["stamped.pdf.parse_timeout"]
    assert copy.reasons == ["盖章件 PDF 解析超时：2 秒内未能读完其页面结构（文件结构异常复杂或已损坏）。"
                            "请重新扫描盖章后的纸质报表（PDF 或 JPG/PNG 图片）后报送。"]
    assert not copy.readable


def test_the_same_pdf_read_with_a_budget_it_fits_in_is_read(tmp_path, monkeypatch):
    """The budget, not the file's shape, refused it above: a short page of the same kind is read."""
    monkeypatch.setenv("REPORT_PARSE_TIMEOUT_SECONDS", "60")
    copy = read_stamped_copy(slow_pdf(tmp_path / "短.pdf", operators=200), name="短.pdf")
    assert "stamped.pdf.parse_timeout" not in [f.code for f in copy.findings]
    assert copy.pages == 1


def test_a_workbook_that_asks_for_gigabytes_is_refused_as_too_complex(tmp_path, programme, monkeypatch):
    monkeypatch.setenv("REPORT_PARSE_MEMORY_BYTES", "512MiB")
    path = wide_workbook(tmp_path / "报表.xlsx")
    assert path.stat().st_size < 16 * 1024
    _fmt, report, error = parse_report(path, programme)
    assert report is None and error is not None
    assert error.code == "file.too_complex"
    assert error.reason == ("文件过于复杂：读取它所需的内存超过 512 MB 的安全上限，已停止读取。"
                            "请在 Excel/WPS 中打开后另存为新的 .xlsx 文件（只保留报表内容）重新报送。")


def test_the_mail_receipts_self_check_refuses_it_the_same_way(tmp_path, programme, monkeypatch):
    monkeypatch.setenv("REPORT_PARSE_MEMORY_BYTES", "512MiB")
    accepted, text = check_file(wide_workbook(tmp_path / "卫健中心.xlsx"), programme, "health")
    assert not accepted and "文件过于复杂" in text


def test_the_rest_of_the_quarter_is_accepted(paths, programme, monkeypatch):
    monkeypatch.setenv("REPORT_PARSE_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("REPORT_PARSE_MEMORY_BYTES", "512MiB")
    hour_ago = time.time() - 3600
    good = write(Book([form_sheet("教育和体育事业中心", EDU_ROWS)]), paths.inbox / "教育和体育事业中心" / "教体中心.xlsx")
    health = paths.inbox / "卫生健康事业中心"
    health.mkdir(parents=True)
    bomb = wide_workbook(health / "卫健中心.xlsx")
    scan = slow_pdf(health / "卫健中心盖章件.pdf")
    for path in (good, bomb, scan):
        touch_mtime(path, hour_ago)

    edu = decide_unit(paths, programme, "edu_sports")
    assert (edu.status, edu.accepted_path) == ("submitted", "教育和体育事业中心/教体中心.xlsx")
    assert [r.seq for r in edu.rows] == [row[0] for row in EDU_ROWS]

    unit = decide_unit(paths, programme, "health")
    files = {f.path: f for f in unit.files}
    assert unit.status == "rejected" and unit.rows == []
    assert [f.code for f in files["卫生健康事业中心/卫健中心.xlsx"].findings] == ["file.too_complex"]
    assert any("解析超时" in reason for reason in files["卫生健康事业中心/卫健中心盖章件.pdf"].reasons)


# --- the mechanism --------------------------------------------------------------
def spin() -> None:
    while True:
        pass


def hoard() -> int:
    return len(bytearray(2 * 1024 * 1024 * 1024))


def refuse() -> None:
    raise UnreadableFile.of("file.corrupt", cause="sheet", sheet="报表")


def die() -> None:
    os.abort()


def environment(name: str) -> str | None:
    return os.environ.get(name)


def test_a_loop_is_killed_at_the_time_budget():
    started = time.monotonic()
    outcome = run_bounded(spin, budget=SECOND)
    assert isinstance(outcome, Failed) and outcome.kind == "timeout"
    assert time.monotonic() - started < SECOND.seconds + SLACK_SECONDS


def test_memory_beyond_the_budget_is_a_memory_failure_not_a_dead_worker():
    outcome = run_bounded(hoard, budget=ROOMY)
    assert isinstance(outcome, Failed) and outcome.kind == "memory"


def test_a_crash_is_its_own_failure():
    outcome = run_bounded(die, budget=ROOMY)
    assert isinstance(outcome, Failed) and outcome.kind == "crashed"


def test_the_functions_own_refusal_comes_back_as_itself():
    with pytest.raises(UnreadableFile) as raised:
        run_bounded(refuse, budget=ROOMY)
    assert raised.value.code == "file.corrupt"
    assert raised.value.reason == "工作表「报表」已损坏，无法读取。请另存为 .xlsx 后重新报送。"


def test_the_child_reads_the_callers_settings(monkeypatch):
    monkeypatch.setenv("REPORT_OCR_DPI", "123")
    outcome = run_bounded(environment, "REPORT_OCR_DPI", budget=ROOMY)
    assert isinstance(outcome, Done) and outcome.value == "123"


def _parse_in_a_daemonic_worker(_: int) -> str:
    from wcreport.intake.bounded import Budget, Done, run_bounded

    outcome = run_bounded(os.getpid, budget=Budget(30, 1 << 30))
    return "done" if isinstance(outcome, Done) and outcome.value != os.getpid() else repr(outcome)


def test_a_daemonic_worker_can_parse_as_celerys_prefork_workers_must():
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:     # pool workers are daemonic
        assert pool.map(_parse_in_a_daemonic_worker, [0]) == ["done"]


# --- the warm child (accelerator) -----------------------------------------------------
def child_pid() -> int:
    return os.getpid()


def test_with_accelerators_on_one_warm_child_runs_parse_after_parse(monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", "on")
    warm.stop()
    first, second = run_bounded(child_pid, budget=ROOMY), run_bounded(child_pid, budget=ROOMY)
    assert isinstance(first, Done) and isinstance(second, Done)
    assert first.value == second.value != os.getpid()


def test_with_accelerators_off_every_parse_has_a_fresh_child(monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", "off")
    first, second = run_bounded(child_pid, budget=ROOMY), run_bounded(child_pid, budget=ROOMY)
    assert isinstance(first, Done) and isinstance(second, Done)
    assert len({first.value, second.value, os.getpid()}) == 3


@pytest.mark.parametrize("switch", ["on", "off"])
def test_each_failure_is_the_same_with_and_without_the_warm_child(switch, monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", switch)
    kinds = [run_bounded(spin, budget=SECOND), *(run_bounded(function, budget=ROOMY) for function in (hoard, die))]
    assert [outcome.kind for outcome in kinds if isinstance(outcome, Failed)] == ["timeout", "memory", "crashed"]


def test_a_failure_retires_the_warm_child_and_the_next_parse_gets_a_new_one(monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", "on")
    before = run_bounded(child_pid, budget=ROOMY)
    assert isinstance(run_bounded(die, budget=ROOMY), Failed)
    after = run_bounded(child_pid, budget=ROOMY)
    assert isinstance(before, Done) and isinstance(after, Done) and after.value != before.value


def test_the_warm_child_reads_each_callers_settings_and_refusals(monkeypatch):
    monkeypatch.setenv("REPORT_ACCELERATORS", "on")
    for dpi in ("123", "456"):
        monkeypatch.setenv("REPORT_OCR_DPI", dpi)
        outcome = run_bounded(environment, "REPORT_OCR_DPI", budget=ROOMY)
        assert isinstance(outcome, Done) and outcome.value == dpi
    with pytest.raises(UnreadableFile):
        run_bounded(refuse, budget=ROOMY)
