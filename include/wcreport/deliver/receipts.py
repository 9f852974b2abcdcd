"""Receipts: one Chinese reply to each mail the mailbox intake took in.

The reply goes to the mail's From address (for a forwarded mail: whoever forwarded it),
threaded with In-Reply-To/References, and lists what was received: every saved file,
the self-check result of each spreadsheet (the same checks and text as ``wcreport
check``), the attachments that were not kept and why, or 未发现附件. A mail naming a unit
by an address our server did not authenticate says its files wait for the clerk; that
unit's registered addresses get an ``UnverifiedNotice`` (``templates/unverified_notice.*.j2``). Texts are
``templates/receipt.html.j2`` (autoescaped) and ``templates/receipt.txt.j2``.

A receipt's Message-ID is derived from the mail's key, so a receipt sent again after a
crash between sending and recording it carries the same Message-ID.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from wcreport.core.templating import render
from wcreport.deliver.smtp import SmtpSettings, send_message

KIND_ZH = {"spreadsheet": "报表", "scan": "扫描件", "document": "文档", "archive": "压缩包"}
MAX_REFERENCES = 20


@dataclass
class ReceivedFile:
    """One saved file as the receipt lists it."""

    name: str                        # the name the sender gave it
    kind: str                        # spreadsheet / scan / document / archive
    container: str | None = None     # the zip it was in
    note: str | None = None          # Chinese, e.g. an archive that could not be opened
    accepted: bool | None = None     # spreadsheets: would the self-check accept it
    feedback: str | None = None      # spreadsheets: the self-check text (Chinese)

    @property
    def kind_zh(self) -> str:
        return KIND_ZH.get(self.kind, "文件")

    @property
    def feedback_lines(self) -> list[str]:
        return [line for line in (self.feedback or "").splitlines() if line.strip()]


@dataclass
class Receipt:
    """Everything a receipt says; ``key`` is the received mail's ledger key."""

    key: str
    to: str
    subject: str                     # the received mail's subject
    message_id: str | None
    references: list[str]
    received_at: str                 # e.g. 2023年9月25日 10:00
    quarter_label: str
    unit_name: str | None            # None: the sender's address is not a unit's
    sender_name: str = ""
    files: list[ReceivedFile] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)     # {"name", "reason"}
    organiser: str = ""
    phone: str = ""
    unverified_unit: str | None = None   # the unit the mail named by an address nobody vouched for


def receipt_subject(subject: str) -> str:
    original = subject.strip() or "（无主题）"
    return original if original.startswith("回执：") else f"回执：{original}"


def receipt_message_id(key: str, sender: str) -> str:
    domain = sender.rsplit("@", 1)[-1].strip(">") if "@" in sender else "wcreport.invalid"
    return f"<receipt.{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}@{domain}>"


def reply_headers(receipt: Receipt, unit_key: str | None = None) -> dict[str, str]:
    """Threading (In-Reply-To, References) and loop protection (Auto-Submitted, RFC 3834)."""
    headers = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All",
               "X-Wcreport-Receipt": hashlib.sha256(receipt.key.encode("utf-8")).hexdigest()[:16]}
    if receipt.message_id:
        chain = [r for r in receipt.references if r != receipt.message_id][-(MAX_REFERENCES - 1):]
        headers["In-Reply-To"] = receipt.message_id
        headers["References"] = " ".join([*chain, receipt.message_id])
    if unit_key:
        headers["X-Wcreport-Unit"] = unit_key
    return headers


def render_receipt(receipt: Receipt) -> tuple[str, str, str]:
    """(subject, HTML, plain text) of the receipt."""
    context = {"r": receipt, "spreadsheets": [f for f in receipt.files if f.kind == "spreadsheet"],
               "greeting": receipt.unit_name or receipt.sender_name or receipt.to}
    return (receipt_subject(receipt.subject), render(__package__, "receipt.html.j2", **context),
            render(__package__, "receipt.txt.j2", **context))


def send_receipt(smtp: SmtpSettings, receipt: Receipt, *, unit_key: str | None = None,
                 send: Callable[..., None] = send_message) -> str:
    """Send the receipt; return its Message-ID. Raises ``MailError`` when SMTP refuses."""
    subject, html, text = render_receipt(receipt)
    message_id = receipt_message_id(receipt.key, smtp.sender)
    send(smtp, receipt.to, subject, html, text_body=text, headers=reply_headers(receipt, unit_key),
         message_id=message_id)
    return message_id


@dataclass
class UnverifiedNotice:
    """What a unit is told when a mail in its name came from a sender our server did not vouch for."""

    key: str                         # the received mail's ledger key
    to: list[str]                    # the unit's registered addresses
    unit_name: str
    sender: str
    subject: str
    received_at: str
    sender_name: str = ""
    forwarded_from: str | None = None
    files: list[str] = field(default_factory=list)
    organiser: str = ""
    phone: str = ""


def render_unverified_notice(notice: UnverifiedNotice) -> tuple[str, str, str]:
    """(subject, HTML, plain text) of the notice (``templates/unverified_notice.*.j2``)."""
    subject = f"请核实：有人以{notice.unit_name}名义发送了报表邮件"
    return (subject, render(__package__, "unverified_notice.html.j2", n=notice),
            render(__package__, "unverified_notice.txt.j2", n=notice))


def send_unverified_notice(smtp: SmtpSettings, notice: UnverifiedNotice,
                           send: Callable[..., None] = send_message) -> str:
    """Send the notice to the unit's addresses; return its Message-ID (stable per mail)."""
    subject, html, text = render_unverified_notice(notice)
    message_id = receipt_message_id("notice:" + notice.key, smtp.sender).replace("<receipt.", "<notice.", 1)
    send(smtp, notice.to, subject, html, text_body=text, message_id=message_id,
         headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"})
    return message_id
