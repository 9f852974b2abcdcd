"""The year in one report: every quarter of the programme year, read back from the output root.

The fourth quarter's workbook carries the annual account (``report.sheets.year``). Its
data are the quarters' own outputs as the pipeline left them on disk:
``<output>/<quarter>/consolidated.json`` (the latest accepted words of every unit), the
quarter's ``manifest.json`` and the archived copy of every accepted file. The quarter being
merged is passed in memory. A quarter whose output is missing or damaged is never read
as "nobody reported": it is named (``QuarterSource.problem``) and its cells say so.

A unit's words changed after the quarter's first mail to the leaders (a correction in
November to the second quarter) are shown as they are now, with a note: the mail ledger's
first mail of that quarter keeps a digest of every unit's texts (``Consolidated.snapshot``).

Indicators are judged by their own rule (``Indicator.pace``): ``year_end`` indicators are
levels or one-off results, read at the last quarter (point in time); the others are
cumulative counts, whose latest reported value is the year's so far.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from wcreport.core.io import DamagedStateError, read_json
from wcreport.core.model import Manifest, ManifestUnit
from wcreport.core.programme import Indicator, Programme
from wcreport.core.quarter import Quarter, local_time
from wcreport.report.consolidate import Consolidated, text_digests
from wcreport.report.pace import expectation, verdict

SourceState = Literal["ok", "missing", "damaged"]
CellState = Literal["submitted", "silent", "missing", "rejected", "unavailable"]
YearVerdict = Literal["done", "not_done", "in_progress", "unknown"]
Rule = Literal["cumulative", "point"]

LEDGER_NAME = "mail_ledger.json"


class QuarterSource(BaseModel):
    """Where one quarter's data came from, and whether it could be read."""

    quarter: str
    label: str                          # 第2季度
    state: SourceState
    problem: str = ""                   # Chinese: why the quarter could not be read
    first_mailed_at: str | None = None  # ISO time of the quarter's first mail to the leaders


class YearCell(BaseModel):
    """One unit's words for one task in one quarter, as last accepted."""

    quarter: str
    state: CellState
    text: str = ""
    notes: list[str] = []               # Chinese: 逾期报送, a later correction, …


class YearUnitRow(BaseModel):
    unit: str
    unit_name: str
    cells: list[YearCell]               # one per quarter of the year so far


class UnitWords(BaseModel):
    unit_name: str
    text: str


class YearTask(BaseModel):
    seq: int
    name: str
    rows: list[YearUnitRow]
    verdict: YearVerdict = "unknown"
    why: list[str] = []                 # Chinese: the indicators short of their target, or why none judge it
    words: list[UnitWords] = []         # the units' own words for it in the last quarter


class YearIndicator(BaseModel):
    key: str
    task_seq: int
    task_name: str
    name: str
    measure: str
    target: float
    comparison: str
    pace: str
    rule: Rule
    values: list[float | None]          # per quarter, as reported (cumulative or level)
    year_value: float | None = None     # the year's result under the rule
    verdict: YearVerdict = "unknown"
    basis: str = ""                     # Chinese: how the year's result was taken


class ReportingGap(BaseModel):
    """A unit's late, missing or returned report in one quarter."""

    quarter: str
    label: str
    unit: str
    unit_name: str
    kind: Literal["late", "missing", "rejected"]


class YearAccount(BaseModel):
    year: int
    through: str                        # the last quarter included, e.g. 2023Q4
    title: str                          # 2023年为…报表——年度总结
    sources: list[QuarterSource]
    tasks: list[YearTask]
    indicators: list[YearIndicator]
    gaps: list[ReportingGap]
    corrections: list[str] = []         # Chinese: words changed after the quarter's first mail
    ledger_problem: str = ""            # Chinese: the mail ledger could not be read (corrections unknown)
    programme_changes: list[str] = []   # Chinese: a quarter merged under a different programme file

    @property
    def final(self) -> bool:
        return Quarter.parse(self.through).number == 4

    def tasks_with(self, verdict_: YearVerdict) -> list[YearTask]:
        return [t for t in self.tasks if t.verdict == verdict_]

    @property
    def unavailable(self) -> list[QuarterSource]:
        return [s for s in self.sources if s.state != "ok"]


