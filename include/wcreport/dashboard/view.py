"""What the submission dashboard shows, built from manifest files only.

Everything here is plain data and cheap: it reads ``<output>/<quarter>/manifest.json``,
optionally ``consolidated.json`` and the programme YAML (for the task columns and the
units' order, which is also the map index of the ``ingest_unit`` task instance). No
pandas, no Great Expectations, no workbooks.
"""
from __future__ import annotations

import json
import os
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from wcreport.core.labels import INDICATOR_STATUS_ZH, STAMPED_ZH, TASK_STATUS_ZH, UNIT_STATUS_ZH, label, stamped_state
from wcreport.core.model import Manifest, ManifestUnit
from wcreport.core.quarter import Quarter
from wcreport.core.settings import settings
from wcreport.dashboard.mail_state import MailState, mail_state
from wcreport.dashboard.times import BEIJING, beijing_time  # noqa: F401 - part of this module's interface
from wcreport.dashboard.year_state import YearState, year_state

# Status of one unit × task cell, as the manifest writes it -> canonical name.
_STATUS_ALIASES = {
    "accepted": "accepted",
    "ok": "accepted",
    "warning": "warning",
    "warnings": "warning",
    "accepted_with_warnings": "warning",
    "accepted-with-warnings": "warning",
    "rejected": "rejected",
    "missing": "missing",
}
CELL_STATUSES = ("accepted", "warning", "rejected", "missing")
CELL_LABEL_ZH = TASK_STATUS_ZH     # the template and app.py read the labels from here
CELL_SYMBOL = {"accepted": "✓", "warning": "!", "rejected": "✗", "missing": "○", "unknown": "?", "na": ""}

_QUARTER_DIR = re.compile(r"^\d{4}Q[1-4]$")
PAGE_SIZE = 200


def normalise_status(raw: str | None) -> str:
    if raw is None:
        return "unknown"
    return _STATUS_ALIASES.get(str(raw).strip().lower(), "unknown")


# --- quarters and files ---------------------------------------------------------
def list_quarters(output_root: Path) -> list[str]:
    """Quarters that have a manifest.json, newest first."""
    try:
        entries = os.scandir(output_root)
    except OSError:
        return []
    with entries:
        found = [e.name for e in entries
                 if _QUARTER_DIR.match(e.name) and os.path.isfile(os.path.join(e.path, "manifest.json"))]
    return sorted(found, reverse=True)


def canonical_quarter(text: str) -> str:
    """'2023q1' -> '2023Q1'; raises ValueError for anything that is not a quarter."""
    return str(Quarter.parse(text))


class _MtimeCache:
    """Parsed files keyed by path, reused while (mtime_ns, size) is unchanged."""

    def __init__(self, maxsize: int = 8) -> None:
        self._items: OrderedDict[str, tuple[tuple[int, int], object]] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def get(self, path: Path, parse):
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        key = str(path)
        with self._lock:
            hit = self._items.get(key)
            if hit and hit[0] == stamp:
                self._items.move_to_end(key)
                return hit[1]
        value = parse(path)
        with self._lock:
            self._items[key] = (stamp, value)
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_manifests = _MtimeCache()
_programmes = _MtimeCache()


def load_manifest(path: Path, *, cached: bool = True) -> Manifest:
    parse = lambda p: Manifest.model_validate_json(p.read_bytes())  # noqa: E731
    return _manifests.get(path, parse) if cached else parse(path)


def load_consolidated_indicators(path: Path) -> list[dict]:
    """Indicator progress from consolidated.json; [] when absent or unreadable."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return []
    items = data.get("indicators") if isinstance(data, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _load_programme(year: int):
    """The programme of a year, or None if its file is missing or invalid."""
    from wcreport.core.programme import ProgrammeError, load_programme, programme_path_for

    path = programme_path_for(year)
    try:
        return _programmes.get(path, load_programme)
    except (OSError, ProgrammeError):
        return None


def clear_caches(*, programmes: bool = True) -> None:
    _manifests.clear()
    if programmes:
        _programmes.clear()


# --- the view -------------------------------------------------------------------
@dataclass
class TaskColumn:
    seq: int
    name: str
    responsible: int = 0
    counts: Counter = field(default_factory=Counter)


@dataclass
class Cell:
    seq: int
    status: str            # accepted / warning / rejected / missing / unknown / na
    raw: str | None        # the manifest's own value, None if the manifest has none

    @property
    def label(self) -> str:
        return CELL_LABEL_ZH[self.status]

    @property
    def symbol(self) -> str:
        return CELL_SYMBOL[self.status]


@dataclass
class Row:
    unit: ManifestUnit
    map_index: int | None
    cells: list[Cell]

    @property
    def status_zh(self) -> str:
        return label(UNIT_STATUS_ZH, self.unit.status)

    @property
    def stamped(self) -> str:
        """A key of STAMPED_ZH for the unit's stamped copy (盖章件)."""
        return stamped_state(self.unit.stamped_copy, settings().stamped_agreement_min)

    @property
    def stamped_zh(self) -> str:
        return label(STAMPED_ZH, self.stamped)

    @property
    def stamped_title(self) -> str:
        copy = self.unit.stamped_copy
        if copy is None:
            return "尚未收到盖章扫描件"
        parts = [f"文件：{copy.path}"]
        if copy.agreement is not None:
            parts.append(f"与电子版一致程度：{copy.agreement:.0%}")
        parts.extend(copy.reasons[:2])
        return "；".join(parts)


