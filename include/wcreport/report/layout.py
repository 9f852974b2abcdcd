"""The report layout in one place: the page, the print scale, each sheet's columns and fixed rows.

Units: column widths are Excel width units (``report.measure`` says how many mm one is),
row heights points (1/72 inch), page margins inches (as openpyxl takes them).

Every sheet prints on A4 landscape at an explicit scale (``page_scale``) chosen so the
table's width fits the page in every renderer; with a known scale the height a page
holds is known (``page_body_pt``), so the writer can put manual page breaks where a
task's block begins (``Pages``). How text wraps and how tall a row must be for it is
``report.measure``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from wcreport.report.measure import (
    BODY_PT,
    MM_PER_PT,
    UNIT_MM_WIDEST,
    height_for_lines,
    line_count,
    lines_in,
    width_at_body_size,
)

# --- the page -----------------------------------------------------------------------
A4_LANDSCAPE_MM = (297.0, 210.0)    # the paper every sheet prints on: width, height
MARGIN_SIDE_IN = 0.5                # left and right margins
MARGIN_TOP_IN = MARGIN_BOTTOM_IN = 0.6
MARGIN_HEADER_IN = MARGIN_FOOTER_IN = 0.3   # paper edge to the page header / to the footer (page numbers)
PAGE_SAFETY = 0.985                 # plan pages 1.5 % shorter than they are (rounding of row heights)

# --- rows ---------------------------------------------------------------------------
MAX_ROW_PT = 400.0                  # the tallest row written: Excel caps a row at 409.5 pt; keep a margin
MAX_ROW_LINES = lines_in(MAX_ROW_PT)    # wrapped lines in the tallest row: longer text continues in the next
MIN_ROW_PT = 22.0                   # the lowest row of a table
TITLE_PT = 36.0                     # row 1 of a printed sheet: the title
SUBTITLE_PT = 22.0                  # row 2: 汇总单位 or the counts, and 填报日期 (taller when it wraps)


@dataclass(frozen=True)
class SheetLayout:
    """The fixed geometry of one sheet.

    ``widths``: the widths of columns A, B, … (Excel width units); ``header_pt``: the
    header row's least height (taller when its labels wrap); ``printed``: how many
    columns, from A, the print area covers (the ones right of it are machine columns).
    """

    widths: tuple[float, ...]
    header_pt: float
    printed: int


# 汇总表: 序号, 实事名称, 责任单位, 本季度具体措施及任务进度情况, 完成时限. 完成时限 widens to fit the
# unit names it lists (up to SUMMARY_MAX_DEADLINE_WIDTH), the text column gives way (down to
# SUMMARY_MIN_TEXT_WIDTH); a task's block is at least MIN_TASK_PT tall.
SUMMARY = SheetLayout(widths=(5, 16, 20, 85, 14), header_pt=36.0, printed=5)
SUMMARY_MIN_TEXT_WIDTH = 64
SUMMARY_MAX_DEADLINE_WIDTH = 48
MIN_TASK_PT = 30.0

# 报送情况: 序号, 单位, 报送状态, 是否逾期, 盖章件, 接收时间, 说明, 报送文件 (file names: not printed).
# 盖章件 holds 内容不一致 and 接收时间 "2023-03-31 20:00" on one line.
STATUS = SheetLayout(widths=(6, 30, 10, 9, 12, 20, 56, 40), header_pt=28.0, printed=7)

# 指标进度: 序号, 实事名称, 指标, 计量单位, 年度目标, 累计完成, 完成比例, 本季度应达, 进度状态, 判断依据, 报数单位;
# then the bar chart of 完成比例 on a page of its own, sitting on rows CHART_ROW_PT tall.
INDICATORS = SheetLayout(widths=(5, 14, 18, 6, 9, 9, 8, 9, 8, 32, 30), header_pt=28.0, printed=11)
CHART_ROW_PT = 20.0
CHART_WIDTH_SHARE = 0.97            # the chart's width, of the table's (in the narrowest renderer)
CHART_MIN_CM = 8.0                  # the chart's height: at least this,
CHART_BAR_CM = 0.6                  # plus this per indicator
CHART_FRAME_CM = 3.0                # plus title and axis; at most what is left of its page

# The fourth quarter's annual account (report.sheets.year).
# 年度总结: 项目, 内容 — one page the leaders read first.
YEAR_SUMMARY = SheetLayout(widths=(22, 118), header_pt=28.0, printed=2)
# a unit's words quoted for a task not complete: (most units quoted, characters of each), the
# most that keeps the page one page; the whole words are in 年度
YEAR_SUMMARY_MIN_SCALE = 75        # below this the page is too small to read: quote less
YEAR_SUMMARY_WORDS = ((8, 60), (4, 40), (3, 24), (2, 16), (1, 12), (0, 0))
# 年度: 序号, 实事名称, 责任单位, then one column per quarter of the year.
YEAR_TASKS = SheetLayout(widths=(5, 12, 14, 36, 36, 36, 36), header_pt=28.0, printed=7)
# 年度指标: 序号, 实事名称, 指标, 计量单位, 年度目标, 判断方式, 第1-4季度, 年度结果, 结论, 说明; then
# the target repeated per quarter (the charts' target line; not printed), and two trend charts
# side by side per band of chart rows.
YEAR_INDICATORS = SheetLayout(widths=(5, 14, 18, 6, 9, 9, 8, 8, 8, 8, 9, 8, 30, 8, 8, 8, 8),
                              header_pt=28.0, printed=13)
YEAR_CHART_CM = 7.0                 # one trend chart's height

# 明细: 季度, 序号, 实事名称, 单位, 进度情况, 完成时限, 来源文件, SHA-256, 来源位置, 分段; for analysis, never printed.
DETAILS = SheetLayout(widths=(9, 6, 24, 24, 70, 12, 28, 20, 12, 7), header_pt=28.0, printed=0)
DETAILS_PRINT_AREA = "L1"           # one empty cell: the print area of a sheet that must not print


# --- heights and pages ----------------------------------------------------------------
def row_height(cells: list[tuple[str, float]], minimum: float = MIN_ROW_PT) -> float:
    """Height (pt) a row needs for its wrapped cells ``[(text, width_units), ...]``."""
    lines = max((line_count(t, w) for t, w in cells if t), default=1)
    return min(max(minimum, height_for_lines(lines)), MAX_ROW_PT)


def text_height(text: str, width_units: float, size_pt: float = BODY_PT, minimum: float = MIN_ROW_PT) -> float:
    """Height (pt) a wrapped cell of ``size_pt`` text needs (a title, a note in another size)."""
    lines = line_count(text, width_at_body_size(width_units, size_pt))
    return min(max(minimum, height_for_lines(lines, size_pt)), MAX_ROW_PT)


def page_scale(width_units: float) -> int:
    """Print scale (percent) at which a table ``width_units`` wide fits A4 landscape everywhere."""
    printable = A4_LANDSCAPE_MM[0] - 2 * MARGIN_SIDE_IN * 25.4
    widest = width_units * UNIT_MM_WIDEST + 2.0
    return max(10, min(100, math.floor(100 * printable / widest) - 1))


def page_body_pt(scale: int) -> float:
    """Height of a page's printable body in sheet points at ``scale`` (with a safety margin)."""
    body_mm = A4_LANDSCAPE_MM[1] - (MARGIN_TOP_IN + MARGIN_BOTTOM_IN) * 25.4
    return body_mm / MM_PER_PT * 100 / scale * PAGE_SAFETY


@dataclass
class Pages:
    """How full the current page is, as rows are laid out top to bottom.

    ``body`` is what a page holds (``page_body_pt``), ``repeated`` the height of the title
    rows printed on top of every page, ``first`` the height of what precedes the table on
    page 1 (title lines and header).
    """

    body: float
    repeated: float
    first: float
    used: float = 0.0

    def __post_init__(self) -> None:
        self.used = self.first

    @property
    def capacity(self) -> float:
        """What a fresh page holds below the repeated title rows."""
        return self.body - self.repeated

    @property
    def left(self) -> float:
        return self.body - self.used

    @property
    def at_top(self) -> bool:
        """Nothing placed yet on the current page (below its title rows)."""
        return self.used in (self.first, self.repeated)

    def fits(self, height: float) -> bool:
        return height <= self.left

    def new_page(self) -> None:
        self.used = self.repeated

    def add(self, height: float) -> None:
        self.used += height