# --- reading the quarters ----------------------------------------------------------------
class LoadedQuarter(BaseModel):
    source: QuarterSource
    consolidated: Consolidated | None = None
    first_mail: dict = {}               # the ledger's record of the quarter's first mail, if sent

    def late(self, unit: ManifestUnit) -> bool:
        """Late as the leaders were first told: a correction sent after the deadline is no late report."""
        mailed = (self.first_mail.get("snapshot") or {}).get("units", {}).get(unit.unit)
        if mailed and mailed.get("status") == "submitted" and not mailed.get("late"):
            return False
        return unit.late


def load_quarter(output_root: Path, quarter: Quarter) -> LoadedQuarter:
    """One earlier quarter's consolidated model, checked against its manifest and archive."""
    folder = output_root / str(quarter)
    label = f"第{quarter.number}季度"
    if not folder.is_dir():
        return _unavailable(quarter, "missing", f"{label}的输出文件夹不存在（未运行或已被删除）")
    try:
        consolidated = Consolidated.model_validate_json((folder / "consolidated.json").read_bytes())
        manifest = Manifest.model_validate_json((folder / "manifest.json").read_bytes())
    except FileNotFoundError as exc:
        return _unavailable(quarter, "missing", f"{label}的输出缺少{Path(exc.filename or '').name}")
    except (OSError, ValueError, ValidationError) as exc:
        return _unavailable(quarter, "damaged", f"{label}的汇总文件已损坏，无法读取（{exc.__class__.__name__}）")
    problem = _archive_problem(output_root, manifest, consolidated, label)
    if problem:
        return _unavailable(quarter, "damaged", problem)
    source = QuarterSource(quarter=str(quarter), label=label, state="ok")
    return LoadedQuarter(source=source, consolidated=consolidated)


def _unavailable(quarter: Quarter, state: SourceState, problem: str) -> LoadedQuarter:
    return LoadedQuarter(source=QuarterSource(quarter=str(quarter), label=f"第{quarter.number}季度",
                                              state=state, problem=problem))


def _archive_problem(output_root: Path, manifest: Manifest, consolidated: Consolidated, label: str) -> str:
    """The words shown must be those of the archived accepted files the manifest names."""
    by_unit = {u.unit: u for u in manifest.units}
    archived = {f.sha256: f.archived_as for f in manifest.files if f.archived_as}
    for unit in consolidated.units:
        if unit.status != "submitted":
            continue
        listed = by_unit.get(unit.unit)
        if listed is None or listed.accepted_sha256 != unit.accepted_sha256:
            return f"{label}的汇总文件与清单不一致（{unit.unit_name}），无法采用"
        kept = archived.get(unit.accepted_sha256 or "")
        if not kept or not (output_root / kept).is_file():
            return f"{label}中{unit.unit_name}已接收文件的存档副本缺失，无法核实其内容"
    return ""


LEDGER_UNREADABLE = "发送台账无法读取，无法核对各季度报送领导后是否有更正"


def first_mails(output_root: Path) -> dict[str, dict] | None:
    """The first mail sent for each quarter (its time and snapshot), from the mail ledger; None: unreadable."""
    try:
        ledger = read_json(output_root / LEDGER_NAME, lambda: {"sent": []})
        sent = [entry for entry in ledger.get("sent", []) if isinstance(entry, dict)]
    except (DamagedStateError, AttributeError):
        return None
    first: dict[str, dict] = {}
    for entry in sent:
        first.setdefault(str(entry.get("quarter", "")), entry)
    return first


# --- building the account ------------------------------------------------------------------
def build_year(programme: Programme, current: Consolidated, output_root: Path) -> YearAccount:
    """The programme year up to ``current``'s quarter; earlier quarters read from ``output_root``."""
    through = Quarter.parse(current.quarter)
    loaded = [load_quarter(output_root, Quarter(through.year, n)) for n in range(1, through.number)]
    current_source = QuarterSource(quarter=current.quarter, label=f"第{through.number}季度", state="ok")
    loaded.append(LoadedQuarter(source=current_source, consolidated=current))
    read = first_mails(output_root)
    mails = read if read is not None else {}
    for item in loaded:
        mail = mails.get(item.source.quarter)
        if mail:
            item.source.first_mailed_at = mail.get("sent_at")
            item.first_mail = mail
    corrections = _corrections(loaded, mails)
    tasks = [_year_task(programme, task.seq, loaded, corrections) for task in programme.tasks]
    indicators = [_year_indicator(task.seq, task.name, ind, loaded, final=through.number == 4)
                  for task in programme.tasks for ind in task.indicators]
    for task in tasks:
        _judge_task(task, [i for i in indicators if i.task_seq == task.seq], loaded[-1].consolidated)
    title = programme.report.title
    return YearAccount(
        year=programme.year, through=str(through), title=title, sources=[i.source for i in loaded],
        tasks=tasks, indicators=indicators, gaps=_gaps(loaded),
        corrections=[change.line for changes in corrections.values() for change in changes.values()],
        ledger_problem="" if read is not None else LEDGER_UNREADABLE,
        programme_changes=_programme_changes(programme, loaded))


