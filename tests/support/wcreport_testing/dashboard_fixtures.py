"""Synthetic quarters for the dashboard's tests, benchmark and screenshots.

Builds real ``Manifest`` objects (the model the pipeline writes) and the files they
point to, so the dashboard can be exercised without running the pipeline:

- ``write_programme_quarter``: the real programme's units and tasks, statuses in a
  fixed pattern covering all four cell states, late units, feedback files, a report,
  Data Docs and a consolidated.json with indicator progress.
- ``write_synthetic_programme`` + ``write_programme_quarter``: a made-up programme
  with N units (the benchmark's 2,000-unit quarter).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import yaml

from wcreport.core.model import FileRecord, Manifest, ManifestUnit
from wcreport.core.programme import Programme, load_programme
from wcreport.core.quarter import Quarter

# Unit status by position (cycled): submitted twice as often as the others.
_UNIT_PATTERN = ("submitted", "submitted", "rejected", "submitted", "missing")


def _task_status(unit_status: str, i: int, j: int) -> str:
    if unit_status == "missing":
        return "missing"
    if unit_status == "rejected":
        return "rejected"
    return ("accepted", "accepted", "warning", "accepted", "missing")[(i + 2 * j) % 5]


def build_manifest(programme: Programme, quarter: str, *, output_root: Path | None = None,
                   write_files: bool = True) -> Manifest:
    """A manifest for every unit of ``programme``; writes the files it names if asked."""
    q = Quarter.parse(quarter)
    folder = (output_root / str(q)) if output_root else None
    units: list[ManifestUnit] = []
    files: list[FileRecord] = []
    deadline = programme.deadline(q.number) if q.year == programme.year else q.end
    for i, unit in enumerate(programme.units):
        status = _UNIT_PATTERN[i % len(_UNIT_PATTERN)]
        tasks = {t.seq: _task_status(status, i, j) for j, t in enumerate(programme.tasks_of(unit.key))}
        inbox_file = f"{unit.name}.xlsx" if status != "missing" else None
        feedback = f"{q}/feedback/{unit.key}.txt" if status != "missing" else None
        late = status == "submitted" and i % 4 == 3
        received = dt.datetime.combine(deadline, dt.time(9)) + dt.timedelta(days=1 if late else -2)
        units.append(ManifestUnit(
            unit=unit.key, unit_name=unit.name, status=status, late=late,
            files=[inbox_file] if inbox_file else [],
            accepted_file=inbox_file if status == "submitted" else None,
            accepted_sha256=f"{i:064x}" if status == "submitted" else None,
            received_at=received.isoformat(timespec="seconds") if inbox_file else None,
            warnings=["D7：进度情况过于简略，请补充具体数字。"] if "warning" in tasks.values() else [],
            reasons=["未找到“序号”表头行，请使用通知附件的报表格式。"] if status == "rejected" else [],
            feedback=feedback, tasks=tasks,
            data_docs=f"{q}/data_docs/units/{q}-{unit.key}.html" if status != "missing" else None))
        if inbox_file:
            files.append(FileRecord(
                path=inbox_file, size=12_345, mtime=received.timestamp(), sha256=f"{i:064x}",
                unit=unit.key, unit_source="unit_line",
                status="accepted" if status == "submitted" else "rejected",
                feedback=feedback))
    manifest = Manifest(
        quarter=str(q), programme_year=programme.year,
        generated_at=dt.datetime.combine(deadline, dt.time(18)).isoformat(timespec="seconds"),
        inbox=f"inbox/{q}", files=files, units=units,
        report=f"{q}/{programme.report.title}（{q.label_zh}）.xlsx",
        data_docs=f"{q}/data_docs/index.html")
    if folder is not None and write_files:
        _write_quarter_files(folder, output_root, manifest, programme)
    return manifest


def _write_quarter_files(folder: Path, output_root: Path, manifest: Manifest, programme: Programme) -> None:
    (folder / "feedback").mkdir(parents=True, exist_ok=True)
    (folder / "data_docs").mkdir(parents=True, exist_ok=True)
    for unit in manifest.units:
        if unit.feedback:
            text = f"{unit.unit_name}：{manifest.quarter} 报送反馈\n" + "\n".join(unit.reasons + unit.warnings)
            (output_root / unit.feedback).write_text(text + "\n", encoding="utf-8")
    for unit in manifest.units:
        if unit.data_docs:
            (output_root / unit.data_docs).parent.mkdir(parents=True, exist_ok=True)
            (output_root / unit.data_docs).write_text(
                f"<!doctype html><meta charset=utf-8><title>数据校验结果</title><h1>数据校验结果 · {unit.unit_name}</h1>",
                encoding="utf-8")
    if manifest.report:
        (output_root / manifest.report).write_bytes(b"PK\x03\x04 synthetic workbook for tests")
    if manifest.data_docs:
        (output_root / manifest.data_docs).write_text(
            "<!doctype html><meta charset=utf-8><title>Data Docs</title><h1>数据校验报告</h1>", encoding="utf-8")
    (folder / "manifest.json").write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    (folder / "consolidated.json").write_text(
        json.dumps(_consolidated(manifest, programme), ensure_ascii=False, indent=2), encoding="utf-8")


def _consolidated(manifest: Manifest, programme: Programme) -> dict:
    """The part of consolidated.json the dashboard reads: ``indicators``."""
    q = Quarter.parse(manifest.quarter)
    indicators = []
    for n, (task, ind) in enumerate((t, i) for t in programme.tasks for i in t.indicators):
        value = None if n % 6 == 5 else round(ind.target * ((n % 5) + 1) / 5 * q.number / 4, 2)
        percent = None if value is None else value / ind.target * 100 if ind.target else None
        expected = q.number * 25.0
        status = ("no_data" if value is None else "done" if percent >= 100
                  else "on_track" if percent >= expected else "at_risk")
        indicators.append({"key": ind.key, "task_seq": task.seq, "task_name": task.name, "name": ind.name,
                           "measure": ind.measure, "target": ind.target, "value": value,
                           "percent": percent, "expected_percent": expected, "status": status})
    return {"quarter": manifest.quarter, "indicators": indicators}


def write_programme_quarter(programme: Programme, quarter: str, output_root: Path) -> Manifest:
    return build_manifest(programme, quarter, output_root=output_root, write_files=True)


def write_synthetic_programme(directory: Path, year: int, n_units: int, n_tasks: int = 10) -> Programme:
    """A valid programme YAML with ``n_units`` units, each responsible for about half the tasks."""
    directory.mkdir(parents=True, exist_ok=True)
    units = [{"key": f"unit_{i:05d}", "name": f"测试单位{i:05d}"} for i in range(n_units)]
    tasks = []
    for s in range(1, n_tasks + 1):
        members = [u["key"] for i, u in enumerate(units) if (i + s) % 2 == 0 or i % n_tasks == s - 1]
        tasks.append({"seq": s, "name": f"测试实事{s}", "units": members or [units[0]["key"]],
                      "indicators": [{"key": f"ind_{s}", "name": f"测试指标{s}", "target": 100 * s,
                                      "measure": "个"}]})
    data = {
        "year": year,
        "notice": {"number": "测试[0]1号", "title": "测试通知", "issuer": "测试机关", "issued_on": f"{year}-01-01"},
        "report": {"title": f"{year}年测试报表", "organiser": "测试科"},
        "recipients": {"to": [{"name": "测试科", "email": "test@example.invalid"}]},
        "deadlines": {1: f"{year}-03-31", 2: f"{year}-06-30", 3: f"{year}-09-30", 4: f"{year}-12-31"},
        "units": units, "tasks": tasks,
    }
    path = directory / f"{year}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_programme(path)
