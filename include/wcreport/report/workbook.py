"""The consolidated quarterly workbook: what the clerk forwards and the leaders print.

Sheets, in order (one module each under ``report.sheets``):

* 汇总表   ``sheets.summary``     the notice's attached form, one task per block of rows,
                                  paged so a block starts on a fresh page when it would not fit
* 报送情况 ``sheets.status``      every expected unit's status, lateness, 盖章件 and notes
* 指标进度 ``sheets.indicators``  every numeric target against what the quarter asks for, and a chart
* 明细     ``sheets.details``     the long table for analysis; in the file, not printed

The fourth quarter's workbook opens with the annual account (``sheets.year``: 年度总结, 年度,
年度指标) when ``write_report`` is given the year (``report.year.build_year``).

Every printed sheet is A4 landscape at a scale that fits the table's width, header row
repeated on every page (指标进度 repeats it itself, so none prints above its chart),
wrapped text (titles too) in rows as tall as every cell's text needs, a CJK font,
frozen header. The geometry (page,
margins, column widths, fixed rows) is ``report.layout``; how text wraps and how tall a
row must be is ``report.measure``; the paging of long text is ``report.text_flow``; the
cell styles are ``report.styles``.

The workbook is written with openpyxl's write-only mode, so memory stays flat for
thousands of units. Every piece of unit text goes through ``safe_cells.set_text``.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from openpyxl import Workbook

from wcreport.core.io import file_mode
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.report.consolidate import Consolidated, report_title
from wcreport.report.sheets import details, indicators, status, summary, year
from wcreport.report.text_flow import CONT_NEXT, CONT_PREV
from wcreport.report.year import YearAccount

__all__ = ["CONT_NEXT", "CONT_PREV", "SHEETS", "report_filename", "write_report"]

SHEETS = (summary.SHEET, status.SHEET, indicators.SHEET, details.SHEET)


def report_filename(programme: Programme, quarter: Quarter | str) -> str:
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    name = report_title(programme, q)
    return "".join("_" if ch in '\\/:*?"<>|' else ch for ch in name) + ".xlsx"


def write_report(consolidated: Consolidated, programme: Programme, path: str | os.PathLike,
                 year_account: YearAccount | None = None) -> Path:
    """Write the workbook to ``path`` atomically (temp file + rename); return the path.

    ``path`` may be a folder (an existing one, or any path not ending in .xlsx): the
    file is then named by ``report_filename``.
    """
    path = Path(path)
    if path.is_dir() or path.suffix.lower() != ".xlsx":
        path = path / report_filename(programme, consolidated.quarter)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook(write_only=True)
    wb.properties.title = consolidated.title
    wb.properties.creator = programme.report.organiser
    if year_account is not None:
        year.write_year(wb, year_account, consolidated.report_date())
    summary.write_summary(wb, consolidated)
    status.write_status(wb, consolidated)
    indicators.write_indicators(wb, consolidated, programme)
    details.write_details(wb, consolidated)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.chmod(tmp, file_mode())     # mkstemp makes it 0600; the report is read like every other output
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
