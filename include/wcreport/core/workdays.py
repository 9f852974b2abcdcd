"""Chinese working days: the official calendar with make-up days (调休), Mon–Fri beyond it.

The official calendar comes from ``chinesecalendar`` (data for the years the State
Council has published). For a year the library has no data for, or if the library
cannot be imported at all, we fall back to Monday–Friday and log one warning per
year per process, so a scheduler keeps running instead of crashing on New Year's Day.
Upgrade ``chinesecalendar`` each December once the next year's arrangement is out.
"""
from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache

from wcreport.core.quarter import Quarter

log = logging.getLogger(__name__)

_warned_years: set[int] = set()
# Safety stop for searches: no official arrangement has 30 consecutive non-working days.
_MAX_SEARCH_DAYS = 60


def _official(day: dt.date) -> bool | None:
    """True/False from the official calendar, or None when it has no data for the day."""
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - dependency is installed everywhere we run
        _warn_once(day.year, "chinesecalendar is not installed")
        return None
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        _warn_once(day.year, "chinesecalendar has no data for this year")
        return None


def _warn_once(year: int, reason: str) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        log.warning("Working days for %s: %s; falling back to Monday-Friday "
                    "(public holidays and make-up days are ignored). "
                    "Upgrade chinesecalendar once the year's arrangement is published.",
                    year, reason)


@lru_cache(maxsize=64)
def calendar_covers(year: int) -> bool:
    """Whether the official calendar has data for ``year`` (no warning is logged)."""
    try:
        import chinese_calendar
        chinese_calendar.is_workday(dt.date(year, 6, 1))
    except (ImportError, NotImplementedError):
        return False
    return True


def is_workday(day: dt.date) -> bool:
    """A working day in mainland China (make-up weekend days count as working days)."""
    if isinstance(day, dt.datetime):
        day = day.date()
    official = _official(day)
    if official is None:
        return day.weekday() < 5
    return official


def is_make_up_day(day: dt.date) -> bool:
    """A Saturday or Sunday that is a working day (调休上班)."""
    return day.weekday() >= 5 and is_workday(day)


def shift_workdays(day: dt.date, count: int) -> dt.date:
    """The working day ``count`` working days after ``day`` (before it if negative).

    ``count == 0`` returns ``day`` itself when it is a working day, else the previous one.
    """
    if count == 0:
        return last_workday_on_or_before(day)
    step = dt.timedelta(days=1 if count > 0 else -1)
    current = day
    for _ in range(abs(count)):
        current += step
        current = _skip_to_workday(current, step)
    return current


def last_workday_on_or_before(day: dt.date) -> dt.date:
    return _skip_to_workday(day, dt.timedelta(days=-1))



def _skip_to_workday(day: dt.date, step: dt.timedelta) -> dt.date:
    current = day
    for _ in range(_MAX_SEARCH_DAYS):
        if is_workday(current):
            return current
        current += step
    raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days of {day}")


def last_workday_of_quarter(quarter: Quarter) -> dt.date:
    """The last working day of a calendar quarter (may be a make-up Saturday/Sunday)."""
    return last_workday_on_or_before(quarter.end)


def workdays_between(start: dt.date, end: dt.date) -> list[dt.date]:
    """Working days in ``[start, end]``, both inclusive."""
    days = []
    current = start
    while current <= end:
        if is_workday(current):
            days.append(current)
        current += dt.timedelta(days=1)
    return days


def reminder_window(deadline: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The last ``days`` calendar days up to and including ``deadline``."""
    return deadline - dt.timedelta(days=days - 1), deadline


def is_reminder_day(today: dt.date, deadline: dt.date, days: int) -> bool:
    """A working day within the last ``days`` calendar days before (and on) the deadline."""
    start, end = reminder_window(deadline, days)
    return start <= today <= end and is_workday(today)
