"""A mail's headers and attachment names, decoded as a person reads them.

Chinese mail clients encode attachment names every way there is, and all of them are
read here:

* RFC 2231 (``filename*=UTF-8''…``), with continuations (``filename*0*=…; filename*1*=…``,
  Foxmail) and a charset that is sometimes wrong (GBK bytes declared UTF-8);
* RFC 2047 encoded words inside the quoted parameter (``name="=?GBK?B?…?="``, Outlook and
  Coremail; not standard, very common);
* raw 8-bit GBK/GB18030 (or UTF-8) bytes in the header.

Nothing here raises for a broken header.
"""
from __future__ import annotations

import datetime as dt
import email
import email.header
import email.utils
import hashlib
import re
import unicodedata
from email.message import Message
from pathlib import PurePosixPath

from wcreport.core.quarter import TZ
from wcreport.intake.formats import DOCUMENT_EXTS, MAIL_SCAN_EXTS, SPREADSHEET_EXTS

UNOPENED_ARCHIVE_EXTS = {".rar", ".7z"}
MAIL_EXTS = {".eml"}
_CHARSET_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "cp936": "gb18030", "x-gbk": "gb18030",
                    "euc-cn": "gb18030", "hz-gb-2312": "hz", "unknown-8bit": "utf-8", "x-unknown": "utf-8"}
# Out-of-office replies from Chinese clients often carry none of the standard headers: the
# subject is all there is. Matched at the start (after Re:/回复：) so a report titled
# "…休假制度落实情况" is not taken for one.
_AUTOMATIC_SUBJECTS = re.compile(
    r"^(?:(?:re|回复|答复|fw|fwd|转发)\s*[:：]\s*)*[\[【(（]?\s*(?:自动回复|自动答复|auto[- ]?reply|"
    r"automatic reply|out of (?:the )?office|休假|外出|假期自动回复)", re.I)
# Our receipts' and notices' Message-IDs (``deliver.receipts``): a mail answering one is
# never answered again, or two auto-responders would mail each other forever.
RECEIPT_MESSAGE_ID = re.compile(r"^<(?:receipt|notice)\.[0-9a-f]{32}@", re.I)
_AUTOMATIC_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply\..*)@", re.I)


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


# --- headers --------------------------------------------------------------
def message_id_of(value: str | None) -> str | None:
    if not value:
        return None
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else (value.strip() or None)


_TRACE_HEADERS = re.compile(rb"^(received|return-path|delivered-to|x-original-to|authentication-results|"
                            rb"arc-[a-z-]+|x-[a-z0-9-]+|dkim-signature|x-spam[a-z-]*|status|x-uid|x-keywords)\s*:",
                            re.I)


def content_hash(raw: bytes) -> str:
    """The sha256 of what the sender wrote: the bytes without the headers servers add on the way
    (Received, Delivered-To …). A mail without Message-ID delivered twice (two aliases, a
    redelivery) differs only in those, so both copies get the same key."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    lines = re.split(rb"\r?\n(?![ \t])", head)             # unfolded header fields
    kept = [line.strip() for line in lines if not _TRACE_HEADERS.match(line)]
    return hashlib.sha256(b"\n".join(kept) + sep + body).hexdigest()


def mail_key(raw: bytes, message_id: str | None) -> str:
    """The idempotency key: the Message-ID, else the sha256 of the sender's content (``content_hash``)."""
    return f"mid:{message_id}" if message_id else f"sha256:{content_hash(raw)}"


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


def automatic_reason(msg: Message, sender: str, subject: str = "", references: list[str] | None = None
                     ) -> str | None:
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
    ours = next((r for r in references or [] if RECEIPT_MESSAGE_ID.match(r)), None)
    if ours:
        return f"answers our receipt {ours}"
    if _AUTOMATIC_SUBJECTS.match(subject.strip()):
        return f"auto-reply subject {subject.strip()[:40]!r}"
    return None
