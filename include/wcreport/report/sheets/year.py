"""The annual account in the fourth quarter's workbook (model: ``report.year``).

* 年度总结  one page the leaders read first: tasks complete and not (why, in the units' own
            words), late and missing reports over the year, quarters whose output could not
            be read, words corrected after their quarter's mail, a changed programme file
* 年度      per task and responsible unit, the quarters side by side (the words last accepted)
* 年度指标  per indicator the quarterly values, the year's result, the target and 已完成 /
            未完成 / 无法判断, then a trend chart per indicator, on pages of their own
"""
from __future__ import annotations

import datetime as dt
import math

from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from wcreport.core.labels import YEAR_CELL_ZH, YEAR_RULE_ZH, YEAR_VERDICT_ZH
from wcreport.core.templating import date_zh
from wcreport.report.layout import (
    CHART_ROW_PT,
    MAX_ROW_LINES,
    YEAR_CHART_CM,
    YEAR_INDICATORS,
    YEAR_SUMMARY,
    YEAR_SUMMARY_MIN_SCALE,
    YEAR_SUMMARY_WORDS,
    YEAR_TASKS,
    Pages,
    page_body_pt,
    page_scale,
    row_height,
)
from wcreport.report.measure import UNIT_MM, height_for_lines, line_count
from wcreport.report.safe_cells import clean_text
from wcreport.report.sheets.common import header_row, print_setup, set_widths, title_lines
from wcreport.report.styles import CENTER, HEADER, NUMBER, TEXT, TEXT_MID, WARN, cell
from wcreport.report.text_flow import TextFlow
from wcreport.report.year import YearAccount, YearCell, YearIndicator, YearTask

SUMMARY_SHEET = "年度总结"
TASKS_SHEET = "年度"
INDICATORS_SHEET = "年度指标"
SHEETS = (SUMMARY_SHEET, TASKS_SHEET, INDICATORS_SHEET)
CONTINUED = "（续）"


def write_year(wb: Workbook, account: YearAccount, report_date: dt.date) -> None:
    """The three sheets, in the order the leaders read them."""
    report_day = date_zh(report_date)
    write_year_summary(wb, account, report_day)
    write_year_tasks(wb, account, report_day)
    write_year_indicators(wb, account, report_day)


# --- 年度总结 ---------------------------------------------------------------------------------
def summary_lines(account: YearAccount, quoted: tuple[int, int]) -> list[tuple[str, str]]:
    """(项目, 内容) rows of the summary page; ``quoted``: how many units' words, cut to how many characters."""
    done, not_done = account.tasks_with("done"), account.tasks_with("not_done")
    unknown = account.tasks_with("unknown") + account.tasks_with("in_progress")
    lines = [("实事完成情况", f"{len(account.tasks)}项实事中，已完成{len(done)}项，未完成{len(not_done)}项，"
                            f"无法判断{len(unknown)}项（某项的全部量化指标达到年度目标即为已完成，详见“年度指标”表）")]
    for task in not_done + unknown:
        label = f"第{task.seq}项（{YEAR_VERDICT_ZH[task.verdict]}）"
        lines.append((label, f"{task.name}：" + "；".join(task.why) + _words(task, *quoted)))
    lines.append(("报送情况", _gaps_text(account)))
    for source in account.unavailable:
        lines.append((f"{source.label}数据缺失",
                      f"{source.problem}；该季度各单位内容无法列出（不按未报送计），请恢复该季度输出后重新生成"))
    if account.corrections or account.ledger_problem:
        lines.append(("报送后更正", "；".join([*account.corrections, *filter(None, [account.ledger_problem])])))
    if account.programme_changes:
        lines.append(("实事文件变更", "；".join(account.programme_changes)))
    return lines


def _words(task, units: int, limit: int) -> str:
    if not task.words:
        return ""
    if units == 0:
        return "。单位说明见“年度”表"
    quoted = "；".join(f"【{w.unit_name}】{_cut(w.text, limit)}" for w in task.words[:units])
    more = f"等{len(task.words)}个单位（全文见“年度”表）" if len(task.words) > units else ""
    return f"。单位说明：{quoted}{more}"


def _cut(text: str, limit: int) -> str:
    text = clean_text(text).text.replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "……"


