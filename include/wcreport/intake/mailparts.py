"""A received e-mail, taken apart: who sent it, when, and which report files it carries.

Headers and attachment names are decoded by ``mailheaders``; zip members written on
Windows with GBK names and no UTF-8 flag are read as cp936, or by their Info-ZIP Unicode
Path extra field.

Attachments of forwarded mails (``message/rfc822`` parts, or ``.eml`` files) count as the
forwarded mail's attachments. ``.zip`` attachments are opened after their declared sizes
and compression ratios are checked against the limits; ``.rar`` and ``.7z`` are kept as
they are (no maintained pure-Python reader), with a Chinese note. Every attachment that
is not kept gets a Chinese reason: nothing here raises for a hostile or broken mail.
"""
from __future__ import annotations

import datetime as dt
import email
import email.utils
import hashlib
import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from email.message import Message

from wcreport.intake.mailauth import address_authenticated, authenticated_domains
from wcreport.intake.mailheaders import (
    attachment_name,
    automatic_reason,
    decode_bytes,
    extension,
    header_text,
    kind_of,
    mail_key,
    message_id_of,
    raw_header,
    received_time,
)

MIB = 1024 * 1024
MAX_ZIP_MEMBERS = 200
MAX_COMPRESSION_RATIO = 100       # declared size / compressed size of one member
SMALL_INLINE_BYTES = 64 * 1024     # an HTML-embedded picture below this is a logo, not a scan
MAX_NESTING = 3                    # forwarded-inside-forwarded depth we follow
# Not in core.settings (another engineer's file): a unit sends one form and one scan, a
# district office a few dozen at most; 200 files in one mail is flooding, not reporting.
MAX_ATTACHMENTS_PER_MAIL = 30
_IGNORED_MEMBERS = {"thumbs.db", "desktop.ini", ".ds_store"}
_TYPE_EXTS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif",
              "application/ofd": ".ofd", "application/zip": ".zip", "application/x-zip-compressed": ".zip",
              "application/vnd.ms-excel": ".xls", "application/x-rar-compressed": ".rar",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
              "application/x-7z-compressed": ".7z", "message/rfc822": ".eml"}


@dataclass(frozen=True)
class Limits:
    """Byte limits from the settings (``REPORT_MAX_FILE_BYTES``, ``REPORT_MAX_UNCOMPRESSED_BYTES``)."""

    max_file_bytes: int
    max_uncompressed_bytes: int


@dataclass(frozen=True)
class Origin:
    """The mail an attachment travelled in (the forwarded one, for forwarded attachments)."""

    sender: str
    subject: str
    date: str | None
    message_id: str | None


@dataclass
class Attachment:
    """One file to keep: its decoded name and exact bytes."""

    name: str
    data: bytes
    kind: str                          # spreadsheet, scan, document, archive
    container: str | None = None       # the .zip it was inside
    forwarded: Origin | None = None    # set when it came inside a forwarded mail
    note: str | None = None            # Chinese, e.g. why an archive was not opened

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class Skipped:
    """An attachment that was not kept, with the Chinese reason the receipt gives."""

    name: str
    reason: str
    container: str | None = None


@dataclass
class Mail:
    """One received mail: headers we need, its attachments, and what was not kept."""

    key: str                           # idempotency key: the Message-ID, else a hash of the bytes
    message_id: str | None
    sender: str                        # the From address (lower case); "" if none
    sender_name: str
    subject: str
    date: dt.datetime | None           # when our server received it (Received), else its Date
    references: list[str]
    automatic: str | None              # why it must not be answered (auto-reply, bounce, list …)
    attachments: list[Attachment] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    authenticated: frozenset[str] = frozenset()   # what our server vouched for (``mailauth``)

    @property
    def sender_authenticated(self) -> bool:
        """Did the office's own server vouch for the From address's domain?"""
        return address_authenticated(self.sender, self.authenticated)


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"


