"""指标进度: every numeric target with the reported value, % of target, what the quarter asks for,
status and the rule it was judged by (判断依据); the bar chart of % of target prints on a
page of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from wcreport.core.labels import INDICATOR_STATUS_ZH
from wcreport.core.programme import Programme
from wcreport.core.templating import date_zh
from wcreport.report.consolidate import Consolidated
from wcreport.report.layout import (
    CHART_BAR_CM,
    CHART_FRAME_CM,
    CHART_MIN_CM,
    CHART_ROW_PT,
    CHART_WIDTH_SHARE,
    INDICATORS,
    Pages,
    page_body_pt,
    page_scale,
    row_height,
)
from wcreport.report.measure import UNIT_MM
from wcreport.report.sheets.common import header_row, print_setup, set_widths, title_lines
from wcreport.report.styles import CENTER, HEADER, NUMBER, PERCENT, TEXT_MID, WARN, CellStyle, cell

SHEET = "指标进度"
HEADERS = ["序号", "实事名称", "指标", "计量单位", "年度目标", "累计完成",
           "完成比例", "本季度应达", "进度状态", "判断依据", "报数单位"]
# the chart's data, right of the print area: the table's own columns hold repeated headers
CHART_DATA_HEADERS = ("图表数据：指标", "完成比例")
CHART_DATA_WIDTHS = (18.0, 10.0)
MAX_LISTED = 10             # longer lists of units are cut to this many names and a count


def unit_list(names: list[str]) -> str:
    """Names joined with 、; a long list is cut to its first names and the count."""
    if len(names) <= MAX_LISTED:
        return "、".join(names)
    return "、".join(names[:MAX_LISTED]) + f"等{len(names)}个单位"


def expected_text(ind) -> str:
    """本季度应达 as a reader wants it: an amount, or why nothing is asked yet."""
    if ind.expected_value is None:
        return "年底判断"
    if ind.expected_value <= 0:
        return "不作要求"
    return f"{ind.expected_value:g}{ind.measure}"


def grouped_names(programme: Programme, names: list[str]) -> list[str]:
    """Unit names as the notice's form writes them: all area units together as its label."""
    area = programme.area_group
    if not area:
        return names
    members = {programme.units_by_key[k].name for k in area.units}
    if not members <= set(names):
        return names
    return [n for n in names if n not in members] + [area.label]


@dataclass(frozen=True)
class Printed:
    """One printed cell of an indicator's row: its value and style."""

    value: str | float | int | None
    style: CellStyle


def _indicator_row(ind, programme: Programme) -> list[Printed]:
    """The indicator's cells in the order of ``HEADERS``."""
    reporters = unit_list(grouped_names(programme, ind.reported_by)) if ind.reported_by else "（无）"
    return [Printed(ind.task_seq, CENTER), Printed(ind.task_name, TEXT_MID), Printed(ind.name, TEXT_MID),
            Printed(ind.measure, CENTER), Printed(ind.target, NUMBER), Printed(ind.value, NUMBER),
            Printed(None if ind.percent is None else ind.percent / 100, PERCENT),
            Printed(expected_text(ind), CENTER),
            Printed(INDICATOR_STATUS_ZH[ind.status], CENTER if ind.on_track else WARN),
            Printed(ind.basis, TEXT_MID), Printed(reporters, TEXT_MID)]


def _height(row: list[Printed], widths: tuple[float, ...]) -> float:
    """Every text cell measured (计量单位 and 进度状态 are narrow and wrap too); numbers do not wrap."""
    return row_height([(p.value, w) for p, w in zip(row, widths) if isinstance(p.value, str)])