def _gaps_text(account: YearAccount) -> str:
    parts = []
    for kind, label in (("late", "逾期报送"), ("missing", "未报送"), ("rejected", "报表被退回")):
        gaps = [g for g in account.gaps if g.kind == kind]
        if gaps:
            parts.append(f"{label}{len(gaps)}次：" + "、".join(f"{g.unit_name}（{g.label}）" for g in gaps))
    return "；".join(parts) if parts else "全年各单位均按时报送"


def write_year_summary(wb: Workbook, account: YearAccount, report_day: str) -> None:
    ws = wb.create_sheet(SUMMARY_SHEET)
    widths = YEAR_SUMMARY.widths
    set_widths(ws, widths)
    title_lines(ws, f"{account.title}——年度总结", f"截至{_through_label(account)}",
                f"填报日期：{report_day}", len(widths))
    header = header_row(ws, ["项目", "内容"], widths, 3, YEAR_SUMMARY.header_pt)
    above = ws.row_dimensions[1].height + ws.row_dimensions[2].height + header
    for quoted in YEAR_SUMMARY_WORDS:    # the most of the units' words that prints legibly on one page
        lines = summary_lines(account, quoted)
        heights = [row_height([(a, widths[0]), (b, widths[1])]) for a, b in lines]
        scale = one_page_scale(sum(widths), above + sum(heights))
        if scale >= YEAR_SUMMARY_MIN_SCALE:
            break
    for row, ((label, text), height) in enumerate(zip(lines, heights), 4):
        ws.row_dimensions[row].height = height
        ws.append([cell(ws, label, WARN if "未完成" in label or "缺失" in label else TEXT_MID),
                   cell(ws, text, TEXT_MID)])
    print_setup(ws, None, scale, f"A1:B{len(lines) + 3}")


def one_page_scale(width_units: float, height_pt: float) -> int:
    """The largest print scale at which a table this wide and tall is one page."""
    scale = page_scale(width_units)
    # a page holds page_body_pt(scale) * scale / s sheet points at scale s
    return max(10, min(scale, math.floor(scale * page_body_pt(scale) / height_pt)))


def _through_label(account: YearAccount) -> str:
    number = int(account.through[-1])
    return f"{account.year}年全年" if number == 4 else f"{account.year}年第{number}季度末"


# --- 年度 -----------------------------------------------------------------------------------
def cell_text(c: YearCell) -> str:
    """What a task/unit/quarter cell shows: the accepted words, then its notes."""
    body = clean_text(c.text).text if c.state == "submitted" else YEAR_CELL_ZH[c.state]
    notes = "".join(f"（{n}）" for n in c.notes)
    return f"{body}\n{notes}" if notes else body


def unit_rows(row, widths: list[float]) -> list[tuple[list[str], float]]:
    """One unit's row of a task, cut into sheet rows of at most MAX_ROW_LINES lines each."""
    columns = [TextFlow([cell_text(c)], w).rows(MAX_ROW_LINES) for c, w in zip(row.cells, widths[3:])]
    out = []
    for k in range(max(len(col) for col in columns)):
        texts = [col[k][0] if k < len(col) else "" for col in columns]
        lines = max(col[k][1] if k < len(col) else 1 for col in columns)
        name = row.unit_name if k == 0 else f"{row.unit_name}{CONTINUED}"
        out.append((texts, max(height_for_lines(lines), height_for_lines(line_count(name, widths[2])))))
    return out


def write_year_tasks(wb: Workbook, account: YearAccount, report_day: str) -> None:
    ws = wb.create_sheet(TASKS_SHEET)
    widths = list(YEAR_TASKS.widths[:3]) + [YEAR_TASKS.widths[3]] * len(account.sources)
    set_widths(ws, widths)
    scale = page_scale(sum(widths))
    ws.freeze_panes = "D4"
    title_lines(ws, f"{account.title}——年度进展（各季度已接收内容）",
                "各单元格为该单位该季度最后一次通过审核的报送内容", f"填报日期：{report_day}", len(widths))
    headers = ["序号", "实事名称", "责任单位", *(f"{s.label}" for s in account.sources)]
    header = header_row(ws, headers, widths, 3, YEAR_TASKS.header_pt)
    pages = Pages(page_body_pt(scale), repeated=header,
                  first=ws.row_dimensions[1].height + ws.row_dimensions[2].height + header)
    row = 4
    for task in account.tasks:
        row = _write_task(ws, task, widths, pages, row)
    print_setup(ws, "3:3", scale, f"A1:{get_column_letter(len(widths))}{row - 1}")