class AfterMail(BaseModel):
    """A unit's words for a quarter changed after that quarter's first mail to the leaders."""

    kind: Literal["corrected", "added", "removed"]
    line: str                           # Chinese, for the summary page
    note: str                           # Chinese, for the unit's cell


def _corrections(loaded: list[LoadedQuarter], mails: dict[str, dict]) -> dict[str, dict[str, AfterMail]]:
    """quarter -> unit -> what changed after the quarter's first mail (the snapshot's text digests)."""
    out: dict[str, dict[str, AfterMail]] = {}
    for item in loaded:
        c, mail = item.consolidated, mails.get(item.source.quarter)
        if c is None or not mail:
            continue
        before = (mail.get("snapshot") or {}).get("texts", {})
        now = text_digests(c)
        sent = _day(mail.get("sent_at"))
        for unit in c.units:
            was, is_ = before.get(unit.unit), now.get(unit.unit)
            if was == is_:
                continue
            day, label, name = _day(unit.received_at), item.source.label, unit.unit_name
            if was is None:
                change = AfterMail(kind="added", line=f"{label}：{name}于{day}补报，{sent}报送领导的版本中无此内容",
                                   note=f"{day}补报，领导已收到的{label}报表中无此内容")
            elif is_ is None:
                change = AfterMail(kind="removed", line=f"{label}：{name}在{sent}报送领导后内容已移除（更正件被退回或撤回）",
                                   note=f"领导已收到的{label}报表中有该单位内容，其后已移除")
            else:
                change = AfterMail(kind="corrected", line=f"{label}：{name}于{day}更正，与{sent}报送领导的版本不同，"
                                                          "此处为更正后内容",
                                   note=f"{day}更正，领导已收到的{label}报表为更正前内容")
            out.setdefault(c.quarter, {})[unit.unit] = change
    return out


def _day(stamp: str | None) -> str:
    value = local_time(stamp)
    return f"{value.month}月{value.day}日" if value else (stamp or "（日期不明）")


def _year_task(programme: Programme, seq: int, loaded: list[LoadedQuarter],
               corrections: dict[str, dict[str, AfterMail]]) -> YearTask:
    task = programme.tasks_by_seq[seq]
    rows = [YearUnitRow(unit=key, unit_name=programme.units_by_key[key].name,
                        cells=[_cell(item, seq, key, corrections) for item in loaded])
            for key in task.units]
    return YearTask(seq=seq, name=task.name, rows=rows)


def _cell(item: LoadedQuarter, seq: int, unit_key: str, corrections: dict[str, dict[str, AfterMail]]) -> YearCell:
    quarter, c = item.source.quarter, item.consolidated
    if c is None:
        return YearCell(quarter=quarter, state="unavailable")
    unit = next((u for u in c.units if u.unit == unit_key), None)
    change = corrections.get(quarter, {}).get(unit_key)
    if unit is None or unit.status != "submitted":
        return YearCell(quarter=quarter, state="rejected" if unit and unit.status == "rejected" else "missing",
                        notes=[change.note] if change else [])
    summary = next((t for t in c.tasks if t.seq == seq), None)
    entry = next((e for e in summary.entries if e.unit == unit_key), None) if summary else None
    notes = ["逾期报送"] if item.late(unit) else []
    if change:
        notes.append(change.note)
    if entry is None:
        return YearCell(quarter=quarter, state="silent", notes=notes)
    return YearCell(quarter=quarter, state="submitted", text=entry.text, notes=notes)