# --- zip ------------------------------------------------------------------
def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A member's real name: UTF-8 flag, else Info-ZIP Unicode Path field, else cp936/UTF-8 bytes."""
    if info.flag_bits & 0x800:
        return info.filename
    unicode_path = _unicode_path_field(info)
    if unicode_path:
        return unicode_path
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    return decode_bytes(raw)


def _unicode_path_field(info: zipfile.ZipInfo) -> str | None:
    extra = info.extra or b""
    while len(extra) >= 4:
        tag, size = struct.unpack("<HH", extra[:4])
        body, extra = extra[4:4 + size], extra[4 + size:]
        if tag == 0x7075 and len(body) > 5 and body[0] == 1:
            try:
                return body[5:].decode("utf-8")
            except UnicodeDecodeError:
                return None
    return None


def expand_zip(name: str, data: bytes, limits: Limits, forwarded: Origin | None = None
               ) -> tuple[list[Attachment], list[Skipped]]:
    """The report files inside a zip, after checking declared sizes; reasons for the rest."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        return [], [Skipped(name, f"压缩包「{name}」已损坏，无法打开。请重新压缩后发送，或直接添加附件。")]
    refusal = _zip_refusal(name, infos, limits)
    if refusal:
        return [], [Skipped(name, refusal)]
    kept: list[Attachment] = []
    skipped: list[Skipped] = []
    for info in infos:
        member = zip_member_name(info)
        base = re.split(r"[/\\]", member)[-1]
        if _ignored_member(member, base):
            continue
        kind = kind_of(base)
        if kind in ("archive", "mail"):
            skipped.append(Skipped(base, f"压缩包「{name}」中的「{base}」仍是压缩包或邮件文件，未再打开。"
                                         "请直接放入表格和扫描件。", container=name))
        elif kind is None:
            skipped.append(Skipped(base, f"压缩包「{name}」中的「{base}」不是报表或扫描件"
                                         f"（{extension(base) or '无扩展名'}），未保存。", container=name))
        elif info.file_size > limits.max_file_bytes:
            skipped.append(Skipped(base, f"压缩包「{name}」中的「{base}」解压后 {_mb(info.file_size)}，"
                                         f"超过 {_mb(limits.max_file_bytes)} 的上限，未保存。", container=name))
        else:
            try:
                content = archive.read(info)     # bounded by the declared size; CRC checked
            except (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError):
                skipped.append(Skipped(base, f"压缩包「{name}」中的「{base}」已损坏，无法解压。", container=name))
                continue
            kept.append(Attachment(base, content, kind, container=name, forwarded=forwarded))
    return kept, skipped


def _ignored_member(member: str, base: str) -> bool:
    parts = re.split(r"[/\\]", member)
    return "__MACOSX" in parts or base.startswith("._") or base.lower() in _IGNORED_MEMBERS or not base


def _zip_refusal(name: str, infos: list[zipfile.ZipInfo], limits: Limits) -> str | None:
    """A Chinese reason not to open the zip at all, judged from its declared sizes."""
    if any(i.flag_bits & 0x1 for i in infos):
        return f"压缩包「{name}」设有密码，无法解压。请去掉密码后重新发送，或直接添加附件。"
    if len(infos) > MAX_ZIP_MEMBERS:
        return f"压缩包「{name}」内有 {len(infos)} 个文件，超过 {MAX_ZIP_MEMBERS} 个的上限，未解压。"
    total = sum(i.file_size for i in infos)
    worst = max((i.file_size / max(i.compress_size, 1) for i in infos if i.file_size > MIB), default=0)
    if total > limits.max_uncompressed_bytes or worst > MAX_COMPRESSION_RATIO:
        return (f"压缩包「{name}」解压后共 {_mb(total)}（最高压缩比约 {worst:.0f}:1），超过安全上限"
                f"（{_mb(limits.max_uncompressed_bytes)}，{MAX_COMPRESSION_RATIO}:1），疑似“压缩炸弹”，未解压。"
                "请直接添加表格和扫描件，或重新压缩后发送。")
    return None


# --- the message ----------------------------------------------------------
def _sender(msg: Message) -> tuple[str, str]:
    name, address = email.utils.parseaddr(header_text(msg, "from"))
    return address.strip().lower(), name.strip()


def _origin(msg: Message) -> Origin:
    date = raw_header(msg, "date")
    return Origin(sender=_sender(msg)[0], subject=header_text(msg, "subject"),
                  date=date.strip() if date else None,
                  message_id=message_id_of(raw_header(msg, "message-id")))


class MailUnreadable(ValueError):
    """The mail cannot be taken apart (too deeply nested, a parser error): it is quarantined."""


def parse_mail(raw: bytes, limits: Limits, authserv_id: str | None = None) -> Mail:
    """Take one mail apart (see the module docstring). ``MailUnreadable`` for a hostile
    structure (thousands of nested parts) or any parser error: never anything else."""
    try:
        return _parse(raw, limits, authserv_id)
    except RecursionError as exc:
        raise MailUnreadable("MIME structure nested too deeply (RecursionError)") from exc
    except Exception as exc:  # the stdlib parser's many ways to fail on hostile bytes
        raise MailUnreadable(f"mail parser error: {exc.__class__.__name__}: {exc}") from exc


def _parse(raw: bytes, limits: Limits, authserv_id: str | None) -> Mail:
    msg = email.message_from_bytes(raw)
    message_id = message_id_of(raw_header(msg, "message-id"))
    sender, sender_name = _sender(msg)
    subject = header_text(msg, "subject")
    references = re.findall(r"<[^<>\s]+>", " ".join([header_text(msg, "references"),
                                                     header_text(msg, "in-reply-to")]))
    mail = Mail(key=mail_key(raw, message_id), message_id=message_id, sender=sender,
                sender_name=sender_name, subject=subject, date=received_time(msg),
                references=list(dict.fromkeys(references)),
                automatic=automatic_reason(msg, sender, subject, references),
                authenticated=authenticated_domains(msg, authserv_id))
    _collect(msg, mail, limits, forwarded=None, depth=0, cids=_html_cids(msg))
    _cap_attachments(mail)
    return mail


def _cap_attachments(mail: Mail) -> None:
    """Keep the first ``MAX_ATTACHMENTS_PER_MAIL`` files; one reason names the rest."""
    extra = mail.attachments[MAX_ATTACHMENTS_PER_MAIL:]
    if not extra:
        return
    del mail.attachments[MAX_ATTACHMENTS_PER_MAIL:]
    mail.skipped.append(Skipped(
        f"其余 {len(extra)} 个附件",
        f"一封邮件最多接收 {MAX_ATTACHMENTS_PER_MAIL} 个文件，其余 {len(extra)} 个"
        f"（{'、'.join(a.name for a in extra[:5])}{'等' if len(extra) > 5 else ''}）未保存。请分封发送。"))


def _html_cids(msg: Message) -> set[str]:
    """Content-IDs the mail's HTML bodies show inline (pictures in the text, not attachments)."""
    found: set[str] = set()
    for part in msg.walk():
        if part.get_content_type() == "text/html" and not attachment_name(part):
            try:
                html = decode_bytes(part.get_payload(decode=True) or b"", part.get_content_charset())
            except (AssertionError, ValueError):
                continue
            found.update(c.lower() for c in re.findall(r"cid:([^\"'\s>)]+)", html, re.I))
    return found


