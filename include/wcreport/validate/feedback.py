"""Chinese feedback for a unit: what is wrong with its file, where, and how to fix it.

One HTML page per rejected file (opens in any browser, prints on A4), and the same
content as plain text for the self-check command: ``templates/feedback.html.j2`` and
``templates/feedback.txt.j2``.
"""
from __future__ import annotations

import re
from pathlib import PurePath

from wcreport.core.io import write_atomic
from wcreport.core.labels import FILE_STATUS_ZH, label
from wcreport.core.model import FileRecord, Finding
from wcreport.core.templating import render

_UNSAFE_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
UNIDENTIFIED_UNIT = "未能识别"


def problems_of(record: FileRecord) -> list[Finding]:
    """Errors first, then warnings; reasons without a finding become findings."""
    findings = list(record.findings)
    covered = {f.as_text() for f in findings} | {f.message for f in findings}
    for reason in record.reasons:
        if reason not in covered:
            findings.append(Finding(code="file.rejected", severity="error", message=reason))
    return sorted(findings, key=lambda f: (f.severity != "error",))


def feedback_text(file_name: str, unit_name: str | None, record: FileRecord, organiser: str = "") -> str:
    """The feedback as plain text (used by the self-check command)."""
    problems = problems_of(record)
    return render(__package__, "feedback.txt.j2", **_common(file_name, unit_name, record, organiser),
                  errors=[f.as_text() for f in problems if f.severity == "error"],
                  warnings=[f.as_text() for f in problems if f.severity == "warning"])


def render_html(file_name: str, unit_name: str | None, record: FileRecord, title: str = "",
                organiser: str = "") -> str:
    """The feedback page (autoescaped: text from the unit's file cannot become markup)."""
    return render(__package__, "feedback.html.j2", **_common(file_name, unit_name, record, organiser),
                  title=title, sha256=record.sha256 or "",
                  problems=[_problem_row(f) for f in problems_of(record)])


def _common(file_name: str, unit_name: str | None, record: FileRecord, organiser: str) -> dict:
    return {"file_name": file_name, "unit_name": unit_name or UNIDENTIFIED_UNIT,
            "status_zh": label(FILE_STATUS_ZH, record.status), "organiser": organiser}


def _problem_row(finding: Finding) -> dict[str, str]:
    where = "、".join(x for x in (f"工作表「{finding.sheet}」" if finding.sheet else "", finding.cell or "") if x)
    return {"level": "必须修改" if finding.severity == "error" else "提醒",
            "where": where or "整个文件", "message": finding.message}


def safe_name(text: str, limit: int = 60) -> str:
    cleaned = _UNSAFE_RE.sub("_", text).strip(" .")
    return cleaned[:limit] or "file"


def write_feedback(paths, record: FileRecord, unit_key: str | None, unit_name: str | None,
                   title: str = "", organiser: str = "") -> str:
    """Write the feedback page for one file; return its path relative to the output root."""
    name = PurePath(record.path).name
    folder = paths.feedback / (unit_key or "_unidentified")
    target = folder / f"{safe_name(PurePath(name).stem)}-{(record.sha256 or 'nohash')[:8]}.html"
    write_atomic(target, render_html(record.path, unit_name, record, title, organiser).encode("utf-8"),
                 skip_if_same=True)
    return target.relative_to(paths.output_root).as_posix()
