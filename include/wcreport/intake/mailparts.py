"""A received e-mail, taken apart: who sent it, when, and which report files it carries.

Chinese mail clients encode attachment names every way there is, and all of them are
read here:

* RFC 2231 (``filename*=UTF-8''…``), with continuations (``filename*0*=…; filename*1*=…``,
  Foxmail) and a charset that is sometimes wrong (GBK bytes declared UTF-8);
* RFC 2047 encoded words inside the quoted parameter (``name="=?GBK?B?…?="``, Outlook and
  Coremail; not standard, very common);
* raw 8-bit GBK/GB18030 (or UTF-8) bytes in the header;
* zip members written on Windows with GBK names and no UTF-8 flag (read as cp936), or
  with an Info-ZIP Unicode Path extra field.

Attachments of forwarded mails (``message/rfc822`` parts, or ``.eml`` files) count as the
forwarded mail's attachments. ``.zip`` attachments are opened after their declared sizes
and compression ratios are checked against the limits; ``.rar`` and ``.7z`` are kept as
they are (no maintained pure-Python reader), with a Chinese note. Every attachment that
is not kept gets a Chinese reason: nothing here raises for a hostile or broken mail.
"""
from __future__ import annotations

import datetime as dt
import email
import email.header
import email.utils
import hashlib
import io
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from email.message import Message
from pathlib import PurePosixPath

from wcreport.core.quarter import TZ
from wcreport.intake.formats import DOCUMENT_EXTS, MAIL_SCAN_EXTS, SPREADSHEET_EXTS

MIB = 1024 * 1024
UNOPENED_ARCHIVE_EXTS = {".rar", ".7z"}
MAIL_EXTS = {".eml"}
MAX_ZIP_MEMBERS = 200
MAX_COMPRESSION_RATIO = 100       # declared size / compressed size of one member
SMALL_INLINE_BYTES = 64 * 1024     # an HTML-embedded picture below this is a logo, not a scan
MAX_NESTING = 3                    # forwarded-inside-forwarded depth we follow
_IGNORED_MEMBERS = {"thumbs.db", "desktop.ini", ".ds_store"}
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030",
                    "euc-cn": "gb18030", "hz-gb-2312": "hz", "unknown-8bit": "utf-8", "x-unknown": "utf-8"}
_TYPE_EXTS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png", "image/tiff": ".tif",
              "application/ofd": ".ofd", "application/zip": ".zip", "application/x-zip-compressed": ".zip",
              "application/vnd.ms-excel": ".xls", "application/x-rar-compressed": ".rar",
              "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
              "application/x-7z-compressed": ".7z", "message/rfc822": ".eml"}
_AUTOMATIC_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply\..*)@", re.I)


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


# --- text -----------------------------------------------------------------
def decode_bytes(raw: bytes, declared: str | None = None) -> str:
    """Bytes as text: the declared charset, else UTF-8, else GB18030 (a superset of GBK)."""
    tried = []
    if declared:
        tried.append(_CHARSET_ALIASES.get(declared.strip().lower(), declared.strip().lower()))
    tried += ["utf-8", "gb18030"]
    for charset in tried:
        try:
            return raw.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("gb18030", errors="replace")


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _undo_8bit(text: str) -> str:
    """A header value parsed from bytes keeps raw 8-bit bytes as surrogates: decode them."""
    if not _has_surrogates(text):
        return text
    return decode_bytes(text.encode("ascii", "surrogateescape"))


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words (any charset, GBK read as GB18030) and raw 8-bit bytes."""
    text = _undo_8bit(text)
    if "=?" not in text:
        return text
    try:
        pieces = email.header.decode_header(text)
    except (ValueError, email.errors.HeaderParseError):
        return text
    out = []
    for chunk, charset in pieces:
        out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return "".join(out)


def raw_header(msg: Message, name: str) -> str | None:
    """A header's value with raw 8-bit bytes decoded, not yet RFC 2047-decoded; None if absent."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return _undo_8bit(value) if isinstance(value, str) else str(value)
    return None


def header_text(msg: Message, name: str) -> str:
    """A header as a person reads it (encoded words and raw GBK decoded, whitespace folded)."""
    value = raw_header(msg, name)
    return " ".join(decode_words(value).split()) if value else ""


# --- attachment names -----------------------------------------------------
def _param(msg: Message, header: str, name: str) -> str | None:
    value = raw_header(msg, header)
    if not value:
        return None
    holder = Message()
    holder[header] = value
    found = holder.get_param(name, header=header)
    if found is None:
        return None
    if isinstance(found, tuple):                 # RFC 2231: (charset, language, %-decoded latin-1)
        charset, _lang, text = found
        return decode_bytes(text.encode("latin-1", "replace"), charset or None)
    return decode_words(email.utils.unquote(found))


def attachment_name(part: Message) -> str | None:
    """The decoded file name of a MIME part: Content-Disposition filename, else Content-Type name."""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        name = _param(part, header, param)
        if name and name.strip() and "\ufffd" not in name:
            return name.strip()
    return None


