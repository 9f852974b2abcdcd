"""read_number: the number a clerk wrote and the words around it; commas only as thousands separators."""
from __future__ import annotations

import pytest

from wcreport.intake.cells import parse_number, read_number


@pytest.mark.parametrize("raw", ["1,5", "１，５", "12,34", "1,2345", "1,2,3", "0,5个"])
def test_a_comma_that_is_no_thousands_separator_makes_no_number(raw):
    reading = read_number(raw)
    assert reading.value is None and reading.comma and parse_number(raw) is None


@pytest.mark.parametrize("raw, value", [("2,200", 2200.0), ("12,345,678", 12345678.0), ("1,200.5", 1200.5),
                                        ("２，２００个", 2200.0)])
def test_thousands_separators_are_read(raw, value):
    assert read_number(raw).value == value and not read_number(raw).comma


@pytest.mark.parametrize("raw, measure, words, approximate, several", [
    ("约2处", "所", "约…处", True, False),
    ("100人次以上", "人次", "以上", True, False),
    ("2200个", "个", "", False, False),
    ("85%", "%", "", False, False),
    ("约1.2万人", "人", "约", True, False),
    ("2200个（其中新建1200个）", "个", "(其中新建1200个)", False, True),
    ("3.8/千人", "个", "/千人", False, False),
    (2200.0, "个", "", False, False),
])
def test_the_words_beside_the_number(raw, measure, words, approximate, several):
    reading = read_number(raw)
    assert reading.value is not None
    assert (reading.words(measure), reading.approximate, reading.several_numbers) == (words, approximate, several)