@dataclass
class IndicatorBar:
    key: str
    name: str
    task_seq: int | None
    value: float | None
    target: float | None
    measure: str
    percent: float | None
    expected_percent: float | None
    status: str

    @property
    def width(self) -> float:
        return max(0.0, min(100.0, self.percent or 0.0))

    @property
    def status_zh(self) -> str:
        return label(INDICATOR_STATUS_ZH, self.status)


@dataclass
class QuarterView:
    quarter: str
    label_zh: str
    manifest: Manifest
    tasks: list[TaskColumn]
    rows: list[Row]                   # the rows of this page
    total_rows: int
    page: int
    pages: int
    unit_counts: Counter
    cell_counts: Counter
    late_units: int
    indicators: list[IndicatorBar]
    programme_found: bool
    status_filter: str | None = None
    mail: MailState | None = None       # the quarter's mail to the leaders and its reviews (mail_state)
    year: YearState | None = None       # the annual account, in a fourth quarter (year_state)


def _cell_for(unit: ManifestUnit, seq: int, responsible: bool) -> Cell:
    raw = unit.tasks.get(seq)
    if raw is not None:
        return Cell(seq, normalise_status(raw), raw)
    if not responsible:
        return Cell(seq, "na", None)
    # Responsible, but the manifest lists no status for this task.
    derived = {"missing": "missing", "rejected": "rejected"}.get(unit.status, "unknown")
    return Cell(seq, derived, None)


def build_view(output_root: Path, quarter: str, *, page: int = 1, page_size: int = PAGE_SIZE,
               status_filter: str | None = None, cached: bool = True) -> QuarterView:
    """Everything the page shows for one quarter. Raises FileNotFoundError without a manifest."""
    q = Quarter.parse(quarter)
    folder = output_root / str(q)
    manifest = load_manifest(folder / "manifest.json", cached=cached)
    programme = _load_programme(manifest.programme_year)

    if programme is not None:
        tasks = [TaskColumn(t.seq, t.name) for t in programme.tasks]
        responsible = {t.seq: set(t.units) for t in programme.tasks}
        map_index = {u.key: i for i, u in enumerate(programme.units)}
    else:  # no programme file: columns from the manifest itself, no task instance links
        seqs = sorted({s for u in manifest.units for s in u.tasks})
        tasks = [TaskColumn(s, f"第{s}项") for s in seqs]
        responsible = {s: {u.unit for u in manifest.units if s in u.tasks} for s in seqs}
        map_index = {}

    rows: list[Row] = []
    cell_counts: Counter = Counter()
    for unit in manifest.units:
        cells = []
        for col in tasks:
            is_resp = unit.unit in responsible.get(col.seq, ()) or col.seq in unit.tasks
            cell = _cell_for(unit, col.seq, is_resp)
            cells.append(cell)
            if cell.status != "na":
                col.responsible += 1
                col.counts[cell.status] += 1
                cell_counts[cell.status] += 1
        rows.append(Row(unit, map_index.get(unit.unit), cells))

    unit_counts = Counter(u.status for u in manifest.units)
    late = sum(1 for u in manifest.units if u.late)

    if status_filter in UNIT_STATUS_ZH:
        rows = [r for r in rows if r.unit.status == status_filter]
    else:
        status_filter = None
    total = len(rows)
    page_size = max(1, page_size)
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    shown = rows[(page - 1) * page_size: page * page_size]

    indicators = _indicator_bars(load_consolidated_indicators(folder / "consolidated.json"), programme)
    return QuarterView(
        quarter=str(q), label_zh=q.label_zh, manifest=manifest, tasks=tasks, rows=shown,
        total_rows=total, page=page, pages=pages, unit_counts=unit_counts,
        cell_counts=cell_counts, late_units=late, indicators=indicators,
        programme_found=programme is not None, status_filter=status_filter,
        mail=mail_state(output_root, str(q)), year=year_state(output_root, str(q)))


def _num(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _indicator_bars(items: list[dict], programme) -> list[IndicatorBar]:
    known = {}
    if programme is not None:
        known = {i.key: (t.seq, i) for t in programme.tasks for i in t.indicators}
    bars = []
    for item in items:
        key = str(item.get("key") or "")
        seq, ind = known.get(key, (None, None))
        target = _num(item.get("target"))
        if target is None and ind is not None:
            target = ind.target
        value = _num(item.get("value"))
        percent = _num(item.get("percent"))
        if percent is None and value is not None and target:
            percent = value / target * 100
        status = str(item.get("status") or ("no_data" if value is None else ""))
        bars.append(IndicatorBar(
            key=key,
            name=str(item.get("name") or (ind.name if ind else key)),
            task_seq=int(task_seq) if (task_seq := _num(item.get("task_seq"))) is not None else seq,
            value=value, target=target,
            measure=str(item.get("measure") or (ind.measure if ind else "")),
            percent=percent, expected_percent=_num(item.get("expected_percent")),
            status=status))
    return bars


def grid_as_dict(view: QuarterView) -> dict:
    """The grid as plain data (for the JSON endpoint and tests)."""
    return {
        "quarter": view.quarter,
        "tasks": [{"seq": t.seq, "name": t.name, "responsible": t.responsible,
                   "counts": dict(t.counts)} for t in view.tasks],
        "units": [{"unit": r.unit.unit, "unit_name": r.unit.unit_name, "status": r.unit.status,
                   "map_index": r.map_index, "feedback": r.unit.feedback,
                   "cells": {str(c.seq): c.status for c in r.cells}} for r in view.rows],
        "unit_counts": dict(view.unit_counts),
        "cell_counts": dict(view.cell_counts),
        "page": view.page, "pages": view.pages, "total_rows": view.total_rows,
    }
