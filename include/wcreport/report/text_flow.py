"""The paging engine: a column's paragraphs handed out row by row, and page by page.

A row ends after whole paragraphs where it can (a unit's text starts on a fresh row
rather than mid-sentence); a paragraph that must continue in the next row ends with
（接下行）, and its rest starts with （接上行）. Each row's text is re-measured, so the
markers are part of the height. No row is taller than ``MAX_ROW_LINES`` lines
(``report.layout``), and ``room`` keeps a row within what is left of its page.
"""
from __future__ import annotations

from wcreport.report.layout import MAX_ROW_LINES
from wcreport.report.measure import height_for_lines, line_count, lines_in, wrap_marked

CONT_NEXT = "（接下行）"
CONT_PREV = "（接上行）"


class TextFlow:
    """The visual lines of a column's paragraphs, handed out row by row."""

    def __init__(self, paragraphs: list[str], width: float) -> None:
        self.width = width
        # (paragraph index, line within the paragraph, text, lines of the whole paragraph,
        #  whether the line follows a line break inside the paragraph)
        self.lines: list[tuple[int, int, str, int, bool]] = []
        for p, paragraph in enumerate(paragraphs):
            wrapped = wrap_marked(paragraph, width)
            self.lines += [(p, i, text, len(wrapped), hard) for i, (text, hard) in enumerate(wrapped)]
        self.pos = 0

    @property
    def done(self) -> bool:
        return self.pos >= len(self.lines)

    def take(self, max_lines: int, room: float | None = None) -> tuple[str, int] | None:
        """Text and wrapped lines of one row of at most ``max_lines`` lines; None when nothing fits.

        ``room`` (pt) is what is left of the page for this row and the next ones.
        """
        for budget in range(max_lines, 0, -1):
            end = self._end(self.pos, budget, room)
            if end == self.pos:
                return None
            text = self._text(self.pos, end)
            marked = self.lines[self.pos][1] > 0 or (end < len(self.lines) and self.lines[end][1] > 0)
            lines = line_count(text, self.width) if marked else end - self.pos
            if lines <= max_lines:
                self.pos = end
                return text, lines
        return None

    def rows(self, max_lines: int | None = None) -> list[tuple[str, int]]:
        """All the remaining text as rows of at most ``max_lines`` lines (default: a row's maximum)."""
        max_lines = max_lines or MAX_ROW_LINES
        out = []
        while not self.done:
            taken = self.take(max_lines)
            if taken is None:
                raise ValueError(f"a line does not fit a row of {max_lines} lines")
            out.append(taken)
        return out or [("", 1)]

    def fill_page(self, room: float) -> list[tuple[str, float]]:
        """Rows (text, height pt) of the remaining text that fit in ``room`` pt, as many as fit."""
        rows: list[tuple[str, float]] = []
        while not self.done:
            left = room - sum(h for _, h in rows)
            max_lines = min(MAX_ROW_LINES, lines_in(left))
            taken = self.take(max_lines, left) if max_lines >= 1 else None
            if taken is None:
                break
            rows.append((taken[0], height_for_lines(taken[1])))
        return rows

    def _end(self, start: int, budget: int, room: float | None) -> int:
        end = min(len(self.lines), start + budget)
        if end < len(self.lines) and self.lines[end][1] > 0:
            # the row would end mid-paragraph: end it before the paragraph if that paragraph
            # fits a fresh row (on this page) whole and something else is already in this row
            first = end - self.lines[end][1]
            fresh = MAX_ROW_LINES if room is None else \
                min(MAX_ROW_LINES, lines_in(room - height_for_lines(first - start)))
            if first > start and self.lines[first][3] <= fresh:
                return first
        return end

    def _text(self, start: int, end: int) -> str:
        parts: list[str] = []
        for k in range(start, end):
            _, i, text, _, hard = self.lines[k]
            if k == start and i > 0:
                parts.append(CONT_PREV + text)
            elif k == start:
                parts.append(text)
            else:
                parts.append(("\n" if i == 0 or hard else "") + text)
        if end < len(self.lines) and self.lines[end][1] > 0:
            parts.append(CONT_NEXT)
        return "".join(parts)