def _write_task(ws, task: YearTask, widths: list[float], pages: Pages, row: int) -> int:
    parts = [(r.unit_name if k == 0 else f"{r.unit_name}{CONTINUED}", texts, h)
             for r in task.rows for k, (texts, h) in enumerate(unit_rows(r, widths))]
    first_pt = height_for_lines(line_count(task.name, widths[1]))
    continued_pt = height_for_lines(line_count(f"{task.name}{CONTINUED}", widths[1]))
    parts[0] = (parts[0][0], parts[0][1], max(parts[0][2], first_pt))
    total = sum(h for _, _, h in parts)
    # a block that fits a page starts on a fresh one (on page 1 too, below the title) rather than cross
    if not pages.fits(total) and (total <= pages.capacity or not pages.fits(parts[0][2])):
        ws.row_breaks.append(Break(id=row - 1))
        pages.new_page()
    for k, (unit, texts, height) in enumerate(parts):
        opens_page = k > 0 and not pages.fits(height)
        if opens_page:     # a page that starts inside the block starts with its name
            ws.row_breaks.append(Break(id=row - 1))
            pages.new_page()
            height = max(height, continued_pt)
        name = task.name if k == 0 else f"{task.name}{CONTINUED}" if opens_page else None
        ws.row_dimensions[row].height = round(height, 1)
        ws.append([cell(ws, task.seq, CENTER), cell(ws, name, TEXT_MID), cell(ws, unit, TEXT_MID),
                   *(cell(ws, t, TEXT) for t in texts)])
        pages.add(height)
        row += 1
    return row


# --- 年度指标 ---------------------------------------------------------------------------------
INDICATOR_HEADERS = ["序号", "实事名称", "指标", "计量单位", "年度目标", "判断方式",
                     "第1季度", "第2季度", "第3季度", "第4季度", "年度结果", "结论", "说明"]
TARGET_HEADERS = ["目标1", "目标2", "目标3", "目标4"]
FIRST_VALUE_COL = 7


def write_year_indicators(wb: Workbook, account: YearAccount, report_day: str) -> None:
    ws = wb.create_sheet(INDICATORS_SHEET)
    widths = YEAR_INDICATORS.widths
    set_widths(ws, widths)
    printed = YEAR_INDICATORS.printed
    scale = page_scale(sum(widths[:printed]))
    ws.freeze_panes = "A4"
    counts = {v: sum(1 for i in account.indicators if i.verdict == v) for v in YEAR_VERDICT_ZH}
    left = (f"共{len(account.indicators)}项量化指标：已完成{counts['done']}项，未完成{counts['not_done']}项，"
            f"无法判断{counts['unknown']}项；累计指标取最近一次报送的累计数，时点指标取末季度数值")
    titles = title_lines(ws, f"{account.title}——年度指标", left, f"填报日期：{report_day}", printed)
    header = header_row(ws, INDICATOR_HEADERS + TARGET_HEADERS, widths, 3, YEAR_INDICATORS.header_pt)
    area = get_column_letter(printed)
    if not account.indicators:
        print_setup(ws, "3:3", scale, f"A1:{area}3")
        return
    rows = _indicator_table(ws, account, Pages(page_body_pt(scale), repeated=header, first=titles + header))
    last = _charts(ws, account, rows, page_body_pt(scale) - header, sum(widths[:printed]))
    # no print titles: they would repeat the table's header above the charts; the table
    # repeats its header itself, at the top of each of its pages (``_indicator_table``)
    print_setup(ws, None, scale, f"A1:{area}{last}")


