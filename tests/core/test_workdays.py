"""Chinese working days: official calendar with make-up days, Monday-Friday fallback."""
from __future__ import annotations

import datetime as dt
import logging

import pytest

from wcreport.core import workdays
from wcreport.core.quarter import Quarter

D = dt.date


@pytest.mark.parametrize("day, expected", [
    (D(2023, 10, 7), True),    # Saturday, make-up working day after National Day
    (D(2023, 10, 2), False),   # Monday, National Day holiday
    (D(2024, 2, 4), True),     # Sunday, make-up day before Spring Festival
    (D(2024, 2, 12), False),   # Monday, Spring Festival
    (D(2025, 9, 28), True),    # Sunday, make-up day
    (D(2026, 1, 5), True),     # ordinary Monday
    (D(2026, 1, 3), False),    # ordinary Saturday
])
def test_official_calendar(day, expected):
    assert workdays.is_workday(day) is expected


def test_make_up_day():
    assert workdays.is_make_up_day(D(2018, 9, 30))
    assert not workdays.is_make_up_day(D(2018, 9, 28))   # a plain Friday
    assert not workdays.is_make_up_day(D(2018, 10, 6))   # a holiday Saturday


def test_fallback_is_monday_to_friday_with_one_warning(caplog):
    workdays._warned_years.discard(2031)
    with caplog.at_level(logging.WARNING, logger="wcreport.core.workdays"):
        assert workdays.is_workday(D(2031, 1, 1))       # Wednesday: New Year ignored
        assert not workdays.is_workday(D(2031, 1, 4))   # Saturday
        assert workdays.is_workday(D(2031, 1, 6))
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1
    assert "Monday-Friday" in warnings[0].getMessage()
    assert not workdays.calendar_covers(2031)
    assert workdays.calendar_covers(2025)


def test_shift_workdays_crosses_holidays():
    assert workdays.shift_workdays(D(2023, 9, 28), 1) == D(2023, 10, 7)    # make-up Saturday
    assert workdays.shift_workdays(D(2023, 10, 7), -1) == D(2023, 9, 28)
    assert workdays.shift_workdays(D(2023, 9, 30), 0) == D(2023, 9, 28)
    assert workdays.shift_workdays(D(2024, 1, 2), -2) == D(2023, 12, 28)


def test_last_workday_of_quarter():
    assert workdays.last_workday_of_quarter(Quarter(2023, 3)) == D(2023, 9, 28)
    assert workdays.last_workday_of_quarter(Quarter(2018, 3)) == D(2018, 9, 30)


def test_reminder_window_counts_working_days_only():
    # 2023Q3: deadline 9/30 (a holiday); window 9/26..9/30 keeps 26, 27, 28.
    deadline = D(2023, 9, 30)
    days = [d for d in (deadline - dt.timedelta(days=i) for i in range(10))
            if workdays.is_reminder_day(d, deadline, 5)]
    assert sorted(days) == [D(2023, 9, 26), D(2023, 9, 27), D(2023, 9, 28)]
    assert workdays.workdays_between(D(2023, 9, 26), D(2023, 10, 8)) == [
        D(2023, 9, 26), D(2023, 9, 27), D(2023, 9, 28), D(2023, 10, 7), D(2023, 10, 8)]