def _collect(msg: Message, mail: Mail, limits: Limits, forwarded: Origin | None, depth: int,
             cids: set[str]) -> None:
    """Walk the MIME tree; forwarded mails recurse with their own Origin."""
    if msg.get_content_type() == "message/rfc822" and not attachment_name(msg):
        _forwarded(msg, mail, limits, depth, cids)
        return
    if msg.is_multipart():
        for part in msg.get_payload():
            if isinstance(part, Message):
                _collect(part, mail, limits, forwarded, depth, cids)
        return
    _leaf(msg, mail, limits, forwarded, depth, cids)


def _forwarded(part: Message, mail: Mail, limits: Limits, depth: int, cids: set[str]) -> None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        inner = payload[0]
    else:                                            # an encoded message/rfc822 part
        inner = email.message_from_bytes(part.get_payload(decode=True) or b"")
    if depth >= MAX_NESTING:
        mail.skipped.append(Skipped("转发邮件", "转发层数过多，更深一层的附件未处理。请直接发送原邮件。"))
        return
    _collect(inner, mail, limits, forwarded=_origin(inner), depth=depth + 1, cids=cids | _html_cids(inner))


def _estimated_size(part: Message) -> int:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return 0
    encoding = (part.get("content-transfer-encoding") or "").strip().lower()
    return len(payload) * 3 // 4 if encoding == "base64" else len(payload)


