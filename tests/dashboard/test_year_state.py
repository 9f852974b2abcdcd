"""The 年度 section of the 季度报送 page, from the year.json a fourth quarter's merge wrote."""
from __future__ import annotations

import re

from wcreport.report.year import (
    QuarterSource,
    ReportingGap,
    YearAccount,
    YearIndicator,
    YearTask,
)


def account() -> YearAccount:
    sources = [QuarterSource(quarter=f"2023Q{q}", label=f"第{q}季度", state="ok") for q in (1, 2, 4)]
    sources.insert(2, QuarterSource(quarter="2023Q3", label="第3季度", state="missing",
                                    problem="第3季度的输出文件夹不存在（未运行或已被删除）"))
    return YearAccount(
        year=2023, through="2023Q4", title="2023年度总结", sources=sources,
        tasks=[YearTask(seq=1, name="两癌筛查", rows=[], verdict="done"),
               YearTask(seq=2, name="儿童友好<script>x</script>", rows=[], verdict="not_done",
                        why=["筛查率 80% 未达目标 90%"]),
               YearTask(seq=3, name="家庭教育", rows=[], verdict="unknown", why=["无指标"])],
        indicators=[YearIndicator(key="screening_rate", task_seq=1, task_name="两癌筛查", name="筛查率",
                                  measure="%", target=90, comparison=">=", pace="linear", rule="point",
                                  values=[30, 50, None, 80], year_value=80, verdict="not_done")],
        gaps=[ReportingGap(quarter="2023Q2", label="第2季度", unit="health", unit_name="卫健中心", kind="late")])


def section(html: str) -> str:
    found = re.search(r'<section id="year-state">.*?</section>', html, re.S)
    assert found, "no 年度 section"
    return found.group(0)


def test_a_fourth_quarter_shows_the_year_as_its_workbook_does(signed_in, output_root):
    (output_root / "2023Q1" / "year.json").write_text(account().model_dump_json(), encoding="utf-8")
    part = section(signed_in.get("/?quarter=2023Q1").text)
    counts = dict(re.findall(r'data-verdict="([^"]+)">\1 (\d+) 项', part))
    assert counts == {"已完成": "1", "未完成": "1", "无法判断": "1"}
    verdicts = dict(re.findall(r'<tr data-seq="(\d+)" data-verdict="([a-z_]+)"', part))
    assert verdicts == {"1": "done", "2": "not_done", "3": "unknown"}
    indicator = re.search(r'<table class="mail" id="year-indicators">.*?</table>', part, re.S).group(0)
    cells = re.findall(r"<td>([^<]*)</td>", indicator)
    assert cells == ["筛查率", "30", "50", "—", "80", "80", "90%", "时点", "未完成"]
    assert "第3季度：第3季度的输出文件夹不存在" in part             # a lost quarter is named
    assert "第2季度 · 卫健中心 · 逾期报送" in part
    assert "<script>x</script>" not in part and "&lt;script&gt;" in part


def test_other_quarters_have_no_year_section_and_a_damaged_file_is_said(signed_in, output_root):
    page = signed_in.get("/?quarter=2023Q1")
    assert page.status_code == 200 and 'id="year-state"' not in page.text
    (output_root / "2023Q1" / "year.json").write_text("{not json", encoding="utf-8")
    page = signed_in.get("/?quarter=2023Q1")
    assert page.status_code == 200 and "年度汇总（year.json）无法读取" in section(page.text)
