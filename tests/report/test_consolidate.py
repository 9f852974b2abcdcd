"""Consolidation: per-task texts, missing units, indicators, and a stable content hash."""
from __future__ import annotations

import pytest

from report.sample import make_case, programme
from wcreport.core.model import IndicatorValue
from wcreport.core.quarter import Quarter
from wcreport.report.consolidate import consolidate, report_title


@pytest.fixture(scope="module")
def prog():
    return programme()


def test_tasks_follow_the_notice_form(prog):
    results, manifest = make_case(prog)
    c = consolidate(prog, "2023Q1", results, manifest)
    assert [t.seq for t in c.tasks] == list(range(1, 11))
    t2 = c.tasks[1]
    assert t2.units_label == ["组织人事部", "建设局", "卫生健康事业中心", "市住房公积金管理中心高新区分中心",
                              "各街道、镇、中心"]
    # texts in the task's unit order, missing units named
    assert [e.unit for e in t2.entries] == ["org_personnel", "construction", "health", "sibaoshan",
                                            "baoshan_park", "zhongbu", "equipment_park"]
    assert t2.missing_units == ["市住房公积金管理中心高新区分中心"]
    t8 = c.tasks[7]
    assert t8.rejected_units == ["民政和文旅事业中心"] and t8.missing_units == ["民政和文旅事业中心"]
    assert c.submitted_units == 12 and c.expected_units == 15
    assert [u.unit for u in c.units] == [u.key for u in prog.units]
    assert c.title == "2023年第1季度为高新区妇女儿童办实事工作进展情况报表"
    assert report_title(prog, Quarter(2023, 4)).startswith("2023年第4季度为")


def test_details_carry_source_and_hash(prog):
    results, manifest = make_case(prog)
    c = consolidate(prog, "2023Q1", results, manifest)
    assert len(c.details) == sum(len(t.entries) for t in c.tasks)
    d = c.details[0]
    unit = next(u for u in manifest.units if u.unit == d.unit)
    assert (d.quarter, d.seq, d.source_file, d.sha256) == ("2023Q1", 1, unit.accepted_file,
                                                            unit.accepted_sha256)
    assert d.sheet == "Sheet1" and d.row == 4


def test_rows_for_one_task_are_joined_and_blank_rows_make_a_silent_unit(prog):
    results, manifest = make_case(prog, texts={("health", 4): "", ("edu_sports", 1): "第一段"})
    edu = next(r for r in results if r.unit == "edu_sports")
    extra = edu.rows[0].model_copy(update={"progress": "第二段", "row": 20})
    edu.rows.append(extra)
    c = consolidate(prog, "2023Q1", results, manifest)
    t1 = c.tasks[0]
    assert t1.entries[0].text == "第一段\n第二段"
    assert "卫生健康事业中心" in c.tasks[3].silent_units


def test_indicator_aggregation_and_pace(prog):
    results, manifest = make_case(prog, indicators={
        "edu_sports": {"school_places": 300},
        "sibaoshan": {"school_places": 200, "screening_rate": 99},   # not a reporter of the rate
        "health": {"screening_rate": 80, "childcare_places_per_1000": 3.8},
    })
    c = consolidate(prog, "2023Q1", results, manifest)
    ind = {i.key: i for i in c.indicators}
    assert ind["school_places"].value == 500 and ind["school_places"].aggregate == "sum"
    assert ind["school_places"].percent == pytest.approx(22.7)
    assert ind["school_places"].status == "in_progress"       # places open at year end (pace: year_end)
    assert ind["screening_rate"].value == 80 and ind["screening_rate"].reported_by == ["卫生健康事业中心"]
    assert ind["childcare_places_per_1000"].status == "done"
    assert ind["new_schools"].status == "no_data" and ind["new_schools"].on_track is None
    assert len(c.indicators) == sum(len(t.indicators) for t in prog.tasks)
    assert all(i.basis for i in c.indicators)

    # a linear target: behind in Q1 below 25 %; a rate: judged after Q4 only
    results, manifest = make_case(prog, "2023Q1", indicators={"sibaoshan": {"free_screenings": 2000}})
    screenings = next(i for i in consolidate(prog, "2023Q1", results, manifest).indicators
                      if i.key == "free_screenings")
    assert screenings.expected_percent == 25 and screenings.status == "at_risk"
    results, manifest = make_case(prog, "2023Q4", indicators={"health": {"screening_rate": 80}})
    rate = next(i for i in consolidate(prog, "2023Q4", results, manifest).indicators if i.key == "screening_rate")
    assert rate.expected_percent == 100 and rate.status == "at_risk"


def test_two_values_for_one_indicator_warn_and_take_the_larger(prog):
    results, manifest = make_case(prog, indicators={"health": {"fitness_monitoring": 60}})
    health = next(r for r in results if r.unit == "health")
    health.indicators.append(IndicatorValue(key="fitness_monitoring", name="x", raw="80", value=80,
                                            sheet="Sheet1", cell="F9"))
    c = consolidate(prog, "2023Q1", results, manifest)
    assert next(i for i in c.indicators if i.key == "fitness_monitoring").value == 80
    assert any("多个不同的数值" in w for w in c.warnings)


def test_unit_missing_from_manifest_counts_as_missing(prog):
    results, manifest = make_case(prog)
    manifest.units = [u for u in manifest.units if u.unit != "publicity"]
    results = [r for r in results if r.unit != "publicity"]
    c = consolidate(prog, "2023Q1", results, manifest)
    assert next(u for u in c.units if u.unit == "publicity").status == "missing"
    assert any("宣传新闻中心" in w for w in c.warnings)


def test_content_hash_is_stable_over_reruns_and_ignores_times_and_paths(prog):
    r1, m1 = make_case(prog)
    r2, m2 = make_case(prog)
    for unit in m2.units:
        unit.received_at = "2023-04-01T09:00:00+08:00"
        unit.feedback = "feedback/x.xlsx"
    a = consolidate(prog, "2023Q1", r1, m1)
    b = consolidate(prog, "2023Q1", r2, m2)
    b.generated_at = "2030-01-01T00:00:00+00:00"
    assert a.content_hash() == b.content_hash()
    assert len(a.content_hash()) == 64
    assert a.model_validate_json(a.model_dump_json()).content_hash() == a.content_hash()


@pytest.mark.parametrize("change", [
    dict(texts={("zhongbu", 1): "改了一个字"}),
    dict(version={"zhongbu": 2}),
    dict(missing=("housing_fund",)),
    dict(late=("zhongbu",)),
    dict(indicators={"health": {"screening_rate": 41}}),
])
def test_content_hash_changes_with_content(prog, change):
    base = consolidate(prog, "2023Q1", *make_case(prog))
    other = consolidate(prog, "2023Q1", *make_case(prog, **change))
    assert base.content_hash() != other.content_hash()
