"""The leaders' quarter-end mail, composed: subject, attachment name, bodies, Message-ID.

Every word the leaders read is in ``templates/``: the bodies in ``report_mail.html.j2``
and its plain-text twin ``report_mail.txt.j2`` (both go out as alternatives of one
message), the subject, the attachment's name and the "what changed" lines as macros in
``report_mail_parts.txt.j2``. This module only chooses and fills them.
"""
from __future__ import annotations

from email.utils import formataddr
from pathlib import Path
from typing import Any

from wcreport.core.labels import stamped_missing
from wcreport.core.programme import Programme, Recipient
from wcreport.core.templating import environment, render
from wcreport.report.consolidate import Consolidated

PARTS_TEMPLATE = "report_mail_parts.txt.j2"


def mail_text(macro: str, *args: Any) -> str:
    """One of the mail's short texts: ``macro`` of ``templates/report_mail_parts.txt.j2``."""
    return str(getattr(environment(__package__).get_template(PARTS_TEMPLATE).module, macro)(*args))


def correction_number(sequence: int) -> int:
    """The N of 更正版N: the original is mail 1, 更正版1 is mail 2."""
    return sequence - 1


def subject_for(consolidated: Consolidated, kind: str, sequence: int) -> str:
    """The report title; a correction's starts with 【更正版N】."""
    return mail_text("subject", consolidated.title, kind, correction_number(sequence))


def attachment_name_for(workbook_name: str, kind: str, sequence: int) -> str:
    """``…报表.xlsx`` for the original, ``…报表（更正版N）.xlsx`` for a correction."""
    if kind != "correction":
        return workbook_name
    path = Path(workbook_name)
    return mail_text("attachment_name", path.stem, path.suffix, correction_number(sequence))


def compose_html(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "", sequence: int = 0) -> str:
    """The mail as HTML (autoescaped: unit text cannot become markup)."""
    return render(__package__, "report_mail.html.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name, sequence))


def compose_text(consolidated: Consolidated, programme: Programme, kind: str = "original",
                 changes: list[str] | None = None, attachment_name: str = "", sequence: int = 0) -> str:
    """The same mail as plain text (the text/plain alternative)."""
    return render(__package__, "report_mail.txt.j2",
                  **_mail_context(consolidated, programme, kind, changes, attachment_name, sequence))


def _mail_context(c: Consolidated, programme: Programme, kind: str, changes: list[str] | None,
                  attachment_name: str, sequence: int) -> dict[str, Any]:
    return {
        "c": c, "report": programme.report, "kind": kind, "changes": changes or [],
        "correction_no": correction_number(sequence) if sequence else "",
        "attachment_name": attachment_name,
        "missing": c.units_with_status("missing"),
        "rejected": c.units_with_status("rejected"),
        "late": [u for u in c.late_units if u.status == "submitted"],
        "stamped_missing": [u for u in c.units if u.status == "submitted" and stamped_missing(u.stamped_copy)],
        "at_risk": c.indicators_at_risk,
    }


def addresses(recipients: list[Recipient]) -> list[str]:
    """``名称 <address>`` for the To and Cc headers."""
    return [formataddr((r.name, r.email)) for r in recipients]


def message_id_for(quarter: str, content_hash: str, sender: str) -> str:
    """Derived from (quarter, content): a copy resent after a crash carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[-1] if "@" in sender else "wcreport.local"
    return f"<wcreport.{quarter}.{content_hash[:32]}@{domain}>"
