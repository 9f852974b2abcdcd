"""Merge the accepted rows of all units into one quarter's consolidated model.

The model is what the report workbook and the quarter-end email are made from. It is
plain data (pydantic, JSON-serialisable) so the pipeline can write it to
``<output>/<quarter>/consolidated.json`` and the mail step can compare two versions.

``content_hash()`` covers only what a reader of the report sees and what identifies the
source data (texts, deadlines, indicator values, unit statuses, accepted file hashes);
it leaves out timestamps and paths so that a rerun over an unchanged inbox gives the
same hash and sends no mail.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

from pydantic import BaseModel, computed_field

from wcreport.core.labels import INDICATOR_STATUS_ZH, UNIT_STATUS_ZH
from wcreport.core.model import Manifest, ManifestUnit, UnitResult
from wcreport.core.programme import Indicator, Programme, Task
from wcreport.core.quarter import TZ, Quarter
from wcreport.report.pace import expectation, percent_of_target, verdict

# Status of one indicator against what the quarter asks for (rules: report.pace).
IndicatorStatus = str  # "done" | "on_track" | "in_progress" | "at_risk" | "no_data" (labels: core.labels)


class UnitText(BaseModel):
    """One unit's text for one task (the 本季度具体措施及任务进度情况 cell)."""

    unit: str                  # unit key
    unit_name: str
    text: str
    deadline: str = ""


class TaskSummary(BaseModel):
    seq: int
    name: str
    units_label: list[str]     # 责任单位 as the notice's form writes them
    unit_names: list[str]      # every responsible unit, by name, in programme order
    entries: list[UnitText] = []
    missing_units: list[str] = []   # responsible units with no accepted file (names)
    rejected_units: list[str] = []  # subset of missing_units whose file was rejected (names)
    silent_units: list[str] = []    # submitted, but wrote nothing for this task (names)

    @computed_field
    @property
    def deadline_text(self) -> str:
        """完成时限 for the summary row: one value if all units agree, else per unit."""
        values = [e.deadline for e in self.entries if e.deadline]
        if not values:
            return ""
        if len(set(values)) == 1:
            return values[0]
        return "\n".join(f"【{e.unit_name}】{e.deadline}" for e in self.entries if e.deadline)


class IndicatorProgress(BaseModel):
    key: str
    task_seq: int
    task_name: str
    name: str
    measure: str
    target: float
    comparison: str
    aggregate: str
    value: float | None = None          # reported cumulative value, aggregated
    percent: float | None = None        # value / target * 100
    pace: str = "linear"                # the programme's rule: linear, milestones, year_end, events
    expected_value: float | None = None     # what the quarter asks for; None: not judged yet
    expected_percent: float | None = None   # the same as % of target
    basis: str = ""                     # 判断依据: the rule in one Chinese sentence
    status: IndicatorStatus = "no_data"
    reporters: list[str] = []           # names of the units expected to report it
    reported_by: list[str] = []         # names of the units whose value was used

    @computed_field
    @property
    def on_track(self) -> bool | None:
        return None if self.status == "no_data" else self.status in ("done", "on_track", "in_progress")

    @property
    def status_zh(self) -> str:
        return INDICATOR_STATUS_ZH[self.status]


class DetailRow(BaseModel):
    """One unit's text for one task: the long table (明细)."""

    quarter: str
    seq: int
    task: str
    unit: str                  # unit key
    unit_name: str
    text: str
    deadline: str = ""
    source_file: str = ""
    sha256: str = ""
    sheet: str = ""
    row: int | None = None


