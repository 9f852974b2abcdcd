"""指标进度: every numeric target with the reported value, % of target, what the quarter asks for,
status and the rule it was judged by (判断依据); the bar chart of % of target prints on a
page of its own.
"""
from __future__ import annotations

import math

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
    page_body_pt,
    page_scale,
    row_height,
)
from wcreport.report.measure import UNIT_MM
from wcreport.report.sheets.common import header_row, print_setup, set_widths, title_lines
from wcreport.report.styles import CENTER, NUMBER, PERCENT, TEXT_MID, WARN, cell

SHEET = "指标进度"
HEADERS = ["序号", "实事名称", "指标", "计量单位", "年度目标", "累计完成",
           "完成比例", "本季度应达", "进度状态", "判断依据", "报数单位"]
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


def write_indicators(wb: Workbook, c: Consolidated, programme: Programme) -> None:
    ws = wb.create_sheet(SHEET)
    widths = INDICATORS.widths
    set_widths(ws, widths)
    scale = page_scale(sum(widths))
    ws.freeze_panes = "A4"
    at_risk = len(c.indicators_at_risk)
    title_lines(ws, f"{c.title}——指标进度",
                f"共{len(c.indicators)}项量化指标，进度滞后或未报数{at_risk}项；各指标的衡量方法见“判断依据”列"
                if c.indicators else "本年度无量化指标",
                f"填报日期：{date_zh(c.report_date())}", len(HEADERS))
    header = header_row(ws, HEADERS, widths, 3, INDICATORS.header_pt)
    for i, ind in enumerate(c.indicators, 4):
        reporters = unit_list(grouped_names(programme, ind.reported_by)) if ind.reported_by else "（无）"
        ws.row_dimensions[i].height = row_height(
            [(ind.task_name, widths[1]), (ind.name, widths[2]), (ind.basis, widths[9]), (reporters, widths[10]),
             (expected_text(ind), widths[7])])
        ws.append([
            cell(ws, ind.task_seq, CENTER), cell(ws, ind.task_name, TEXT_MID),
            cell(ws, ind.name, TEXT_MID), cell(ws, ind.measure, CENTER),
            cell(ws, ind.target, NUMBER), cell(ws, ind.value, NUMBER),
            cell(ws, None if ind.percent is None else ind.percent / 100, PERCENT),
            cell(ws, expected_text(ind), CENTER),
            cell(ws, INDICATOR_STATUS_ZH[ind.status], CENTER if ind.on_track else WARN),
            cell(ws, ind.basis, TEXT_MID),
            cell(ws, reporters, TEXT_MID),
        ])
    last = len(c.indicators) + 3
    printed = get_column_letter(INDICATORS.printed)
    if not c.indicators:
        print_setup(ws, "3:3", scale, f"A1:{printed}{last}")
        return
    # the chart prints on a page of its own: a manual break after the table, then rows of a
    # known height for the chart to sit on, no taller than a page holds
    room = page_body_pt(scale) - header - 2 * CHART_ROW_PT
    chart = percent_chart(ws, c, last, room)
    rows = math.ceil(chart.height * 72 / 2.54 / CHART_ROW_PT) + 1
    ws.row_breaks.append(Break(id=last))
    for r in range(last + 1, last + 1 + rows):
        ws.row_dimensions[r].height = CHART_ROW_PT
        ws.append([])
    ws.add_chart(chart, f"A{last + 1}")
    print_setup(ws, "3:3", scale, f"A1:{printed}{last + rows}")


def percent_chart(ws, c: Consolidated, last: int, room_pt: float) -> BarChart:
    """The bar chart of 完成比例, first indicator on top, as wide as the table and at most ``room_pt`` tall."""
    chart = BarChart()
    chart.type = "bar"
    chart.style = 10
    chart.title = "各指标完成年度目标比例"
    chart.add_data(Reference(ws, min_col=7, min_row=3, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=3, min_row=4, max_row=last))
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
