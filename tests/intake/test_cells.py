from __future__ import annotations

import datetime as dt

import pytest

from wcreport.intake.cells import cell_text, normalise_text, parse_number, parse_seq


@pytest.mark.parametrize("raw, expected", [
    ("2,200", 2200.0), ("2200个", 2200.0), ("２２００", 2200.0), ("85%", 85.0), ("85％", 85.0),
    ("1.2万", 12000.0), ("约1.2万人", 12000.0), ("100人次以上", 100.0), (" 3.8 ", 3.8),
    ("２，２００", 2200.0), (12.0, 12.0), (7, 7.0), ("-5", -5.0),
])
def test_parse_number_accepts_what_clerks_write(raw, expected):
    assert parse_number(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "已完成", "1-2", "约", True, float("nan"), "二千"])
def test_parse_number_refuses_non_numbers(raw):
    assert parse_number(raw) is None


@pytest.mark.parametrize("raw, expected", [
    ("实事\n名称", "实事 名称"), ("  序　号 ", "序 号"), ("ＡＢＣ１２", "ABC12"), (None, ""),
])
def test_normalise_text(raw, expected):
    assert normalise_text(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (1, 1), ("1", 1), ("１", 1), (3.0, 3), ("一", 1), ("十", 10), ("（三）", 3), ("2、", 2), ("x", None), (0, None),
])
def test_parse_seq(raw, expected):
    assert parse_seq(raw) == expected


def test_cell_text_is_lossless_for_text_and_readable_for_numbers_and_dates():
    assert cell_text("第一行  \r\n第二行") == "第一行\n第二行"
    assert cell_text("全角，标点。") == "全角，标点。"      # no NFKC on kept values
    assert cell_text(2200.0) == "2200"
    assert cell_text(3.8) == "3.8"
    assert cell_text(dt.datetime(2023, 12, 31)) == "2023-12-31"