class Consolidated(BaseModel):
    quarter: str
    quarter_label: str                  # 2023年第1季度
    programme_year: int
    title: str                          # the report's title for this quarter
    organiser: str
    deadline: dt.date                   # the quarter's reporting deadline
    generated_at: str                   # ISO time; not part of content_hash
    expected_units: int
    submitted_units: int
    tasks: list[TaskSummary]
    units: list[ManifestUnit]
    indicators: list[IndicatorProgress]
    details: list[DetailRow]
    warnings: list[str] = []
    # the fourth quarter's annual account (report.year.year_digest): the mailed workbook shows
    # the whole year, so a later change to an earlier quarter's words makes a 更正版 of it
    year_digest: str = ""

    # --- views -------------------------------------------------------------
    def units_with_status(self, status: str) -> list[ManifestUnit]:
        return [u for u in self.units if u.status == status]

    @property
    def late_units(self) -> list[ManifestUnit]:
        return [u for u in self.units if u.late]

    @property
    def indicators_at_risk(self) -> list[IndicatorProgress]:
        return [i for i in self.indicators if i.status in ("at_risk", "no_data")]

    def report_date(self) -> dt.date:
        try:
            stamp = dt.datetime.fromisoformat(self.generated_at)
        except ValueError:
            return dt.datetime.now(TZ).date()
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(TZ).date()

    # --- identity ------------------------------------------------------------
    def content_view(self) -> dict:
        """What the hash covers: visible content and source identity, no times or paths."""
        return {
            "quarter": self.quarter,
            "title": self.title,
            "tasks": [t.model_dump() for t in self.tasks],
            "units": [
                {"unit": u.unit, "status": u.status, "late": u.late,
                 "accepted_sha256": u.accepted_sha256, "reasons": u.reasons,
                 "warnings": u.warnings}
                for u in self.units
            ],
            "indicators": [i.model_dump() for i in self.indicators],
            "details": [
                {k: v for k, v in d.model_dump().items() if k not in ("source_file",)}
                for d in self.details
            ],
            # only when there is one, so the hashes of quarters without it stay as they were
            **({"year": self.year_digest} if self.year_digest else {}),
        }

    def content_hash(self) -> str:
        payload = json.dumps(self.content_view(), ensure_ascii=False, sort_keys=True,
                             separators=(",", ":"), default=str)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def snapshot(self) -> dict:
        """Small summary stored in the mail ledger, to describe the next correction."""
        return {
            "units": {u.unit: {"name": u.unit_name, "status": u.status, "late": u.late,
                               "sha256": u.accepted_sha256} for u in self.units},
            "indicators": {i.key: {"name": i.name, "value": i.value, "measure": i.measure,
                                   "status": i.status} for i in self.indicators},
            "texts": text_digests(self),
            "tasks": {str(t.seq): {"name": t.name, "digest": _digest(t.model_dump_json())} for t in self.tasks},
        }


def text_digests(c: Consolidated) -> dict[str, str]:
    """One short digest per unit over all its texts (keeps the mail ledger's snapshot small)."""
    digests: dict = {}
    for d in c.details:
        h = digests.setdefault(d.unit, hashlib.sha256())
        h.update(f"{d.seq}\x1f{d.text}\x1e".encode())
    return {unit: h.hexdigest()[:16] for unit, h in digests.items()}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --- building ---------------------------------------------------------------
def report_title(programme: Programme, quarter: Quarter) -> str:
    """'2023年为…报表' -> '2023年第1季度为…报表' (the programme title names the year)."""
    title = programme.report.title
    prefix = f"{quarter.year}年"
    if title.startswith(prefix):
        return f"{quarter.label_zh}{title[len(prefix):]}"
    return f"{quarter.label_zh}{title}"


def consolidate(programme: Programme, quarter: Quarter | str, unit_results: list[UnitResult],
                manifest: Manifest) -> Consolidated:
    q = quarter if isinstance(quarter, Quarter) else Quarter.parse(str(quarter))
    warnings: list[str] = []
    units = _units_in_programme_order(programme, manifest, warnings)
    status = {u.unit: u.status for u in units}
    accepted = {r.unit: r for r in unit_results
                if r.status == "submitted" and status.get(r.unit) == "submitted"}
    for r in unit_results:
        if r.status == "submitted" and status.get(r.unit) != "submitted":
            warnings.append(f"{r.unit_name}：单位结果为已报送，但清单状态为"
                            f"{UNIT_STATUS_ZH.get(status.get(r.unit, 'missing'))}，未汇总其内容。")
    sources = {u.unit: (u.accepted_file or "", u.accepted_sha256 or "") for u in units}

    texts = _texts_by_task(programme, accepted, warnings)
    tasks = [_task_summary(programme, task, texts.get(task.seq, {}), status)
             for task in programme.tasks]
    details = []
    for summary in tasks:
        for entry in summary.entries:
            _, sheet, row, _ = texts[summary.seq][entry.unit]
            source_file, source_sha = sources.get(entry.unit, ("", ""))
            details.append(DetailRow(
                quarter=str(q), seq=summary.seq, task=summary.name, unit=entry.unit,
                unit_name=entry.unit_name, text=entry.text, deadline=entry.deadline,
                source_file=source_file,
                sha256=accepted[entry.unit].accepted_sha256 or source_sha,
                sheet=sheet, row=row))
    indicators = [_indicator_progress(programme, q, task, ind, accepted, warnings)
                  for task in programme.tasks for ind in task.indicators]
    return Consolidated(
        quarter=str(q), quarter_label=q.label_zh, programme_year=programme.year,
        title=report_title(programme, q), organiser=programme.report.organiser,
        deadline=programme.deadline(q.number),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        expected_units=len(programme.units),
        submitted_units=sum(1 for u in units if u.status == "submitted"),
        tasks=tasks, units=units, indicators=indicators, details=details, warnings=warnings,
    )


