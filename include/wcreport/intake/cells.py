"""Cell values as units type them: text normalisation and tolerant number parsing.

Normalised text is for *matching* (headers, unit names, task names); the values
kept in the parsed report stay as the unit wrote them (see ``cell_text``).
"""
from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from dataclasses import dataclass

_WS_RE = re.compile(r"\s+")
# Suffixes a clerk writes after a number: measure words, "以上", "约" and so on.
_MULTIPLIERS = {"万": 10_000.0, "千": 1_000.0, "百": 100.0, "亿": 100_000_000.0}
_PREFIXES = ("约", "共", "累计", "计", "达", "完成", "已完成", "≈", "~", "～")
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9}


def normalise_text(value) -> str:
    """NFKC (full-width -> half-width), strip, collapse inner whitespace to one space."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return _normalised(value if isinstance(value, str) else cell_text(value))


@functools.lru_cache(maxsize=8192)
def _normalised(text: str) -> str:
    """A pure function of the text, remembered: locating a form normalises each cell several
    times (header rows, indicator headers, the header search), and forms repeat their labels."""
    text = unicodedata.normalize("NFKC", text).replace("\u3000", " ")
    return _WS_RE.sub(" ", text).strip()


def squeeze(value) -> str:
    """Normalised text without any whitespace: for comparing headers and names."""
    return normalise_text(value).replace(" ", "")


def cell_text(value) -> str:
    """A cell's value as text, as the unit would see it (lossless for text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    # Keep inner line breaks (multi-line cells), drop trailing blanks on each line.
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip()


# Excel's day 0 in the 1900 date system; serials in this range are plausible dates (1954 .. 2173).
EXCEL_EPOCH = dt.date(1899, 12, 30)
SERIAL_MIN, SERIAL_MAX = 20000, 100000


def excel_serial_date(value) -> dt.date | None:
    """The date an Excel serial number stands for (45291 -> 2023-12-31), or None.

    A date cell whose date format was lost (pasted as value, read by an old reader) shows
    up as its serial, as a number or as digits-only text.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"\d{5}(\.0+)?", text):
            return None
        value = float(text)
    if not isinstance(value, (int, float)) or not SERIAL_MIN <= value <= SERIAL_MAX:
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def date_text(value) -> str:
    """A date cell's text: an Excel serial as its date (``2023-12-31``), anything else as ``cell_text``."""
    serial = excel_serial_date(value)
    return serial.isoformat() if serial else cell_text(value)


@dataclass(frozen=True)
class NumberReading:
    """What ``read_number`` understood in a cell: the number and the words around it.

    ``value`` is None when the text is no single number; ``comma`` is set when a comma
    makes it ambiguous ("1,5": one and a half, fifteen, or one and five?).
    """

    value: float | None
    before: str = ""         # a leading word ("约", "累计")
    after: str = ""          # whatever follows the number and its 万/千 ("个", "人次以上")
    comma: bool = False

    def words(self, measure: str = "") -> str:
        """The text beside the number, without the indicator's measure word right after it."""
        after = self.after
        if measure and after.startswith(measure):
            after = after[len(measure):]
        after = after.strip("。.，,；;")
        return self.before + ("…" if self.before and after else "") + after

    @property
    def approximate(self) -> bool:
        """The text says the number is not exact (约, 左右, 以上, 余 …)."""
        text = self.before + self.after
        return any(word in text for word in _APPROXIMATE)

    @property
    def several_numbers(self) -> bool:
        """More digits follow the number ("2200个（其中新建1200个）")."""
        return any(ch.isdigit() for ch in self.after)


_NUMBER_RE = re.compile(r"^([+-]?)(\d+(?:,\d+)*(?:\.\d+)?|\.\d+)(.*)$")
_THOUSANDS_RE = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_APPROXIMATE = ("约", "近", "≈", "~", "～", "左右", "以上", "余", "多", "上下", "超过", "不少于", "至少")


def read_number(raw) -> NumberReading:
    """Read what a clerk writes as a number, keeping the words around it.

    "2,200", "2200个", "２２００", "85%", "1.2万" (-> 12000.0), "约1.2万人", "100人次以上".
    A percentage keeps its written value: "85%" -> 85.0. A comma is a thousands separator
    only between groups of three digits: "1,5" is no number (``comma`` is set).
    """
    if raw is None or isinstance(raw, bool):
        return NumberReading(None)
    if isinstance(raw, (int, float)):
        value = float(raw)
        return NumberReading(None if math.isnan(value) or math.isinf(value) else value)
    text = squeeze(raw)
    before = next((p for p in _PREFIXES if text.startswith(p)), "")
    match = _NUMBER_RE.match(text[len(before):])
    if not text or not match:
        return NumberReading(None, before, text[len(before):])
    sign, digits, rest = match.groups()
    if "," in digits and not _THOUSANDS_RE.match(digits):
        return NumberReading(None, before, rest, comma=True)
    value = float(digits.replace(",", ""))
    if rest and rest[0] in _MULTIPLIERS:
        value *= _MULTIPLIERS[rest[0]]
        rest = rest[1:]
    # Whatever follows must not be another number ("1-2", "3.8/千人" is fine).
    if rest and (rest[0].isdigit() or rest[0] == "."):
        return NumberReading(None, before, rest)
    if rest and rest[0] in "-–—~～至到" and len(rest) > 1 and rest[1].isdigit():
        return NumberReading(None, before, rest)
    return NumberReading(-value if sign == "-" else value, before, rest)


def parse_number(raw) -> float | None:
    """The number a clerk wrote (see ``read_number``); None if it is not one."""
    return read_number(raw).value


def parse_seq(raw) -> int | None:
    """A row number: 1, "1", "１", "1.0", "一", "十", "（一）", "1、"."""
    if raw is None:
        return None
    number = parse_number(raw)
    if number is not None:
        return int(number) if number.is_integer() and number > 0 else None
    text = squeeze(raw).strip("()（）、.．")
    if not text:
        return None
    if text in _CN_DIGITS:
        return _CN_DIGITS[text] or None
    if text == "十":
        return 10
    if len(text) == 2 and text[0] == "十" and text[1] in _CN_DIGITS:
        return 10 + _CN_DIGITS[text[1]]
    if len(text) in (2, 3) and text[0] in _CN_DIGITS and text[1] == "十":
        tail = _CN_DIGITS.get(text[2]) if len(text) == 3 else 0
        return None if tail is None else _CN_DIGITS[text[0]] * 10 + tail
    return None
