"""Chinese feedback for a unit: what is wrong with its file, where, and how to fix it.

One HTML page per rejected file (opens in any browser, prints on A4), and the same
content as plain text for the self-check command.
"""
from __future__ import annotations

import html
import re
from pathlib import PurePath

from wcreport.core.io import write_atomic
from wcreport.core.model import FileRecord, Finding

_UNSAFE_RE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')
STATUS_ZH = {"accepted": "已接收", "rejected": "退回，请修改后重新报送", "superseded": "已被更新的文件取代",
             "ignored": "已忽略", "pending": "待处理"}


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
    lines = [f"文件：{file_name}", f"单位：{unit_name or '未能识别'}", f"结论：{STATUS_ZH.get(record.status, record.status)}"]
    problems = problems_of(record)
    errors = [f for f in problems if f.severity == "error"]
    warnings = [f for f in problems if f.severity == "warning"]
    if errors:
        lines.append("必须修改的问题：")
        lines += [f"  {i}. {f.as_text()}" for i, f in enumerate(errors, 1)]
    if warnings:
        lines.append("提醒（不影响接收）：")
        lines += [f"  {i}. {f.as_text()}" for i, f in enumerate(warnings, 1)]
    if not errors and not warnings:
        lines.append("未发现问题。")
    if errors:
        lines.append("请按以上说明修改后，将文件重新发送" + (f"给{organiser}" if organiser else "") + "。")
    return "\n".join(lines) + "\n"


def render_html(file_name: str, unit_name: str | None, record: FileRecord, title: str = "",
                organiser: str = "") -> str:
    esc = html.escape
    rows = []
    for i, f in enumerate(problems_of(record), 1):
        where = "、".join(x for x in (f"工作表「{f.sheet}」" if f.sheet else "", f.cell or "") if x) or "整个文件"
        level = "必须修改" if f.severity == "error" else "提醒"
        rows.append(f"<tr><td>{i}</td><td>{esc(level)}</td><td>{esc(where)}</td><td>{esc(f.message)}</td></tr>")
    table = ("<table><thead><tr><th>序号</th><th>类别</th><th>位置</th><th>问题及修改方法</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>") if rows else "<p>未发现问题。</p>"
    send_to = f"给{esc(organiser)}" if organiser else ""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>报表退回说明 - {esc(file_name)}</title>
<style>body{{font-family:"SimSun","Noto Serif CJK SC",serif;margin:2em}}table{{border-collapse:collapse;width:100%}}
th,td{{border:1px solid #444;padding:4px 8px;text-align:left;vertical-align:top}}th{{background:#eee}}
@page{{size:A4;margin:15mm}}</style></head><body>
<h1>报表退回说明</h1>
<p>{esc(title)}</p>
<table>
<tr><th>文件</th><td>{esc(file_name)}</td></tr>
<tr><th>单位</th><td>{esc(unit_name or '未能识别')}</td></tr>
<tr><th>结论</th><td>{esc(STATUS_ZH.get(record.status, record.status))}</td></tr>
<tr><th>文件指纹（SHA-256）</th><td>{esc(record.sha256 or '')}</td></tr>
</table>
<h2>问题清单</h2>
{table}
<p>请按以上说明修改后，将文件重新发送{send_to}。重新发送的文件会取代本文件。</p>
</body></html>
"""


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
