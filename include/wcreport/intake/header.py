"""The form's header as people draw it: one row, or a parent header merged over sub-headers.

A header band is the header row plus up to two rows of sub-headers below it (「本季度具体
措施及任务进度情况」 merged over 「具体措施」|「进度情况」, possibly split once more). Each
column takes the field its topmost header text names; every column under the progress
header is read (``progress``), and the columns no field claims are listed (``unplaced``)
so their text is reported, never dropped silently.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wcreport.intake.cells import cell_text, squeeze
from wcreport.intake.reader import SheetGrid

Classify = Callable[[object], "str | None"]
Anchors = dict[tuple[int, int], tuple[int, int]]
_MAX_SUB_ROWS = 2
_SUB_HEADER_MAX_CHARS = 20
_SENTENCE_MARKS = "，。；;,!！?？"
# A column or sheet marked for reference only (the template shows the previous quarter's
# accepted text as "上季度报送内容（仅供参考）"): never read as this quarter's report.
_REFERENCE_MARKS = ("仅供参考", "上季度")


def is_reference(value: object) -> bool:
    """A header or sheet name that marks reference material, not the unit's report."""
    text = squeeze(value)
    return any(mark in text for mark in _REFERENCE_MARKS)


@dataclass(frozen=True)
class ProgressColumn:
    """One column under the progress header; ``label`` names it when there are several."""

    col: int
    label: str


@dataclass(frozen=True)
class HeaderLayout:
    """Where the header is and which column holds what (0-based rows and columns)."""

    first_row: int
    last_row: int
    columns: dict[str, int]                    # field -> its first column
    progress: tuple[ProgressColumn, ...] = ()  # every progress column, in column order
    unplaced: dict[int, str] = field(default_factory=dict)  # column -> its header text ("" when none)

    @property
    def labelled(self) -> bool:
        """Several progress columns with distinct labels: each piece is written with its label."""
        return len({c.label for c in self.progress}) > 1


def merge_anchors(sheet: SheetGrid) -> Anchors:
    """Each cell of a (reasonably sized) merged range -> the range's top-left cell."""
    out: Anchors = {}
    for r1, c1, r2, c2 in sheet.merged:
        if (r2 - r1 + 1) * (c2 - c1 + 1) > 10_000:
            continue
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                out[(r, c)] = (r1, c1)
    return out


def find_header_row(cells: list[list[object]], classify: Classify, need: set[str]) -> int | None:
    """First row naming the ``need`` fields and 3 fields in all (the fullest of them, 5 stops)."""
    best: tuple[int, int] | None = None
    for r, row in enumerate(cells[:60]):
        found = {name for name in (classify(v) for v in row) if name}
        if need <= found and len(found) >= 3:
            if best is None or len(found) > best[1]:
                best = (r, len(found))
            if len(found) >= 5:
                break
    return None if best is None else best[0]


def layout_at(sheet: SheetGrid, cells: list[list[object]], row: int, classify: Classify) -> HeaderLayout:
    """The header band starting at ``row`` (``cells`` has merged ranges filled in)."""
    anchors = merge_anchors(sheet)
    last = row
    while last - row < _MAX_SUB_ROWS and _is_sub_header(sheet, cells, anchors, row, last + 1, classify):
        last += 1
    width = max((len(cells[r]) for r in range(row, len(cells))), default=0)
    columns: dict[str, int] = {}
    progress: list[ProgressColumn] = []
    unplaced: dict[int, str] = {}
    for c in range(width):
        texts = _band_texts(cells, row, last, c)
        names = [(i, classify(t)) for i, t in enumerate(texts)]
        named = next(((i, n) for i, n in names if n), None)
        if named is None:
            if not any(is_reference(t) for t in texts):
                unplaced[c] = "·".join(squeeze(t) for t in texts)
            continue
        top, name = named
        if name == "progress":
            below = [squeeze(t) for t in texts[top + 1:]]
            progress.append(ProgressColumn(c, "·".join(below) or squeeze(texts[top])))
        if name in columns:
            if name != "progress":
                unplaced[c] = "·".join(squeeze(t) for t in texts)
            continue
        columns[name] = c
    return HeaderLayout(row, last, columns, tuple(progress), unplaced)


def _band_texts(cells: list[list[object]], first: int, last: int, c: int) -> list[str]:
    """The column's header texts top to bottom, a text repeated by a vertical merge once."""
    out: list[str] = []
    for r in range(first, last + 1):
        text = cell_text(cells[r][c]) if c < len(cells[r]) else ""
        if text and (not out or out[-1] != text):
            out.append(text)
    return out


def _is_sub_header(sheet: SheetGrid, cells: list[list[object]], anchors: Anchors, first: int, r: int,
                   classify: Classify) -> bool:
    """Row ``r`` carries sub-headers: only short labels, each under a parent merged across
    columns above it or itself naming a field, and no 序号 of its own."""
    if r >= len(cells) or r >= len(sheet.cells):
        return False
    spans = _parent_spans(sheet, first, r)
    own = [(c, cell_text(v)) for c, v in enumerate(sheet.cells[r])
           if cell_text(v) and anchors.get((r, c), (r, c)) == (r, c)]
    if not own:
        return False
    for c, text in own:
        flat = squeeze(text)
        if len(flat) > _SUB_HEADER_MAX_CHARS or any(m in flat for m in _SENTENCE_MARKS):
            return False
        if classify(text) == "seq" or flat.isdigit():
            return False
        if not (classify(text) or any(c1 <= c <= c2 for c1, c2 in spans)):
            return False
    return True


def _parent_spans(sheet: SheetGrid, first: int, r: int) -> list[tuple[int, int]]:
    """Column spans of ranges merged across columns in the band's rows above ``r``."""
    return [(c1, c2) for r1, c1, r2, c2 in sheet.merged if first <= r1 < r and r2 < r and c2 > c1]
