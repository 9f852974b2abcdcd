"""Sending one e-mail over SMTP with yagmail: the only place the project talks SMTP.

The report mail, reminders, unit feedback and ops alerts all go through
``send_message``. Settings arrive as a plain ``SmtpSettings`` value; reading them from
an Airflow connection (whose id the caller names) is orchestration's job
(``wcreport.orchestration.connections.smtp_settings``).
"""
from __future__ import annotations

import contextlib
import logging
import mimetypes
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from html.parser import HTMLParser
from pathlib import Path

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The SMTP server did not accept a message (an outage: worth retrying)."""


class MailConfigError(ValueError):
    """The SMTP settings cannot work (no host, no sender): no retry can fix it."""


@dataclass
class SmtpSettings:
    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    use_ssl: bool = False
    starttls: bool = False
    sender: str = ""
    timeout: float = 30.0

    @property
    def skip_login(self) -> bool:
        return not self.user


def _client(smtp: SmtpSettings):
    """A yagmail client that logs in with the connection's login, sends as ``sender``."""
    import yagmail

    class _Client(yagmail.SMTP):
        def _login(self, password):  # yagmail logs in as its ``user`` (the From address)
            sender = self.user
            self.user = smtp.user or sender
            try:
                super()._login(password)
            finally:
                self.user = sender

    return _Client(
        # password is never None: yagmail would look in a keyring and then prompt
        user=smtp.sender, password=smtp.password, host=smtp.host, port=smtp.port,
        smtp_ssl=smtp.use_ssl, smtp_starttls=smtp.starttls, smtp_skip_login=smtp.skip_login,
        soft_email_validation=False, timeout=smtp.timeout,
    )


def compose_message(sender: str, to: list[str], subject: str, html_body: str, *,
                    text_body: str | None = None, cc: list[str] = (), attachments: Iterable[str | Path] = (),
                    headers: Mapping[str, str] | None = None, message_id: str | None = None) -> Message:
    """A standard MIME message: text and HTML alternatives, then the attachments.

    Each attachment carries ``Content-Disposition: attachment`` with the RFC 2231
    ``filename*`` that standard clients read, and the RFC 2047 ``name=`` on its
    Content-Type that Outlook and Coremail read (yagmail's own builder gives only the
    former, and no disposition at all for text or HTML files).
    """
    msg = MIMEMultipart("mixed")
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = Header(subject, "utf-8")
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rsplit("@", 1)[-1] if "@" in sender else None)
    for name, value in (headers or {}).items():
        msg[name] = value
    body = MIMEMultipart("alternative")
    body.attach(MIMEText(text_body if text_body is not None else html_to_text(html_body), "plain", "utf-8"))
    body.attach(MIMEText(html_body, "html", "utf-8"))
    msg.attach(body)
    for attachment in attachments:
        path = Path(attachment)
        maintype, subtype = (mimetypes.guess_type(path.name)[0] or "application/octet-stream").split("/", 1)
        part = MIMEBase(maintype, subtype, name=Header(path.name, "utf-8", maxlinelen=998).encode())
        part.set_payload(path.read_bytes())
        encode_base64(part)
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", path.name))
        msg.attach(part)
    return msg


class _TextExtractor(HTMLParser):
    BREAKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "table", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.BREAKS:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        elif tag == "li":
            self.parts.append("- ")

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(html_body: str) -> str:
    """Readable plain text of an HTML body (the text/plain alternative)."""
    parser = _TextExtractor()
    parser.feed(html_body)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return "\n".join(line for line in lines if line) + "\n"


def send_message(smtp: SmtpSettings, to: str | Iterable[str], subject: str, html_body: str, *,
                 text_body: str | None = None, cc: Iterable[str] = (), attachments: Iterable[str | Path] = (),
                 headers: Mapping[str, str] | None = None, message_id: str | None = None) -> None:
    """Send one mail through yagmail's SMTP session. Raises ``MailError`` if it was not accepted."""
    recipients = [to] if isinstance(to, str) else list(to)
    cc = list(cc)
    msg = compose_message(smtp.sender, recipients, subject, html_body, text_body=text_body, cc=cc,
                          attachments=attachments, headers=headers, message_id=message_id)
    send_composed(smtp, msg, recipients + cc)


def send_composed(smtp: SmtpSettings, msg: Message, recipients: list[str]) -> None:
    """Send a message made by ``compose_message`` to ``recipients`` (To and Cc). Raises ``MailError``."""
    client = _client(smtp)
    try:
        client.login()
        refused = client.smtp.send_message(msg, from_addr=smtp.sender, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(f"SMTP {smtp.host}:{smtp.port}: {exc.__class__.__name__}: {exc}") from exc
    finally:
        with contextlib.suppress(Exception):
            client.close()
    if refused:
        # some recipients were refused: the server accepted the rest
        log.warning("SMTP server refused some recipients: %s", refused)
