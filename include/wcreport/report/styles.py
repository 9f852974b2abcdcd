"""The workbook's cell styles, and the one way a cell is made (``cell``).

Every printed sheet uses the same font (宋体: what Chinese offices have; LibreOffice maps it
to a CJK font) at 11 pt, thin black borders and a light blue header. Every piece of unit
text goes through ``safe_cells.set_text``, so it can never become a formula.
"""
from __future__ import annotations

import weakref
from copy import copy
from dataclasses import dataclass

from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray

from wcreport.report.safe_cells import set_text

FONT_NAME = "宋体"
BODY_PT = 11


@dataclass(frozen=True)
class CellStyle:
    font: Font
    alignment: Alignment
    border: Border | None = None
    fill: PatternFill | None = None
    number_format: str | None = None


_thin = Side(style="thin", color="000000")
_BORDER = Border(left=_thin, right=_thin, top=_thin, bottom=_thin)
TITLE_SIZE_PT = 18
# titles and subtitles wrap: a text wider than its merged cells would otherwise be cut
# off at the cell's edge (their rows are as tall as the wrapped text needs)
TITLE = CellStyle(Font(name=FONT_NAME, size=TITLE_SIZE_PT, bold=True),
                  Alignment(horizontal="center", vertical="center", wrap_text=True))
SUBTITLE = CellStyle(Font(name=FONT_NAME, size=BODY_PT),
                     Alignment(horizontal="left", vertical="center", wrap_text=True))
SUBTITLE_R = CellStyle(Font(name=FONT_NAME, size=BODY_PT),
                       Alignment(horizontal="right", vertical="center", wrap_text=True))
HEADER = CellStyle(Font(name=FONT_NAME, size=BODY_PT, bold=True),
                   Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER,
                   PatternFill("solid", fgColor="D9E1F2"))
CENTER = CellStyle(Font(name=FONT_NAME, size=BODY_PT),
                   Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER)
TEXT = CellStyle(Font(name=FONT_NAME, size=BODY_PT),
                 Alignment(horizontal="left", vertical="top", wrap_text=True), _BORDER)
TEXT_MID = CellStyle(Font(name=FONT_NAME, size=BODY_PT),
                     Alignment(horizontal="left", vertical="center", wrap_text=True), _BORDER)
NUMBER = CellStyle(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="right", vertical="center"),
                   _BORDER, number_format="#,##0.##")
PERCENT = CellStyle(Font(name=FONT_NAME, size=BODY_PT), Alignment(horizontal="right", vertical="center"),
                    _BORDER, number_format="0.0%")
WARN = CellStyle(Font(name=FONT_NAME, size=BODY_PT, color="C00000", bold=True),
                 Alignment(horizontal="center", vertical="center", wrap_text=True), _BORDER)
HASH = CellStyle(Font(name="Consolas", size=8), Alignment(horizontal="left", vertical="center"), _BORDER)
NOTE = CellStyle(Font(name=FONT_NAME, size=10, italic=True),
                 Alignment(horizontal="left", vertical="top", wrap_text=True))


def cell(ws, value, style: CellStyle) -> WriteOnlyCell:
    """A write-only cell of ``ws`` holding ``value`` (text made safe) in ``style``."""
    made = WriteOnlyCell(ws)
    if isinstance(value, str):
        if value:
            set_text(made, value)   # sets quotePrefix on the cell's own style array
    else:
        made.value = value
    template = _style_array(ws.parent, style)
    if made.has_style:            # quotePrefix set above: keep it
        quote = made._style.quotePrefix
        made._style = copy(template)
        made._style.quotePrefix = quote
    else:
        made._style = copy(template)
    return made


_STYLE_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _style_array(workbook, style: CellStyle) -> StyleArray:
    """The style's index array in this workbook, registered once.

    Assigning font/border/fill per cell makes openpyxl hash the style objects for
    every cell, which dominates the time for a few hundred thousand cells.
    """
    per_book = _STYLE_CACHE.setdefault(workbook, {})
    found = per_book.get(id(style))     # styles are module constants; hashing them is slow
    if found is None:
        probe = WriteOnlyCell(_Parent(workbook))
        probe.font = style.font
        probe.alignment = style.alignment
        if style.border is not None:
            probe.border = style.border
        if style.fill is not None:
            probe.fill = style.fill
        if style.number_format:
            probe.number_format = style.number_format
        found = per_book[id(style)] = copy(probe._style)
    return found


class _Parent:
    """Just enough of a worksheet for openpyxl's style descriptors (they use .parent)."""

    def __init__(self, workbook):
        self.parent = workbook