def _is_body_or_inline_picture(part: Message, name: str | None, cids: set[str]) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if not name:
        return disposition != "attachment"
    content_id = (raw_header(part, "content-id") or "").strip().strip("<>").lower()
    return (disposition != "attachment" and bool(content_id) and content_id in cids
            and _estimated_size(part) < SMALL_INLINE_BYTES)


def _leaf(part: Message, mail: Mail, limits: Limits, forwarded: Origin | None, depth: int,
          cids: set[str]) -> None:
    name = attachment_name(part)
    if _is_body_or_inline_picture(part, name, cids):
        return
    if not name:
        name = "附件" + _TYPE_EXTS.get(part.get_content_type(), "")
    elif not kind_of(name) and part.get_content_type() in _TYPE_EXTS:
        name += _TYPE_EXTS[part.get_content_type()]
    kind = kind_of(name)
    if kind is None:
        mail.skipped.append(Skipped(name, f"附件「{name}」不是报表或扫描件（{extension(name) or '无扩展名'}），未保存。"))
        return
    if _estimated_size(part) > limits.max_file_bytes * 1.02:
        mail.skipped.append(Skipped(name, _too_large(name, _estimated_size(part), limits)))
        return
    data = part.get_payload(decode=True) or b""
    if len(data) > limits.max_file_bytes:
        mail.skipped.append(Skipped(name, _too_large(name, len(data), limits)))
    elif not data:
        mail.skipped.append(Skipped(name, f"附件「{name}」为空文件（0 字节），未保存。请重新添加附件后发送。"))
    elif kind == "mail":
        if depth >= MAX_NESTING:
            mail.skipped.append(Skipped(name, "转发层数过多，更深一层的附件未处理。请直接发送原邮件。"))
            return
        inner = email.message_from_bytes(data)
        _collect(inner, mail, limits, forwarded=_origin(inner), depth=depth + 1, cids=_html_cids(inner))
    elif kind == "archive" and extension(name) == ".zip":
        kept, skipped = expand_zip(name, data, limits, forwarded)
        mail.attachments += kept
        mail.skipped += skipped
    elif kind == "archive" and extension(name) == ".7z":    # saved whole: the scan opens it (intake.sevenzip)
        mail.attachments.append(Attachment(name, data, kind, forwarded=forwarded))
    elif kind == "archive":
        note = (f"压缩包「{name}」为 {extension(name)} 格式，系统无法自动解压（没有可靠维护的纯 Python 解压库），"
                "已原样保存，由工作人员手工处理。今后请改用 .zip 格式，或直接添加表格和扫描件。")
        mail.attachments.append(Attachment(name, data, kind, forwarded=forwarded, note=note))
    else:
        mail.attachments.append(Attachment(name, data, kind, forwarded=forwarded))


def _too_large(name: str, size: int, limits: Limits) -> str:
    return (f"附件「{name}」约 {_mb(size)}，超过 {_mb(limits.max_file_bytes)} 的上限，未保存。"
            "请压缩图片或拆分后重新发送。")