def _indicator_table(ws, account: YearAccount, pages: Pages) -> list[int]:
    """The indicators' rows from row 4, a page break and the header again where a page is full;
    each indicator's row (its chart's data)."""
    widths = YEAR_INDICATORS.widths
    rows, r = [], 4
    for ind in account.indicators:
        height = _indicator_height(ind, widths)
        if not pages.fits(height) and not pages.at_top:
            ws.row_breaks.append(Break(id=r - 1))
            pages.new_page()
            ws.row_dimensions[r].height = ws.row_dimensions[3].height
            ws.append([cell(ws, h, HEADER) for h in INDICATOR_HEADERS + TARGET_HEADERS])
            r += 1
        _indicator_row(ws, ind, r, height)
        pages.add(height)
        rows.append(r)
        r += 1
    return rows


def _indicator_height(ind: YearIndicator, widths) -> float:
    return row_height([(ind.task_name, widths[1]), (ind.name, widths[2]), (ind.basis, widths[12])])


def _indicator_row(ws, ind: YearIndicator, r: int, height: float) -> None:
    values = (ind.values + [None] * 4)[:4]
    ws.row_dimensions[r].height = height
    verdict_style = CENTER if ind.verdict == "done" else WARN
    ws.append([cell(ws, ind.task_seq, CENTER), cell(ws, ind.task_name, TEXT_MID), cell(ws, ind.name, TEXT_MID),
               cell(ws, ind.measure, CENTER), cell(ws, ind.target, NUMBER), cell(ws, YEAR_RULE_ZH[ind.rule], CENTER),
               *(cell(ws, v, NUMBER) for v in values), cell(ws, ind.year_value, NUMBER),
               cell(ws, YEAR_VERDICT_ZH[ind.verdict], verdict_style), cell(ws, ind.basis, TEXT_MID),
               *(cell(ws, ind.target, NUMBER) for _ in range(4))])


def _charts(ws, account: YearAccount, data_rows: list[int], room_pt: float, table_units: float) -> int:
    """Two trend charts per band, as many bands as a page holds, each page after a break; the last row.
    ``data_rows``: each indicator's row in the table (its chart's values and target)."""
    band_rows = math.ceil(YEAR_CHART_CM / 2.54 * 72 / CHART_ROW_PT) + 1
    bands_per_page = max(1, int(room_pt // (band_rows * CHART_ROW_PT)))
    half = _half_column(table_units)
    row = data_rows[-1]
    for k, ind in enumerate(account.indicators):
        band = k // 2
        if k % 2 == 0:
            if band % bands_per_page == 0:
                ws.row_breaks.append(Break(id=row))
            for r in range(row + 1, row + 1 + band_rows):
                ws.row_dimensions[r].height = CHART_ROW_PT
                ws.append([])
            top = row + 1
            row += band_rows
        chart = trend_chart(ws, ind, data_rows[k], table_units / 2 * UNIT_MM / 10 * 0.95)
        ws.add_chart(chart, f"{'A' if k % 2 == 0 else half}{top}")
    return row


def _half_column(table_units: float) -> str:
    total = 0.0
    for i, w in enumerate(YEAR_INDICATORS.widths, 1):
        if total >= table_units / 2:
            return get_column_letter(i)
        total += w
    return "A"


def trend_chart(ws, ind: YearIndicator, row: int, width_cm: float) -> LineChart:
    """The indicator's quarterly values against its target."""
    chart = LineChart()
    chart.title = f"{ind.task_seq}. {ind.name}（{ind.measure}）"
    values = Reference(ws, min_col=FIRST_VALUE_COL, max_col=FIRST_VALUE_COL + 3, min_row=row)
    target = Reference(ws, min_col=YEAR_INDICATORS.printed + 1, max_col=YEAR_INDICATORS.printed + 4, min_row=row)
    chart.add_data(values, from_rows=True, titles_from_data=False)
    chart.add_data(target, from_rows=True, titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=FIRST_VALUE_COL, max_col=FIRST_VALUE_COL + 3, min_row=3))
    chart.series[0].tx = SeriesLabel(v="季度数值")
    chart.series[1].tx = SeriesLabel(v=f"年度目标{ind.target:g}")
    chart.series[1].graphicalProperties.line.dashStyle = "dash"
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.y_axis.scaling.min = 0
    chart.legend.position = "b"
    chart.width = round(width_cm, 1)
    chart.height = YEAR_CHART_CM
    return chart
