"""Which quarter a sheet name, a title or a file name names, as people write it.

第四季度, 四季度, 第4季度, 4季度, Q4, 2023Q4, 10-12月 (also 10月-12月, 10至12月) name a
quarter; 1-9月, 前三季度 and 上半年 name the quarter they run up to; 全年, 全年度, 1-12月
and 年终 name the whole year (and, in sheet names only, 年度: in a title 「2023年度…」 is the
programme year, not a whole-year report). A year written with the quarter (2023年第四季度)
must be the run's year to count; a quarter of another year counts as naming nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding, ParsedReport
from wcreport.core.quarter import Quarter
from wcreport.intake.cells import squeeze

_NUM = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_YEAR = r"(?:(?P<year>(?:19|20)\d{2})(?:年度?)?)?"
_QUARTER_RES = (
    re.compile(_YEAR + r"(?:第(?P<n1>[一二三四1-4])季度?|(?P<n2>[一二三四1-4])季度)"),
    re.compile(_YEAR + r"(?<![A-Za-z])[Qq](?P<n3>[1-4])(?!\d)"),
    re.compile(_YEAR + r"前(?P<n4>[二三])季度"),
)
_MONTHS_RE = re.compile(_YEAR + r"(?<!\d)(?P<first>\d{1,2})月?[-~至到—－–](?P<last>\d{1,2})月")
_HALF_RE = re.compile(_YEAR + r"(?P<half>上|下)半年")
_WHOLE_YEAR_MARKS = ("全年", "年终")
_WHOLE_YEAR_SHEET_MARKS = ("年度", "全年", "年终")


class Naming(Enum):
    """What a text says about the quarter being read."""

    THIS = "this"            # names the quarter being read
    OTHER = "other"          # names another quarter of the same year (and not this one)
    WHOLE_YEAR = "whole_year"
    NONE = "none"


@dataclass(frozen=True)
class QuarterNaming:
    """The verdict on one text, and the other quarter it names (for the unit's message)."""

    naming: Naming
    other: int | None = None      # the other quarter's number, when ``naming`` is OTHER
    where: str = ""               # what said so, for the unit: 标题「…」, 工作表「…」


def _mentions(text: str, year: int) -> set[int]:
    """Quarter numbers the text names for ``year`` (or without a year)."""
    found: set[int] = set()

    def keep(match: re.Match, number: int) -> None:
        written = match.group("year")
        if written is None or int(written) == year:
            found.add(number)

    for pattern in _QUARTER_RES:
        for match in pattern.finditer(text):
            digit = next(g for g in (match.groupdict().get(k) for k in ("n1", "n2", "n3", "n4")) if g)
            keep(match, _NUM[digit])
    for match in _MONTHS_RE.finditer(text):
        first, last = int(match.group("first")), int(match.group("last"))
        if last in (3, 6, 9) and first in (1, last - 2):
            keep(match, last // 3)
        elif last == 12 and first == 10:
            keep(match, 4)
    for match in _HALF_RE.finditer(text):
        keep(match, 2 if match.group("half") == "上" else 4)
    return found


def _whole_year(text: str, *, sheet_name: bool) -> bool:
    marks = _WHOLE_YEAR_SHEET_MARKS if sheet_name else _WHOLE_YEAR_MARKS
    return any(mark in text for mark in marks) or re.search(r"(?<!\d)1月?[-~至到—－–]12月", text) is not None


def judge(text: str, quarter: Quarter, *, sheet_name: bool = False) -> QuarterNaming:
    """What ``text`` (a title, a sheet name or a file name) says about ``quarter``."""
    flat = squeeze(text)
    numbers = _mentions(flat, quarter.year)
    if quarter.number in numbers:
        return QuarterNaming(Naming.THIS)
    if numbers:
        return QuarterNaming(Naming.OTHER, other=min(numbers))
    if _whole_year(flat, sheet_name=sheet_name):
        return QuarterNaming(Naming.WHOLE_YEAR)
    return QuarterNaming(Naming.NONE)


def judge_sheet(name: str, title: str, quarter: Quarter) -> QuarterNaming:
    """A sheet's verdict: its title when the title names a quarter, else its name, else the title."""
    by_title = judge(title, quarter)
    line = next((t for t in title.splitlines() if judge(t, quarter).naming is by_title.naming), "")
    where_title = f"标题「{line[:40]}」"
    if by_title.naming in (Naming.THIS, Naming.OTHER):
        return replace(by_title, where=where_title)
    by_name = judge(name, quarter, sheet_name=True)
    if by_name.naming is not Naming.NONE:
        return replace(by_name, where=f"工作表「{name}」")
    return replace(by_title, where=where_title)


def other_quarter_finding(where: str, other: int, quarter: Quarter, *, sheet: str | None = None) -> Finding:
    """The reason a file of another quarter is not read for this one."""
    return finding("table.other_quarter", sheet=sheet, where=where,
                   other=Quarter(quarter.year, other).label_zh, quarter=quarter.label_zh)


def file_name_check(path: str, parsed: ParsedReport | None, quarter: Quarter) -> Finding | None:
    """A file whose chosen sheet names no quarter, but whose file name names another one, is refused."""
    if parsed is None or parsed.names_quarter is not False or parsed.sheet is None:
        return None
    verdict = judge(Path(path).stem, quarter)
    if verdict.naming is not Naming.OTHER or verdict.other is None:
        return None
    return other_quarter_finding(f"文件名「{Path(path).name}」", verdict.other, quarter)
