"""How much of one file's problems we list: enough to fix it, never enough to bloat a page or a mail.

A hostile or badly broken workbook can yield thousands of findings (5,000 rows, two
rules each). The unit needs the first few to see what is wrong; the feedback page, the
Data Docs page, the manifest and the leaders' mail must stay small. Errors come first;
what is left out is counted in one closing finding ("另有 N 处问题未列出").
"""
from __future__ import annotations

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import Finding

MAX_FINDINGS_PER_FILE = 50
MAX_MESSAGE_CHARS = 400


def cap_findings(findings: list[Finding], limit: int = MAX_FINDINGS_PER_FILE) -> list[Finding]:
    """At most ``limit`` findings, errors first (order kept within each), plus a count of the rest;
    each message at most ``MAX_MESSAGE_CHARS`` long."""
    findings = [_short_message(f) for f in findings]
    if len(findings) <= limit:
        return findings
    ordered = [f for f in findings if f.severity == "error"] + [f for f in findings if f.severity != "error"]
    return [*ordered[:limit], finding("findings.truncated", count=len(findings) - limit, total=len(findings))]


def _short_message(item: Finding) -> Finding:
    if len(item.message) <= MAX_MESSAGE_CHARS:
        return item
    return item.model_copy(update={"message": item.message[:MAX_MESSAGE_CHARS] + "……"})

