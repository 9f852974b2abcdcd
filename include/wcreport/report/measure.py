"""How text measures in a cell: character widths, where lines break, how many lines a row holds.

The workbook has to print without clipped cells in Excel, WPS and LibreOffice. No
program sizes rows from wrapped text when it opens an xlsx (LibreOffice keeps the
heights written in the file), so the heights are computed here, from metrics measured
on the widest and tallest renderer and rounded to the safe side:

* a column width unit is at least 1.852 mm (Excel's 7 px at 96 dpi for Calibri 11, the
  workbook's default font; LibreOffice with Carlito gives 1.958 mm, wider);
* an 11 pt CJK character takes at most 4.1 mm (LibreOffice with the Noto CJK fallback),
  a Latin letter or digit 2.2 mm; a cell keeps 1.6 mm of padding;
* a wrapped 11 pt line takes 16 pt (LibreOffice/Noto CJK: 5.52 mm = 15.65 pt; SimSun in
  Excel/WPS about 5 mm), plus 6 pt per row for the cell's top and bottom padding.

Lines break like a spreadsheet breaks them: CJK between any two characters, Latin words
and numbers whole, and no line starts with closing punctuation (its previous character
moves down with it) or ends with opening punctuation.

The page, the sheets' columns and their fixed rows are ``report.layout``.
"""
from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache

UNIT_MM = 1.852             # narrowest column width unit (Excel, Calibri 11)
UNIT_MM_WIDEST = 1.958      # widest (LibreOffice, Carlito): decides the page scale
CJK_MM = 4.1
LATIN_MM = 2.2
SPACE_MM = 1.3
CELL_PAD_MM = 1.6
LINE_PT = 16.0              # one wrapped 11 pt line, with slack
BODY_PT = 11.0              # the font size the metrics above are for; others scale with it
ROW_PAD_PT = 6.0            # top + bottom padding of a row
MM_PER_PT = 25.4 / 72

NO_LINE_START = set("，。、；：？！）》」』】〕〉”’…—·%‰,.;:?!)]}")
NO_LINE_END = set("（《「『【〔〈“‘([{")
_WORD = re.compile(r"[A-Za-z0-9_./:%+\-@#&=~]+|\s|.", re.S)


# --- text width and wrapping ------------------------------------------------------
@lru_cache(maxsize=65536)
def char_mm(ch: str) -> float:
    if ch == " ":
        return SPACE_MM
    if ch.isascii():
        return LATIN_MM
    return CJK_MM if unicodedata.east_asian_width(ch) in ("W", "F", "A") else LATIN_MM


@lru_cache(maxsize=262144)
def text_mm(text: str) -> float:
    return sum(map(char_mm, text))


def usable_mm(width_units: float) -> float:
    """Room for text in a column (or merged columns) of ``width_units``."""
    return max(width_units * UNIT_MM - CELL_PAD_MM, CJK_MM)


def wrap(text: str, width_units: float) -> list[str]:
    """The visual lines of ``text`` in a wrapping cell ``width_units`` wide."""
    return [line for line, _ in wrap_marked(text, width_units)]


def wrap_marked(text: str, width_units: float) -> list[tuple[str, bool]]:
    """Visual lines, each with True when it starts after a line break of the text itself."""
    room = usable_mm(width_units)
    lines: list[tuple[str, bool]] = []
    for k, paragraph in enumerate(text.split("\n")):
        lines.extend((line, k > 0 and i == 0) for i, line in enumerate(_wrap_paragraph(paragraph, room)))
    return lines


def _wrap_paragraph(paragraph: str, room: float) -> list[str]:
    if not paragraph:
        return [""]
    lines: list[list[str]] = [[]]
    width = 0.0
    for token in _tokens(paragraph, room):
        w = text_mm(token)
        current = lines[-1]
        if width + w <= room or not current:
            current.append(token)
            width += w
            continue
        carried = _carry(current, token)
        lines.append(carried + [token])
        width = sum(text_mm(t) for t in lines[-1])
    return ["".join(line).rstrip(" ") for line in lines]


def _tokens(paragraph: str, room: float) -> list[str]:
    """Words stay whole unless longer than a line; everything else is one character."""
    out: list[str] = []
    for token in _WORD.findall(paragraph):
        if len(token) > 1 and text_mm(token) > room:
            out.extend(token)
        else:
            out.append(token)
    return out


def _carry(current: list[str], token: str) -> list[str]:
    """Tokens that move to the next line with ``token`` (line-breaking rules for CJK)."""
    carried: list[str] = []
    if token in NO_LINE_START and len(current) > 1:
        carried.insert(0, current.pop())
    while len(current) > 1 and current[-1] in NO_LINE_END:
        carried.insert(0, current.pop())
    return carried


# --- lines and rows ------------------------------------------------------------------
def line_count(text: str, width_units: float) -> int:
    return len(wrap(text, width_units)) if text else 1


def quick_lines(text: str, width_units: float) -> int:
    """An upper estimate of ``line_count`` without breaking rules (for sheets that do not print)."""
    room = usable_mm(width_units)
    return sum(max(1, math.ceil(text_mm(p) * 1.1 / room)) for p in text.split("\n")) if text else 1


def height_for_lines(lines: int, size_pt: float = BODY_PT) -> float:
    return lines * LINE_PT * size_pt / BODY_PT + ROW_PAD_PT


def width_at_body_size(width_units: float, size_pt: float) -> float:
    """The width in which 11 pt text wraps as ``size_pt`` text does in ``width_units``.

    Scaling the whole width also scales the cell padding down: on the safe side above 11 pt.
    """
    return width_units * BODY_PT / size_pt


def lines_in(height_pt: float) -> int:
    """How many wrapped lines fit in a row (or merged rows) ``height_pt`` tall."""
    return max(0, int((height_pt - ROW_PAD_PT) // LINE_PT))


def min_width_for(words: list[str]) -> float:
    """Column width (units) in which each of ``words`` fits on one line."""
    widest = max((text_mm(w) for w in words), default=0.0)
    return math.ceil((widest + CELL_PAD_MM) / UNIT_MM + 0.5)
