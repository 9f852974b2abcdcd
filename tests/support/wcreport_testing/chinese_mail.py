"""Raw e-mails as Chinese mail clients write them, for tests and demos of the mailbox intake.

Each builder returns the exact bytes a server would store, encoding attachment names
the way that client family does:

* ``foxmail``: RFC 2231 with continuations (``filename*0*=UTF-8''…``) plus an RFC 2047
  ``name=`` on the Content-Type;
* ``outlook``: RFC 2047 GBK words inside the quoted ``name=``/``filename=`` (Outlook,
  Coremail webmail), GBK subject;
* ``raw_gbk``: the names and subject as raw 8-bit GBK bytes;
* ``forwarded``: a mail carrying another one as ``message/rfc822``;
* ``gbk_zip``: a zip whose member names are GBK bytes without the UTF-8 flag (Windows);
* ``zip_bomb``: a small zip declaring a huge, highly compressed member.
"""
from __future__ import annotations

import base64
import datetime as dt
import email.utils
import io
import zipfile
from urllib.parse import quote

from wcreport.core.quarter import TZ

CRLF = b"\r\n"


def _b64_lines(data: bytes) -> bytes:
    text = base64.b64encode(data)
    return CRLF.join(text[i:i + 76] for i in range(0, len(text), 76))


def _word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def _date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when if when.tzinfo else when.replace(tzinfo=TZ))


def _head(sender: bytes, subject: bytes, when: dt.datetime, message_id: str | None, mailer: str,
          extra: list[bytes] = ()) -> list[bytes]:
    lines = [b"Received: from client.example.cn ([192.0.2.10]) by mx.qtk.example.cn with ESMTPA; "
             + _date(when).encode(),
             b"From: " + sender, b"To: =?utf-8?B?" + base64.b64encode("收件科室".encode()) + b"?= <qtk@test.invalid>",
             b"Subject: " + subject, b"Date: " + _date(when).encode()]
    if message_id:
        lines.append(b"Message-ID: " + message_id.encode())
    lines += [b"X-Mailer: " + mailer.encode(), b"MIME-Version: 1.0", *extra]
    return lines


def _multipart(head: list[bytes], parts: list[bytes], boundary: str = "----=_Part_wcreport_0001") -> bytes:
    out = [*head, f'Content-Type: multipart/mixed; boundary="{boundary}"'.encode(), b""]
    out.append(b"This is a multi-part message in MIME format.")
    for part in parts:
        out += [f"--{boundary}".encode(), part]
    out += [f"--{boundary}--".encode(), b""]
    return CRLF.join(out)


def _text_part(text: str, charset: str = "utf-8") -> bytes:
    return CRLF.join([f"Content-Type: text/plain; charset={charset}".encode(),
                      b"Content-Transfer-Encoding: base64", b"", _b64_lines(text.encode(charset))])


def _addr(name: str, address: str, charset: str = "utf-8") -> bytes:
    return f"{_word(name, charset)} <{address}>".encode()


def _rfc2231_continuations(name: str, chars: int = 8) -> list[bytes]:
    """``filename*0*=UTF-8''…; filename*1*=…`` lines, ``chars`` characters per segment."""
    pieces = [quote(name[i:i + chars].encode("utf-8"), safe="") for i in range(0, len(name), chars)]
    lines = []
    for n, piece in enumerate(pieces):
        prefix = "UTF-8''" if n == 0 else ""
        end = ";" if n < len(pieces) - 1 else ""
        lines.append(f" filename*{n}*={prefix}{piece}{end}".encode())
    return lines


def foxmail(sender: str, sender_name: str, subject: str, files: list[tuple[str, bytes]], *,
            when: dt.datetime, message_id: str | None, body: str = "您好，附件是我单位本季度报表，请查收。") -> bytes:
    parts = [_text_part(body)]
    for name, data in files:
        parts.append(CRLF.join([
            f'Content-Type: application/octet-stream; name="{_word(name)}"'.encode(),
            b"Content-Transfer-Encoding: base64", b"Content-Disposition: attachment;",
            *_rfc2231_continuations(name), b"", _b64_lines(data)]))
    head = _head(_addr(sender_name, sender), _word(subject).encode(), when, message_id, "Foxmail 7.2.25.254[cn]")
    return _multipart(head, parts)


