"""A real SMTP server on 127.0.0.1 for tests: the product's own sink, viewed as ``Received``.

Used by the reminder, alert and integration tests. Messages are parsed with
``email.policy.default`` so Chinese subjects and RFC 2231 file names read back intact.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from email.message import EmailMessage

from wcreport_testing.smtp_sink import SmtpSink, free_port, parse

__all__ = ["MailSink", "Received", "free_port"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")

    def attachment_names(self) -> list[str]:
        return [part.get_filename() for part in self.message.iter_attachments()]

    def body_text(self) -> str:
        part = self.message.get_body(preferencelist=("plain", "html"))
        return part.get_content() if part is not None else ""


class MailSink(SmtpSink):
    """``wcreport_testing.smtp_sink.SmtpSink`` with a test-friendly view of what arrived.

    Start with ``with MailSink() as sink:``; ``sink.messages`` lists ``Received`` items.
    """

    @property
    def messages(self) -> list[Received]:
        return [Received(e["mail_from"], list(e["rcpt_tos"]), parse(e["raw"])) for e in self.envelopes]

    def snapshot(self) -> list[Received]:
        return self.messages

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.envelopes) < count:
            time.sleep(0.2)
        return self.snapshot()

    def airflow_conn_uri(self, from_email: str = "wcreport@localhost") -> str:
        """An ``AIRFLOW_CONN_SMTP_DEFAULT`` value for this server: plain SMTP, fail fast."""
        conn = json.loads(super().airflow_conn_uri(from_email))
        conn["extra"].update({"retry_limit": 0, "timeout": 10})
        return json.dumps(conn)
