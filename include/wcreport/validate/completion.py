"""Parsing the 完成时限 column: dates, month/year ends, Excel serials and ongoing terms.

Units write the deadline in many ways: a real date cell, an Excel serial number
read as text ("45291"), "2023年12月底", "2023.12", "12月", "年底", "下半年",
"2023年1-12月", "长期坚持", "持续推进" ... ``parse_deadline`` turns each into a
``Deadline``: a concrete last day, an ongoing term, blank, or not understood.
Relative terms without a year ("年底", "12月底") belong to the programme year.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from wcreport.intake.cells import EXCEL_EPOCH, SERIAL_MAX, SERIAL_MIN

DeadlineKind = Literal["date", "ongoing", "empty", "invalid"]

# Excel's day 0 for the 1900 date system and the plausible serials (shared with the reader).
_EXCEL_EPOCH, _SERIAL_MIN, _SERIAL_MAX = EXCEL_EPOCH, SERIAL_MIN, SERIAL_MAX

_ONGOING = re.compile(r"^(长期|持续|常态|常年|长效|久久为功|不定期|动态)")
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}
_TRAILING = re.compile(r"(之前|以前|前|截止|止|完成|为止|内)+$")
_RANGE_SPLIT = re.compile(r"[-—–~～至到]+")

_FULL_DATE = re.compile(r"^(\d{4})[年./\-](\d{1,2})[月./\-](\d{1,2})[日号]?$")
_YEAR_MONTH = re.compile(r"^(\d{4})[年./\-](\d{1,2})月?(底|末|份|中旬|下旬|上旬)?$")
_YEAR_ONLY = re.compile(r"^(\d{4})年?(底|末|年底|年末|全年|年内|内|度)?$")
_YEAR_HALF = re.compile(r"^(\d{4})年?(上半年|下半年|第?([1-4])季度|(一|二|三|四)季度)$")
_MONTH_DAY = re.compile(r"^(\d{1,2})月(\d{1,2})[日号]?$")
_MONTH = re.compile(r"^(\d{1,2})月(底|末|份|中旬|下旬|上旬)?$")
_REL_YEAR = {"年底", "年末", "年内", "全年", "本年", "本年度", "年度内", "当年", "今年", "今年底",
             "本年底", "下半年", "年底前"}


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    date: dt.date | None = None
    text: str = ""

    @property
    def yyyymmdd(self) -> int | None:
        return self.date.year * 10000 + self.date.month * 100 + self.date.day if self.date else None


def parse_deadline(value: object, year: int) -> Deadline:
    """Parse one 完成时限 value; ``year`` is the programme year for relative terms."""
    if value is None:
        return Deadline("empty")
    if isinstance(value, dt.datetime):
        return Deadline("date", value.date(), str(value))
    if isinstance(value, dt.date):
        return Deadline("date", value, str(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_serial(float(value), str(value))
    text = str(value)
    stamp = re.match(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})[T ]\d{1,2}:\d{2}", text)
    if stamp:   # a datetime written as text, e.g. "2023-12-31 00:00:00"
        found = _safe_date(*map(int, stamp.groups()))
        return Deadline("date", found, text) if found else Deadline("invalid", text=text)
    norm = _normalise(text)
    if not norm:
        return Deadline("empty", text=text)
    if _ONGOING.match(norm):
        return Deadline("ongoing", text=text)
    found = _parse_text(norm, year)
    return Deadline("date", found, text) if found else Deadline("invalid", text=text)


def _from_serial(serial: float, text: str) -> Deadline:
    if _SERIAL_MIN <= serial <= _SERIAL_MAX:
        return Deadline("date", _EXCEL_EPOCH + dt.timedelta(days=int(serial)), text)
    if 1900 <= serial <= 2100 and float(serial).is_integer():   # a bare year: 2023
        return Deadline("date", dt.date(int(serial), 12, 31), text)
    if 1900 <= serial < 2101:   # "2023.12" typed into a number cell (2023.1 reads as October)
        month = _month_end(int(serial), round((serial - int(serial)) * 100))
        return Deadline("date", month, text) if month else Deadline("invalid", text=text)
    return Deadline("invalid", text=text)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    for cn, digit in _CN_DIGITS.items():
        text = text.replace(cn, str(digit))
    text = re.sub(r"(?<!\d)10(?=\d月)", "1", text.replace("十", "10"))  # 十二月 -> 12月
    text = re.sub(r"\s+", "", text)
    return text.strip("。.,，;；:：")


def _month_end(year: int, month: int) -> dt.date | None:
    if not 1 <= month <= 12:
        return None
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _parse_text(norm: str, year: int) -> dt.date | None:
    if re.fullmatch(r"\d+(\.0+)?", norm):
        return _from_serial(float(norm), norm).date
    single = _parse_single(norm, year)
    if single:
        return single
    parts = [p for p in _RANGE_SPLIT.split(norm) if p]
    if len(parts) >= 2:      # a range: the deadline is its end
        start_year = re.match(r"^(\d{4})年?", parts[0])
        end_year = int(start_year.group(1)) if start_year else year
        last = parts[-1]
        if re.fullmatch(r"\d{1,2}", last):
            last += "月"
        return _parse_single(last, end_year)
    return None


def _parse_single(norm: str, year: int) -> dt.date | None:
    if norm in _REL_YEAR:
        return dt.date(year, 12, 31)
    norm = _TRAILING.sub("", norm) or norm
    if norm in _REL_YEAR or norm.startswith("年底"):
        return dt.date(year, 12, 31)
    if norm == "上半年":
        return dt.date(year, 6, 30)
    if m := _FULL_DATE.match(norm):
        return _safe_date(*map(int, m.groups()))
    if m := _YEAR_MONTH.match(norm):
        return _month_end(int(m.group(1)), int(m.group(2)))
    if m := _YEAR_ONLY.match(norm):
        return dt.date(int(m.group(1)), 12, 31)
    if m := _YEAR_HALF.match(norm):
        y, what = int(m.group(1)), m.group(2)
        if what == "上半年":
            return dt.date(y, 6, 30)
        if what == "下半年":
            return dt.date(y, 12, 31)
        q = int(re.search(r"[1-4]", what).group(0))
        return _month_end(y, 3 * q)
    if m := _MONTH_DAY.match(norm):
        return _safe_date(year, int(m.group(1)), int(m.group(2)))
    if m := _MONTH.match(norm):
        return _month_end(year, int(m.group(1)))
    if m := re.fullmatch(r"第?([1-4])季度(末|底)?", norm):
        return _month_end(year, 3 * int(m.group(1)))
    return None


def programme_deadline(year: int) -> str:
    """The completion deadline the programme sets for its tasks, as the form writes it: the
    notice's tasks are the year's ("{year}年为…办实事"), due by the end of that year."""
    return f"{year}年12月底"
