"""How each indicator is judged: the programme says the rule, the report states it (判断依据)."""
from __future__ import annotations

import openpyxl
import pytest
from pydantic import ValidationError

from report.sample import make_case, programme
from wcreport.core.programme import Indicator
from wcreport.report.consolidate import consolidate
from wcreport.report.pace import expectation, verdict
from wcreport.report.sheets.indicators import HEADERS as INDICATOR_HEADERS
from wcreport.report.workbook import write_report


def indicator(**fields) -> Indicator:
    return Indicator(**{"key": "x", "name": "测试指标", "target": 100, "measure": "人", **fields})


@pytest.fixture(scope="module")
def prog():
    return programme()


# --- the programme file -------------------------------------------------------------
@pytest.mark.parametrize("fields, message", [
    ({"pace": "milestones"}, "exactly when pace is 'milestones'"),
    ({"milestones": [25, 50, 75, 100]}, "exactly when pace is 'milestones'"),
    ({"pace": "milestones", "milestones": [25, 50, 100]}, "need four"),
    ({"pace": "milestones", "milestones": [25, 60, 50, 100]}, "must not decrease"),
    ({"pace": "milestones", "milestones": [25, 50, 75, 90]}, "Q4 value must be the target"),
    ({"pace": "milestones", "milestones": ["10%", "x", "50%", "100%"]}, "neither a number nor a percent"),
    ({"pace": "weekly"}, "pace"),
])
def test_bad_rules_are_refused_naming_the_field(fields, message):
    with pytest.raises(ValidationError, match=message):
        indicator(**fields)


def test_milestones_may_be_values_or_percents():
    assert indicator(pace="milestones", milestones=[10, 40, "70%", "100%"]).milestones == [10, 40, "70%", "100%"]


def test_every_indicator_of_2023_has_a_rule_from_the_notice(prog):
    paces = {i.key: i.pace for t in prog.tasks for i in t.indicators}
    assert paces["screening_rate"] == paces["childcare_places_per_1000"] == "year_end"   # rates
    assert paces["new_schools"] == paces["school_bus_lines"] == "year_end"               # built/opened
    assert paces["opera_in_schools"] == paces["health_lectures"] == "events"             # 场
    assert paces["free_screenings"] == paces["housekeeping_training"] == "linear"        # people over the year
    assert paces["job_fairs"] == "milestones"                                            # 春风行动: Q1


# --- the rules -----------------------------------------------------------------------
@pytest.mark.parametrize("quarter, value, status", [
    (1, 20, "at_risk"), (1, 25, "on_track"), (2, 49, "at_risk"), (4, 100, "done"), (3, None, "no_data")])
def test_linear(quarter, value, status):
    ind = indicator()
    e = expectation(ind, quarter)
    assert e.value == 25 * quarter and e.percent == 25 * quarter
    assert verdict(ind, value, e) == status
    assert f"第{quarter}季度末应达{25 * quarter}%" in e.basis


@pytest.mark.parametrize("quarter, value, status", [
    (1, 0, "in_progress"), (3, 80, "in_progress"), (3, 100, "done"), (4, 80, "at_risk"), (4, 85, "done")])
def test_year_end_level(quarter, value, status):
    rate = indicator(target=85, measure="%", pace="year_end", aggregate="max", comparison="at_least")
    e = expectation(rate, quarter)
    assert (e.value is None) == (quarter < 4)
    assert verdict(rate, value, e) == status
    assert "年底达标" in e.basis


@pytest.mark.parametrize("quarter, value, status", [
    (1, 0, "in_progress"), (2, 0, "at_risk"), (2, 1, "on_track"), (3, 4, "at_risk"), (3, 5, "on_track"),
    (4, 8, "at_risk"), (4, 9, "done")])
def test_events(quarter, value, status):
    shows = indicator(target=9, measure="场", pace="events")
    assert verdict(shows, value, expectation(shows, quarter)) == status


