"""The programme file: units' e-mail addresses (``email`` shorthand and ``emails`` list)."""
from __future__ import annotations

import copy

import pytest
import yaml

from conftest import PROGRAMME_FILE
from wcreport.core.programme import ProgrammeError, load_programme


@pytest.fixture
def data() -> dict:
    return yaml.safe_load(PROGRAMME_FILE.read_text(encoding="utf-8"))


def _write(tmp_path, data: dict):
    path = tmp_path / "programme.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_programme_loads_without_addresses(programme):
    assert all(u.addresses == [] for u in programme.units)
    assert programme.unit_by_address("someone@example.org") is None
    assert programme.unit_by_address(None) is None


def test_email_and_emails_are_merged_once_each(tmp_path, data):
    unit = data["units"][0]
    unit["email"] = "jiaoti@example.org"
    unit["emails"] = ["JiaoTi@Example.org", "office@example.org"]
    programme = load_programme(_write(tmp_path, data))
    first = programme.units[0]
    assert first.addresses == ["jiaoti@example.org", "office@example.org"]
    assert programme.unit_by_address(" OFFICE@example.ORG ") is first
    assert programme.unit_by_address("jiaoti@example.org") is first


def test_an_address_belongs_to_one_unit_only(tmp_path, data):
    data["units"][0]["emails"] = ["shared@example.org"]
    data["units"][1]["email"] = "Shared@Example.org"
    with pytest.raises(ProgrammeError, match="belongs to one unit only"):
        load_programme(_write(tmp_path, data))


@pytest.mark.parametrize("bad", ["not-an-address", "a@b", "two@@example.org", "a b@example.org",
                                 "张三 <zs@example.org>", "@example.org"])
def test_malformed_addresses_are_refused_naming_the_field(tmp_path, data, bad):
    broken = copy.deepcopy(data)
    broken["units"][2]["emails"] = [bad]
    with pytest.raises(ProgrammeError, match=r"units\.2\.emails"):
        load_programme(_write(tmp_path, broken))
    broken = copy.deepcopy(data)
    broken["units"][2]["email"] = bad
    with pytest.raises(ProgrammeError, match=r"units\.2\.email"):
        load_programme(_write(tmp_path, broken))


def test_a_copy_with_other_units_answers_with_its_own_lookups():
    from wcreport.core.programme import programme_for_year

    original = programme_for_year(2023)
    assert original.unit_by_address("x@units.example.cn") is None          # caches the lookup
    units = [u.model_copy(update={"emails": ["x@units.example.cn"]}) if u.key == "health" else u
             for u in original.units]
    copy = original.model_copy(update={"units": units})
    assert copy.unit_by_address("x@units.example.cn").key == "health"
    assert original.unit_by_address("x@units.example.cn") is None
