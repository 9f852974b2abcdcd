"""A local SMTP sink for demos and tests: accepts every mail, stores it, sends nothing on.

    python -m wcreport_testing.smtp_sink --port 8025 --maildir data/maildir

Each accepted message is written as ``<maildir>/<UTC time>-<n>.eml`` (written to a
temporary name first, then renamed, so a reader never sees half a file). The envelope
is recorded in ``X-Envelope-From`` / ``X-Envelope-To`` headers prepended to the
message. Listens on 127.0.0.1 only unless ``--host`` says otherwise. No
authentication, no TLS: for loopback use.
"""
from __future__ import annotations

import argparse
import datetime as dt
import email
import itertools
import json
import os
import signal
import threading
import warnings
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from wcreport_testing.net import free_port


class SinkHandler:
    """aiosmtpd handler: keep each message in memory and, optionally, in a folder."""

    def __init__(self, maildir: str | os.PathLike | None = None):
        self.maildir = Path(maildir) if maildir else None
        if self.maildir:
            self.maildir.mkdir(parents=True, exist_ok=True)
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        record = {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos), "raw": raw}
        with self._lock:
            n = next(self._counter)
            if self.maildir:
                record["path"] = str(self._store(n, envelope.mail_from, envelope.rcpt_tos, raw))
            self.messages.append(record)
        return "250 Message accepted for delivery"

    def _store(self, n: int, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Path:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.maildir / f"{stamp}-{n:04d}.eml"
        head = (f"X-Envelope-From: {mail_from}\r\n"
                f"X-Envelope-To: {', '.join(rcpt_tos)}\r\n").encode("ascii", "replace")
        tmp = target.with_suffix(".eml.tmp")
        tmp.write_bytes(head + raw)
        os.replace(tmp, target)
        return target


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=policy.default)



class SmtpSink:
    """Start/stop wrapper around aiosmtpd's Controller (runs in a thread)."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1",
                 maildir: str | os.PathLike | None = None,
                 auth: tuple[str, str] | None = None):
        """``auth=(login, password)`` requires AUTH LOGIN/PLAIN (without TLS: loopback only)."""
        self.host = host
        self.port = port or free_port(host)
        self.handler = SinkHandler(maildir)
        self.auth = auth
        self.logins: list[str] = []
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult, LoginPassword

        ok = (isinstance(auth_data, LoginPassword) and self.auth is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == self.auth)
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok)

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> "SmtpSink":
        if self._controller is None:
            extra = {}
            if self.auth:
                extra = {"authenticator": self._authenticate, "auth_required": True,
                         "auth_require_tls": False}
            with warnings.catch_warnings():  # AUTH without TLS is deliberate (loopback only)
                warnings.simplefilter("ignore", UserWarning)
                self._controller = Controller(self.handler, hostname=self.host, port=self.port,
                                              **extra)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [parse(m["raw"]) for m in self.handler.messages]

    @property
    def envelopes(self) -> list[dict]:
        return list(self.handler.messages)

    def airflow_conn_uri(self, from_email: str = "report-bot@localhost") -> str:
        """Value for AIRFLOW_CONN_SMTP_DEFAULT pointing at this sink (no SSL, no TLS)."""
        return json.dumps({"conn_type": "smtp", "host": self.host, "port": self.port,
                           "extra": {"disable_ssl": True, "disable_tls": True,
                                     "from_email": from_email}})

    def __enter__(self) -> "SmtpSink":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wcreport_testing.smtp_sink", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--maildir", required=True, help="folder for the received .eml files")
    args = parser.parse_args(argv)
    sink = SmtpSink(args.port, args.host, args.maildir).start()
    print(f"SMTP sink listening on {args.host}:{args.port}, writing to {args.maildir}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        stop.wait()
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