def outlook(sender: str, sender_name: str, subject: str, files: list[tuple[str, bytes]], *,
            when: dt.datetime, message_id: str | None, body: str = "各位领导：附件为本单位进展情况，请审阅。",
            mailer: str = "Coremail Webmail Server Version XT5.0.13") -> bytes:
    parts = [_text_part(body, "gbk")]
    for name, data in files:
        word = _word(name, "gbk")
        parts.append(CRLF.join([
            f'Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name="{word}"'.encode(),
            b"Content-Transfer-Encoding: base64", f'Content-Disposition: attachment; filename="{word}"'.encode(),
            b"", _b64_lines(data)]))
    head = _head(_addr(sender_name, sender, "gbk"), _word(subject, "gbk").encode(), when, message_id, mailer)
    return _multipart(head, parts)


def raw_gbk(sender: str, subject: str, files: list[tuple[str, bytes]], *, when: dt.datetime,
            message_id: str | None) -> bytes:
    parts = [_text_part("报表见附件。", "gbk")]
    for name, data in files:
        gbk = name.encode("gbk")
        parts.append(CRLF.join([b'Content-Type: application/octet-stream; name="' + gbk + b'"',
                                b"Content-Transfer-Encoding: base64",
                                b'Content-Disposition: attachment; filename="' + gbk + b'"', b"", _b64_lines(data)]))
    head = _head(sender.encode(), subject.encode("gbk"), when, message_id, "Microsoft Outlook 14.0")
    return _multipart(head, parts)


def plain(sender: str, subject: str, body: str, *, when: dt.datetime, message_id: str | None,
          extra_headers: list[str] = ()) -> bytes:
    head = _head(sender.encode(), _word(subject).encode(), when, message_id, "Foxmail 7.2.25.254[cn]",
                 [h.encode() for h in extra_headers])
    return CRLF.join([*head, b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: base64",
                      b"", _b64_lines(body.encode("utf-8")), b""])


def forwarded(forwarder: str, subject: str, inner: bytes, *, when: dt.datetime, message_id: str | None) -> bytes:
    part = CRLF.join([b"Content-Type: message/rfc822", b"Content-Disposition: inline", b"", inner])
    head = _head(forwarder.encode(), _word(subject).encode(), when, message_id, "Coremail Webmail Server")
    return _multipart(head, [_text_part("转发单位报表，请查收。"), part], boundary="----=_Part_fwd_0002")


def single_attachment(sender: str, subject: str, name: str, data: bytes, *, when: dt.datetime,
                      message_id: str | None) -> bytes:
    """One attachment, named with RFC 2231 (as Python and most modern clients write it)."""
    part = CRLF.join([b"Content-Type: application/octet-stream", b"Content-Transfer-Encoding: base64",
                      f"Content-Disposition: attachment; filename*=utf-8''{quote(name)}".encode(), b"",
                      _b64_lines(data)])
    head = _head(sender.encode(), _word(subject).encode(), when, message_id, "Foxmail 7.2.25.254[cn]")
    return _multipart(head, [_text_part("请查收。"), part])


class _GbkZipInfo(zipfile.ZipInfo):
    """Writes the name as GBK bytes without the UTF-8 flag, as Windows' zip tools do."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def gbk_zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = _GbkZipInfo(name, date_time=(2023, 9, 25, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_bomb(declared_mib: int = 300, name: str = "报表.xlsx") -> bytes:
    """A zip of ``declared_mib`` MiB of zeros in one member (about 1000:1)."""
    buffer = io.BytesIO()
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open(name, "w", force_zip64=True) as out:
        for _ in range(declared_mib):
            out.write(chunk)
    return buffer.getvalue()


OUR_AUTHSERV_ID = "mx.qtk.example.cn"


def authenticated(raw: bytes, domain: str, *, result: str = "pass", authserv_id: str = OUR_AUTHSERV_ID) -> bytes:
    """``raw`` as the office's server delivers it: its Authentication-Results for ``domain`` on top."""
    header = (f"Authentication-Results: {authserv_id}; dkim={result} header.d={domain}; "
              f"spf={result} smtp.mailfrom={domain}; dmarc={result} (p=quarantine) header.from={domain}")
    return header.encode() + CRLF + raw