_UNSAFE_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*\u202a-\u202e\u2066-\u2069]')


def safe_filename(name: str, limit_bytes: int = 200) -> str:
    """A file name safe to create in a folder: no path, no control or reserved characters.

    Directory parts (``/``, ``\\``) are dropped, control characters and ``<>:"|?*`` become
    ``_``, leading dots and trailing dots/spaces go (so no hidden file, no ``..``), and the
    name is cut to ``limit_bytes`` of UTF-8 keeping its extension. Never empty.
    """
    name = unicodedata.normalize("NFC", name)
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(".").rstrip(". ")
    if not name:
        return "附件"
    stem, dot, ext = name.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,8}", ext):
        stem, ext = name, ""
    suffix = f".{ext}" if ext else ""
    while len((stem + suffix).encode("utf-8")) > limit_bytes and stem:
        stem = stem[:-1]
    return (stem + suffix) if stem else f"附件{suffix}"


def extension(name: str) -> str:
    return PurePosixPath(name.lower()).suffix


def kind_of(name: str) -> str | None:
    """spreadsheet / scan / document / archive / mail, or None for anything else."""
    ext = extension(name)
    if ext in SPREADSHEET_EXTS:
        return "spreadsheet"
    if ext in MAIL_SCAN_EXTS:
        return "scan"
    if ext in DOCUMENT_EXTS:
        return "document"
    if ext == ".zip" or ext in UNOPENED_ARCHIVE_EXTS:
        return "archive"
    if ext in MAIL_EXTS:
        return "mail"
    return None


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
def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else (value.strip() or None)


def mail_key(raw: bytes, message_id: str | None) -> str:
    """The idempotency key: the Message-ID, else the sha256 of the exact bytes."""
    return f"mid:{message_id}" if message_id else f"sha256:{hashlib.sha256(raw).hexdigest()}"


def _to_shanghai(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    return value.astimezone(TZ)


def received_time(msg: Message) -> dt.datetime | None:
    """When our server received the mail: the topmost Received header's date, else Date."""
    for key, value in msg.raw_items():
        if key.lower() == "received" and ";" in str(value):
            try:
                return _to_shanghai(email.utils.parsedate_to_datetime(str(value).rsplit(";", 1)[1].strip()))
            except (TypeError, ValueError, IndexError):
                break
    try:
        date = raw_header(msg, "date")
        return _to_shanghai(email.utils.parsedate_to_datetime(date)) if date else None
    except (TypeError, ValueError, IndexError):
        return None


def automatic_reason(msg: Message, sender: str) -> str | None:
    """Why this mail must not be answered (RFC 3834 and common practice), or None."""
    auto = (raw_header(msg, "auto-submitted") or "no").strip().lower()
    if auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe", "x-wcreport-receipt"):
        if raw_header(msg, name) is not None:
            return f"header {name}"
    precedence = (raw_header(msg, "precedence") or "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    if (raw_header(msg, "return-path") or "").strip() == "<>":
        return "empty Return-Path (a bounce)"
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    if not sender:
        return "no From address"
    if _AUTOMATIC_SENDERS.match(sender):
        return f"automatic sender {sender}"
    return None


def _sender(msg: Message) -> tuple[str, str]:
    name, address = email.utils.parseaddr(header_text(msg, "from"))
    return address.strip().lower(), name.strip()


def _origin(msg: Message) -> Origin:
    date = raw_header(msg, "date")
    return Origin(sender=_sender(msg)[0], subject=header_text(msg, "subject"),
                  date=date.strip() if date else None,
                  message_id=_message_id(raw_header(msg, "message-id")))


def parse_mail(raw: bytes, limits: Limits) -> Mail:
    """Take one mail apart (see the module docstring)."""
    msg = email.message_from_bytes(raw)
    message_id = _message_id(raw_header(msg, "message-id"))
    sender, sender_name = _sender(msg)
    references = re.findall(r"<[^<>\s]+>", header_text(msg, "references"))
    mail = Mail(key=mail_key(raw, message_id), message_id=message_id, sender=sender,
                sender_name=sender_name, subject=header_text(msg, "subject"), date=received_time(msg),
                references=references, automatic=automatic_reason(msg, sender))
    _collect(msg, mail, limits, forwarded=None, depth=0, cids=_html_cids(msg))
    return mail


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
    elif kind == "archive":
        note = (f"压缩包「{name}」为 {extension(name)} 格式，系统无法自动解压（没有可靠维护的纯 Python 解压库），"
                "已原样保存，由工作人员手工处理。今后请改用 .zip 格式，或直接添加表格和扫描件。")
        mail.attachments.append(Attachment(name, data, kind, forwarded=forwarded, note=note))
    else:
        mail.attachments.append(Attachment(name, data, kind, forwarded=forwarded))


def _too_large(name: str, size: int, limits: Limits) -> str:
    return (f"附件「{name}」约 {_mb(size)}，超过 {_mb(limits.max_file_bytes)} 的上限，未保存。"
            "请压缩图片或拆分后重新发送。")