def write_indicators(wb: Workbook, c: Consolidated, programme: Programme) -> None:
    ws = wb.create_sheet(SHEET)
    widths = INDICATORS.widths
    set_widths(ws, widths + CHART_DATA_WIDTHS)
    scale = page_scale(sum(widths))
    ws.freeze_panes = "A4"
    at_risk = len(c.indicators_at_risk)
    titles = title_lines(ws, f"{c.title}——指标进度",
                         f"共{len(c.indicators)}项量化指标，进度滞后或未报数{at_risk}项；各指标的衡量方法见“判断依据”列"
                         if c.indicators else "本年度无量化指标",
                         f"填报日期：{date_zh(c.report_date())}", len(HEADERS))
    header = header_row(ws, [*HEADERS, *CHART_DATA_HEADERS], [*widths, *CHART_DATA_WIDTHS], 3,
                        INDICATORS.header_pt)
    printed = get_column_letter(INDICATORS.printed)
    if not c.indicators:
        print_setup(ws, None, scale, f"A1:{printed}3")
        return
    last = _table(ws, c, programme, Pages(page_body_pt(scale), repeated=header, first=titles + header))
    # the chart prints on a page of its own: a manual break after the table, then rows of a
    # known height for the chart to sit on, no taller than a page holds
    room = page_body_pt(scale) - 2 * CHART_ROW_PT
    chart = percent_chart(ws, c, room)
    rows = math.ceil(chart.height * 72 / 2.54 / CHART_ROW_PT) + 1
    ws.row_breaks.append(Break(id=last))
    for r in range(last + 1, last + 1 + rows):
        ws.row_dimensions[r].height = CHART_ROW_PT
        ws.append([])
    ws.add_chart(chart, f"A{last + 1}")
    # no print titles: they would repeat the table's header above the chart; the table
    # repeats its header itself, at the top of each of its pages (``_table``)
    print_setup(ws, None, scale, f"A1:{printed}{last + rows}")


def _table(ws, c: Consolidated, programme: Programme, pages: Pages) -> int:
    """The indicators' rows from row 4, a page break and the header again where a page is full;
    beside them, right of the print area, the chart's data (one contiguous range). Returns the
    last row written."""
    widths = INDICATORS.widths
    row, data = 4, _chart_data(ws, c)
    for ind in c.indicators:
        cells = _indicator_row(ind, programme)
        height = _height(cells, widths)
        if not pages.fits(height) and not pages.at_top:
            ws.row_breaks.append(Break(id=row - 1))
            pages.new_page()
            ws.row_dimensions[row].height = ws.row_dimensions[3].height
            ws.append([cell(ws, h, HEADER) for h in HEADERS] + data.pop(0))
            row += 1
        ws.row_dimensions[row].height = height
        ws.append([cell(ws, p.value, p.style) for p in cells] + data.pop(0))
        pages.add(height)
        row += 1
    return row - 1


def _chart_data(ws, c: Consolidated) -> list[list]:
    """Row by row from row 4: an indicator's name and 完成比例, then nothing (the table is
    longer than the data by its repeated headers)."""
    data = [[cell(ws, ind.name, TEXT_MID), cell(ws, None if ind.percent is None else ind.percent / 100, PERCENT)]
            for ind in c.indicators]
    return data + [[] for _ in range(len(c.indicators))]


def percent_chart(ws, c: Consolidated, room_pt: float) -> BarChart:
    """The bar chart of 完成比例, first indicator on top, as wide as the table and at most ``room_pt`` tall."""
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "各指标完成年度目标比例"
    first, last = len(HEADERS) + 1, 3 + len(c.indicators)
    chart.add_data(Reference(ws, min_col=first + 1, min_row=3, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=first, min_row=4, max_row=last))
    chart.legend = None
    chart.x_axis.scaling.orientation = "maxMin"     # first indicator on top, as in the table
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.majorGridlines = None
    # value only: LibreOffice shows category and series name too unless told not to
    chart.dataLabels = DataLabelList(showVal=True, showCatName=False, showSerName=False,
                                     showLegendKey=False, showPercent=False)
    chart.gapWidth = 60
    chart.width = round(sum(INDICATORS.widths) * UNIT_MM / 10 * CHART_WIDTH_SHARE, 1)
    chart.height = round(min(max(CHART_MIN_CM, CHART_BAR_CM * len(c.indicators) + CHART_FRAME_CM),
                             room_pt * 2.54 / 72), 1)
    return chart