def _units_in_programme_order(programme: Programme, manifest: Manifest,
                              warnings: list[str]) -> list[ManifestUnit]:
    by_key = {u.unit: u for u in manifest.units}
    units = []
    for unit in programme.units:
        found = by_key.pop(unit.key, None)
        if found is None:
            warnings.append(f"{unit.name}：清单中没有该单位，按未报送处理。")
            found = ManifestUnit(unit=unit.key, unit_name=unit.name, status="missing")
        units.append(found)
    for extra in by_key.values():
        warnings.append(f"清单中的单位 {extra.unit_name}（{extra.unit}）不在本年度实事文件中，未汇总。")
    return units


# texts[seq][unit] = (text, sheet, row, deadline)
def _texts_by_task(programme: Programme, accepted: dict[str, UnitResult],
                   warnings: list[str]) -> dict[int, dict[str, tuple]]:
    by_name = {t.name: t.seq for t in programme.tasks}
    responsible = {t.seq: set(t.units) for t in programme.tasks}
    out: dict[int, dict[str, list]] = defaultdict(dict)
    for unit_key, result in accepted.items():
        for row in result.rows:
            seq = row.seq if row.seq in programme.tasks_by_seq else by_name.get(row.task_name.strip())
            text = (row.progress or "").strip()
            if seq is None:
                if text:
                    warnings.append(f"{result.unit_name}：第{row.row}行的序号/实事名称无法对应实事，"
                                    "内容未汇总。")
                continue
            if not text:
                continue
            if unit_key not in responsible[seq]:
                warnings.append(f"{result.unit_name}：填报了非本单位责任的第{seq}项实事，已一并汇总。")
            slot = out[seq].get(unit_key)
            if slot is None:
                out[seq][unit_key] = [text, row.sheet, row.row, (row.deadline or "").strip()]
            else:  # several rows for one task: keep them all, in row order
                slot[0] = f"{slot[0]}\n{text}"
                slot[3] = slot[3] or (row.deadline or "").strip()
    return {seq: {k: tuple(v) for k, v in d.items()} for seq, d in out.items()}


def _task_summary(programme: Programme, task: Task, texts: dict[str, tuple],
                  status: dict[str, str]) -> TaskSummary:
    own = set(task.units)
    order = list(task.units) + [k for k in texts if k not in own]
    entries = [UnitText(unit=k, unit_name=programme.units_by_key[k].name, text=texts[k][0],
                        deadline=texts[k][3]) for k in order if k in texts]
    missing = [programme.units_by_key[k].name for k in task.units if status.get(k) != "submitted"]
    rejected = [programme.units_by_key[k].name for k in task.units if status.get(k) == "rejected"]
    silent = [programme.units_by_key[k].name for k in task.units
              if status.get(k) == "submitted" and k not in texts]
    return TaskSummary(seq=task.seq, name=task.name,
                       units_label=programme.units_label_for_form(task),
                       unit_names=[programme.units_by_key[k].name for k in task.units],
                       entries=entries, missing_units=missing, rejected_units=rejected,
                       silent_units=silent)


def _indicator_progress(programme: Programme, quarter: Quarter, task: Task, ind: Indicator,
                        accepted: dict[str, UnitResult], warnings: list[str]) -> IndicatorProgress:
    reporters = ind.reporters or task.units
    values: list[tuple[str, float]] = []
    for key in reporters:
        result = accepted.get(key)
        if result is None:
            continue
        found = [v.value for v in result.indicators if v.key == ind.key and v.value is not None]
        if not found:
            continue
        if len(set(found)) > 1:
            warnings.append(f"{result.unit_name}：指标「{ind.name}」填报了多个不同的数值 "
                            f"{sorted(set(found))}，取最大值 {max(found):g}。")
        values.append((programme.units_by_key[key].name, max(found)))
    expected = expectation(ind, quarter.number)
    progress = IndicatorProgress(
        key=ind.key, task_seq=task.seq, task_name=task.name, name=ind.name, measure=ind.measure,
        target=ind.target, comparison=ind.comparison, aggregate=ind.aggregate, pace=ind.pace,
        expected_value=None if expected.value is None else round(expected.value, 4),
        expected_percent=expected.percent, basis=expected.basis,
        reporters=[programme.units_by_key[k].name for k in reporters],
        reported_by=[name for name, _ in values],
    )
    if not values:
        return progress
    nums = [v for _, v in values]
    value = round(sum(nums) if ind.aggregate == "sum" else max(nums), 4)
    return progress.model_copy(update={"value": value, "percent": percent_of_target(ind, value),
                                       "status": verdict(ind, value, expected)})
