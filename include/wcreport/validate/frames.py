"""A parsed report as the frames the suites test: one row per task row, one per indicator.

Besides the cells, each row carries the derived columns the suites test: normalised
names and texts (so that whitespace, full-width forms and quote styles do not matter),
the deadline's kind and date, the indicator's ratio to its target and its previous
quarter's value. ``row_id`` is the row's position, how findings find the cell again.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wcreport.core.model import IndicatorValue, ParsedReport, ProgressRow
from wcreport.core.programme import Programme
from wcreport.core.text_keys import without_punctuation
from wcreport.intake.cells import parse_number
from wcreport.intake.task_names import TaskNames, task_names
from wcreport.validate.completion import parse_deadline

_QUOTES = re.compile(r"[\"'“”‘’„‟「」『』〝〞〃《》<>]")
_SPACES = re.compile(r"\s+")
_ATTACHMENT_NUMBER = re.compile(r"(附件|附表)[0-9一二三四五六七八九十]+")

# Per table: the columns GX sees as objects and as floats (``row_id`` stays as built).
COLUMNS = {
    "progress_rows": (("seq", "task_key", "task_name_match", "progress", "progress_norm", "progress_key",
                       "deadline_status"),
                      ("deadline_yyyymmdd",)),
    "indicators": (("key", "raw"), ("value", "previous_value", "ratio_to_target")),
}


# --- normalisation keys -----------------------------------------------------------------
def name_key(text: str | None) -> str:
    """Task names compared tolerant of whitespace, full-width forms and quote style."""
    text = unicodedata.normalize("NFKC", text or "")
    return _QUOTES.sub("", _SPACES.sub("", text))


def text_key(text: str | None) -> str:
    """Progress text compared tolerant of whitespace and full-width forms only."""
    return text_key_of_normal(unicodedata.normalize("NFKC", text or ""))


def text_key_of_normal(normal: str) -> str:
    """``text_key`` of a text already in NFKC."""
    return _SPACES.sub("", normal)


def placeholder_key(text: str | None) -> str:
    """What the placeholder list is compared with (column ``progress_norm``): the text in
    NFKC and lower case without whitespace, punctuation or symbols, and an attachment's
    number dropped, so "（详见附件1）。", "见 附件" and "详见附件" meet one list entry, and
    "/", "-" or "……" alone become "" (a text with nothing to read)."""
    return placeholder_key_of_normal(unicodedata.normalize("NFKC", text or ""))


def placeholder_key_of_normal(normal: str) -> str:
    """``placeholder_key`` of a text already in NFKC (a row's text is normalised once)."""
    return _ATTACHMENT_NUMBER.sub(r"\1", without_punctuation(normal.casefold()))


@dataclass(frozen=True)
class DeadlineColumns:
    """The two columns a 完成时限 text becomes."""

    status: str | None      # the deadline's kind (date, ongoing ...); None when empty
    yyyymmdd: float         # its date as a number, NaN when it has none


def deadline_columns(deadline: str, year: int) -> DeadlineColumns:
    parsed = parse_deadline(deadline if deadline.strip() else None, year)
    return DeadlineColumns(None if parsed.kind == "empty" else parsed.kind,
                           float(parsed.yyyymmdd) if parsed.yyyymmdd else math.nan)


# --- what the frames take from the programme ---------------------------------------------
@dataclass(frozen=True)
class ProgrammeFacts:
    """What a file's frames, parameters and messages take from the programme."""

    programme: Programme
    known_seqs: frozenset[int]
    programme_seqs: tuple[int, ...]
    task_keys: tuple[str, ...]
    indicators: dict[str, Any]      # indicator key -> the programme's indicator


def programme_facts(programme: Programme) -> ProgrammeFacts:
    return ProgrammeFacts(
        programme, frozenset(programme.tasks_by_seq), tuple(sorted(programme.tasks_by_seq)),
        tuple(f"{t.seq}|{name_key(t.name)}" for t in programme.tasks),
        {i.key: i for t in programme.tasks for i in t.indicators})


@dataclass(frozen=True)
class Derivations:
    """How the derived columns are computed: the programme's facts and the per-row keys.

    ``of`` computes every value; the quarter's batch passes the same functions memoised
    (units copy the programme's few task names and write the same few deadlines)."""

    facts: ProgrammeFacts
    task_name_key: Callable[[str], str] = name_key
    deadline_columns: Callable[[str, int], DeadlineColumns] = deadline_columns

    @classmethod
    def of(cls, programme: Programme) -> Derivations:
        return cls(programme_facts(programme))


# --- frames -------------------------------------------------------------------------------
def form_rows(parsed: ParsedReport, unit_seqs: set[int]) -> list[ProgressRow]:
    """The rows that are the unit's report: a blank row of another unit's task (the full
    notice form has all ten) is template, not report."""
    return [r for r in parsed.rows
            if r.progress.strip() or (r.seq is not None and r.seq in unit_seqs)]


def task_columns(row: ProgressRow, derive: Derivations, names: TaskNames) -> tuple[str | None, str | None]:
    """``task_key``: "<seq>|<name>", the name as the programme writes it when the written name
    (full, short, derived or a close variant) may mean that task; ``task_name_match``: how the
    written name resolved (``TaskMatch.how``), "by_seq" when it fits several tasks and the 序号
    is one of them, "ambiguous" when the 序号 does not decide."""
    match = names.match(row.task_name) if row.task_name.strip() else None
    fits = match is not None and names.fits(row.task_name, row.seq)
    key = None
    if row.seq in derive.facts.known_seqs:
        written = derive.facts.programme.tasks_by_seq[row.seq].name if fits else row.task_name
        key = f"{row.seq}|{derive.task_name_key(written)}"
    if match is None:
        return key, None
    if match.how == "ambiguous":
        return key, "by_seq" if fits else "ambiguous"
    return key, match.how


def rows_records(rows: list[ProgressRow], derive: Derivations, year: int) -> list[dict[str, Any]]:
    names = task_names(derive.facts.programme)
    records = []
    for i, row in enumerate(rows):
        progress = row.progress.strip()
        deadline = derive.deadline_columns(row.deadline, year)
        normal = unicodedata.normalize("NFKC", progress)
        task_key, task_name_match = task_columns(row, derive, names)
        records.append({
            "row_id": i,
            "seq": row.seq,
            "task_key": task_key,
            "task_name_match": task_name_match,
            "progress": progress or None,
            "progress_norm": placeholder_key_of_normal(normal) if progress else None,
            "progress_key": f"{row.seq}|{text_key_of_normal(normal)}" if progress else None,
            "deadline_status": deadline.status,
            "deadline_yyyymmdd": deadline.yyyymmdd,
        })
    return records


def indicator_value(ind: IndicatorValue) -> float | None:
    if ind.value is not None:
        return ind.value
    return parse_number(ind.raw)


def indicator_records(indicators: list[IndicatorValue], facts: ProgrammeFacts,
                      previous: dict[str, float]) -> list[dict[str, Any]]:
    records = []
    for i, ind in enumerate(indicators):
        value = indicator_value(ind)
        spec = facts.indicators.get(ind.key) if ind.key else None
        target = spec.target if spec else None
        records.append({
            "row_id": i,
            "key": ind.key,
            "raw": ind.raw.strip() or None,
            "value": math.nan if value is None else float(value),
            "previous_value": previous.get(ind.key, math.nan) if ind.key else math.nan,
            "ratio_to_target": (float(value) / target) if value is not None and target else math.nan,
        })
    return records


def typed_frame(table: str, records: list[dict[str, Any]], extra: tuple[str, ...] = ()):
    """The frame GX validates: ``records`` with the table's column types; ``extra``
    columns (the batch's item number, qualified columns) are kept as they are."""
    import pandas as pd

    objects, floats = COLUMNS[table]
    frame = pd.DataFrame.from_records(records, columns=["row_id", *objects, *floats, *extra])
    for name in objects:
        frame[name] = frame[name].astype(object)
    for name in floats:
        frame[name] = frame[name].astype(float)
    return frame