def test_milestones_in_values_and_percents():
    fair = indicator(target=1, measure="场", pace="milestones", milestones=[1, 1, 1, 1])
    assert verdict(fair, 0, expectation(fair, 1)) == "at_risk"
    assert expectation(fair, 1).basis == "季度节点：各季度末累计1/1/1/1场，第1季度末应达1场"
    build = indicator(target=200, pace="milestones", milestones=["0%", "20%", 120, "100%"])
    assert [expectation(build, q).value for q in (1, 2, 3, 4)] == [0, 40, 120, 200]
    assert verdict(build, 0, expectation(build, 1)) == "in_progress"
    assert verdict(build, 39, expectation(build, 2)) == "at_risk"


def test_about_targets_count_as_reached_within_five_percent():
    about = indicator(target=12000, comparison="about")
    assert verdict(about, 11400, expectation(about, 4)) == "done"
    assert verdict(about, 11399, expectation(about, 4)) == "at_risk"


# --- what leaders see ------------------------------------------------------------------
def all_linear(prog):
    """The programme as it was judged before: every target paced 25 % a quarter."""
    data = prog.model_dump(mode="json")
    for task in data["tasks"]:
        for ind in task["indicators"]:
            ind.update(pace="linear", milestones=None)
    return type(prog).model_validate(data)


def test_first_quarter_flags_only_what_is_really_behind(prog):
    # a realistic first quarter: schools and lines not yet open, rates early in the year,
    # a few of the year's shows held, the 春风行动 fair held, screening slow
    case = make_case(prog, indicators={
        "edu_sports": {"new_kindergartens": 0, "new_schools": 0, "school_places": 0},
        "health": {"childcare_places_per_1000": 0.8, "screening_rate": 20, "psych_hotline": 1,
                   "fitness_monitoring": 60},
        "sibaoshan": {"mother_rooms": 1, "school_bus_lines": 2, "free_screenings": 1500,
                      "opera_in_schools": 1},
        "org_personnel": {"beautiful_homes_rate": 20, "family_education_lectures": 12, "job_fairs": 1,
                          "housekeeping_training": 30},
        "science_tech": {"science_volunteering": 0},
    })
    c = consolidate(prog, "2023Q1", *case)
    before = consolidate(all_linear(prog), "2023Q1", *case)
    at_risk = {i.key for i in c.indicators if i.status == "at_risk"}
    was_at_risk = {i.key for i in before.indicators if i.status == "at_risk"}
    assert at_risk < was_at_risk
    # a level reached at year end and a building finished at year end are not behind in Q1
    assert {"childcare_places_per_1000", "screening_rate", "new_kindergartens", "opera_in_schools",
            "science_volunteering"} <= was_at_risk - at_risk
    assert at_risk == {"free_screenings"}             # 1,500 of about 12,000 people: behind 25 %
    rate = next(i for i in c.indicators if i.key == "screening_rate")
    assert rate.status == "in_progress" and rate.expected_value is None and rate.on_track is True


def test_the_rule_is_printed_beside_each_indicator(prog, tmp_path):
    c = consolidate(prog, "2023Q2", *make_case(prog, "2023Q2"))
    ws = openpyxl.load_workbook(write_report(c, prog, tmp_path))["指标进度"]
    basis = INDICATOR_HEADERS.index("判断依据")
    expected = INDICATOR_HEADERS.index("本季度应达")
    rows = {r[2]: r for r in ws.iter_rows(min_row=4, max_row=3 + len(c.indicators), values_only=True)}
    assert ws.cell(3, basis + 1).value == "判断依据"
    assert rows["戏曲进校园活动"][basis].startswith("活动场次：年中前至少1场")
    assert rows["戏曲进校园活动"][expected] == "1场"
    assert rows["适龄妇女“两癌”筛查率"][expected] == "年底判断"
    assert rows["适龄妇女“两癌”筛查率"][basis + 1 - 2] == "进行中"       # 进度状态, left of 判断依据