def _year_indicator(seq: int, task_name: str, ind: Indicator, loaded: list[LoadedQuarter],
                    final: bool) -> YearIndicator:
    values = [_value_of(item, ind.key) for item in loaded]
    rule: Rule = "point" if ind.pace == "year_end" else "cumulative"
    base = YearIndicator(key=ind.key, task_seq=seq, task_name=task_name, name=ind.name, measure=ind.measure,
                         target=ind.target, comparison=ind.comparison, pace=ind.pace, rule=rule, values=values)
    last = len(loaded)
    if rule == "point":
        value = values[-1]
        basis = f"时点指标：取第{last}季度末的数值"
    else:
        known = [(n, v) for n, v in enumerate(values, 1) if v is not None]
        n_latest, value = known[-1] if known else (last, None)
        basis = f"累计指标：取最近一次报送的累计数（第{n_latest}季度）" if known else "累计指标"
        if value is not None and n_latest != last:
            basis += f"，第{last}季度未报数"
    if value is None:
        return base.model_copy(update={"basis": f"{basis}：未报数，无法判断"})
    reached = verdict(ind, value, expectation(ind, 4)) == "done"
    if reached:
        result: YearVerdict = "done"
    elif not final:
        result = "in_progress"
    elif rule == "point" or values[-1] is not None:
        result = "not_done"
    else:
        result = "unknown"
    return base.model_copy(update={"year_value": value, "verdict": result, "basis": basis})


def _value_of(item: LoadedQuarter, key: str) -> float | None:
    if item.consolidated is None:
        return None
    return next((i.value for i in item.consolidated.indicators if i.key == key), None)


def _judge_task(task: YearTask, indicators: list[YearIndicator], last: Consolidated | None) -> None:
    """A task is complete when every indicator is; its shortfalls told in the units' own words."""
    if not indicators:
        task.verdict = "unknown"
        task.why = ["无量化指标，请据各单位报送内容判断"]
    else:
        verdicts = {i.verdict for i in indicators}
        task.verdict = "done" if verdicts == {"done"} else "not_done" if "not_done" in verdicts else \
            "in_progress" if "in_progress" in verdicts else "unknown"
        task.why = [f"「{i.name}」{_result_text(i)}" for i in indicators if i.verdict != "done"]
    if task.verdict == "done":
        return
    if last is not None:
        summary = next((t for t in last.tasks if t.seq == task.seq), None)
        task.words = [UnitWords(unit_name=e.unit_name, text=e.text) for e in (summary.entries if summary else [])]


def _result_text(ind: YearIndicator) -> str:
    target = f"{ind.target:g}{ind.measure}"
    if ind.year_value is None:
        return f"未报数（目标{target}）"
    return f"年度结果{ind.year_value:g}{ind.measure}，目标{target}"


def _gaps(loaded: list[LoadedQuarter]) -> list[ReportingGap]:
    gaps = []
    for item in loaded:
        c = item.consolidated
        if c is None:
            continue
        for unit in c.units:
            kind = "late" if unit.status == "submitted" and item.late(unit) else \
                unit.status if unit.status in ("missing", "rejected") else None
            if kind:
                gaps.append(ReportingGap(quarter=c.quarter, label=item.source.label, unit=unit.unit,
                                         unit_name=unit.unit_name, kind=kind))
    return gaps


def _programme_changes(programme: Programme, loaded: list[LoadedQuarter]) -> list[str]:
    """A quarter merged under another version of the programme file is named, not mixed silently."""
    now = _programme_view(programme)
    changes = []
    for item in loaded:
        c = item.consolidated
        if c is None:
            continue
        then = {"tasks": {t.seq: t.name for t in c.tasks},
                "indicators": {i.key: (i.name, i.target, i.pace) for i in c.indicators}}
        if c.programme_year != programme.year or then != now:
            changes.append(f"{item.source.label}汇总时使用的实事文件与现行文件不同（"
                           f"{_difference(then, now)}），该季度的数值按指标代码对应列出")
    return changes


def _programme_view(programme: Programme) -> dict:
    return {"tasks": {t.seq: t.name for t in programme.tasks},
            "indicators": {i.key: (i.name, i.target, i.pace) for t in programme.tasks for i in t.indicators}}


def _difference(then: dict, now: dict) -> str:
    parts = []
    for seq in sorted(set(then["tasks"]) | set(now["tasks"])):
        if then["tasks"].get(seq) != now["tasks"].get(seq):
            parts.append(f"第{seq}项实事名称")
    for key in sorted(set(then["indicators"]) | set(now["indicators"])):
        a, b = then["indicators"].get(key), now["indicators"].get(key)
        if a != b:
            name = (b or a)[0]
            parts.append(f"指标「{name}」" + ("新增" if a is None else "删除" if b is None else "目标或判断方式"))
    return "、".join(parts) or "年度"


def year_digest(account: YearAccount) -> str:
    """What the leaders see of the year, hashed; when each quarter was mailed is left out (it
    changes once the fourth quarter itself is mailed, and the workbook does not show it)."""
    view = account.model_dump_json(exclude={"sources": {"__all__": {"first_mailed_at"}}})
    return hashlib.sha256(view.encode("utf-8")).hexdigest()
