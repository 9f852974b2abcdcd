"""Units by their everyday names (教体局, 卫健委, 妇联): derived by rule from the programme's
names and aliases, used for folders, file names and the 「单位：」 line alike; a name two
units share is refused with both named."""
from __future__ import annotations

import pytest

from wcreport.core.model import ParsedReport
from wcreport.core.programme import Programme
from wcreport.intake.identity import identify_unit, match_unit
from wcreport.intake.unit_names import everyday_names


def report(unit_line=None):
    return ParsedReport(sheet="报表", unit_line=unit_line, rows=[])


def with_units(programme, *units) -> Programme:
    data = programme.model_dump()
    data["units"] += [{"key": k, "name": n, "aliases": []} for k, n in units]
    return Programme.model_validate(data)


@pytest.mark.parametrize("name, expected", [
    ("妇女联合会", ["妇联"]),
    ("高新区妇女联合会", ["妇联"]),
    ("卫生健康委员会", ["卫生健康局", "卫生健康中心", "卫生健康委", "卫生健康办",
                       "卫健局", "卫健中心", "卫健委", "卫健办"]),
    ("综合执法中心", ["综合执法局", "综合执法委", "综合执法办", "综执局", "综执中心", "综执委", "综执办"]),
    ("四宝山街道", []), ("中埠镇", []),                     # places have no everyday body name
    ("公积金分中心", []),                                   # a branch is not a body of its own
    ("淄博宝山生态科技园管理服务中心", []),                 # too long a core to shorten safely
])
def test_everyday_names_are_derived_by_rule(name, expected):
    assert everyday_names(name) == expected


def test_an_alias_is_not_abbreviated_again():
    assert "工商局" not in everyday_names("工信商务局", abbreviate=False)
    assert "工信中心" in everyday_names("工信局", abbreviate=False)


@pytest.mark.parametrize("text, key", [
    ("教体局", "edu_sports"), ("区教体局", "edu_sports"), ("教育局", "edu_sports"),
    ("卫健局", "health"), ("卫健委", "health"), ("科技局", "science_tech"), ("民政局", "civil_culture"),
    ("人社局", "hr_social"),
])
def test_the_2023_units_by_their_everyday_names(programme, text, key):
    assert match_unit(text, programme).unit == key


@pytest.mark.parametrize("rel_path", ["教体局/2023年第二季度报表.xlsx", "收件/卫健局/报表.xlsx"])
def test_a_folder_with_the_everyday_name_is_the_units(programme, rel_path):
    ident = identify_unit(report(), rel_path, programme)
    assert ident.source == "folder" and ident.unit == ("edu_sports" if "教体" in rel_path else "health")


def test_a_file_name_and_a_unit_line_with_the_everyday_name(programme):
    assert identify_unit(None, "2023年第二季度卫健委报表-最终版.xlsx", programme).unit == "health"
    ident = identify_unit(report("高新区教体局"), "报表.xlsx", programme)
    assert (ident.unit, ident.source) == ("edu_sports", "unit_line")


def test_an_association_by_its_everyday_name(programme):
    women = with_units(programme, ("women", "妇女联合会"))
    ident = identify_unit(report(), "妇联/报表.xlsx", women)
    assert (ident.unit, ident.source) == ("women", "folder")
    # the same folder means nothing in a programme without such a unit
    refused = identify_unit(report(), "妇联/报表.xlsx", programme)
    assert refused.unit is None and "无法确定报送单位" in refused.reason


def test_an_everyday_name_two_units_share_is_refused_with_both_named(programme):
    two = with_units(programme, ("health_commission", "卫生健康委员会"))
    folder = identify_unit(report(), "卫健局/报表.xlsx", two)
    assert folder.unit is None and set(folder.candidates) == {"health", "health_commission"}
    assert folder.reason.startswith("文件放在文件夹「卫健局」中，无法确定该简称指哪一个责任单位")
    assert "卫生健康事业中心" in folder.reason and "卫生健康委员会" in folder.reason
    line = identify_unit(report("卫健局"), "报表.xlsx", two)
    assert line.unit is None and "可能是" in line.reason and "卫生健康委员会" in line.reason
    named = identify_unit(None, "卫健局报表.xlsx", two)
    assert named.unit is None and {"health", "health_commission"} <= set(named.candidates)
    # a name one of them owns as an alias stays that unit's
    assert identify_unit(report("卫健中心"), "报表.xlsx", two).unit == "health"
