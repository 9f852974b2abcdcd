"""A private Dovecot IMAP server on 127.0.0.1 for tests and demos.

    with Dovecot() as server:            # needs Debian's dovecot-imapd and root
        server.append(raw_bytes)         # IMAP APPEND into INBOX as the test user
        server.airflow_conn_uri()        # value for AIRFLOW_CONN_IMAP_DEFAULT

Everything lives in a temporary folder: configuration, runtime sockets, log, and one
passwd-file user whose Maildir is under ``<dir>/home/<user>``. Dovecot refuses to
access mail as root, so mail is owned by a dedicated system user (``wcreport-mail``),
created with ``useradd`` when missing. The server runs in the foreground
(``dovecot -F``) as a child process and is stopped with SIGTERM; the folder is removed.
Plain IMAP only (no TLS), listening on loopback.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from wcreport_testing.net import free_port

MAIL_USER = "wcreport-mail"
DOVECOT = "/usr/sbin/dovecot"


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed or cannot be started here (tests skip on this)."""


def dovecot_binary() -> str | None:
    found = shutil.which("dovecot") or (DOVECOT if os.path.exists(DOVECOT) else None)
    return found


def ensure_mail_user(name: str = MAIL_USER) -> pwd.struct_passwd:
    """The system user that owns the test mail; created (no home, no shell) if missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        raise DovecotUnavailable(f"system user {name!r} is missing and only root can create it")
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    return pwd.getpwnam(name)


def _config(base: Path, port: int, uid: int, gid: int) -> str:
    return f"""\
# Private test configuration written by wcreport_testing.dovecot
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
info_log_path = {base}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
last_valid_gid = {gid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_privileged_group =
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    """One throwaway Dovecot with one user; see the module docstring."""

    def __init__(self, user: str = "qtk@test.invalid", password: str = "secret-imap",
                 port: int | None = None):
        self.user = user
        self.password = password
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self.folder: Path | None = None
        self._process: subprocess.Popen | None = None

    # --- lifecycle --------------------------------------------------------
    def start(self, timeout: float = 20.0) -> "Dovecot":
        binary = dovecot_binary()
        if binary is None:
            raise DovecotUnavailable("dovecot is not installed (Debian: dovecot-imapd)")
        if os.geteuid() != 0:
            raise DovecotUnavailable("a private dovecot needs root (it switches to the mail user)")
        account = ensure_mail_user()
        self.folder = Path(tempfile.mkdtemp(prefix="wcreport-dovecot-"))
        os.chmod(self.folder, 0o755)               # the mail user must reach home/
        home = self.folder / "home" / self.user
        home.mkdir(parents=True)
        for path in (self.folder / "home", home):
            os.chown(path, account.pw_uid, account.pw_gid)
        (self.folder / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n", encoding="utf-8")
        conf = self.folder / "dovecot.conf"
        conf.write_text(_config(self.folder, self.port, account.pw_uid, account.pw_gid), encoding="utf-8")
        self._process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
        try:
            self._wait_until_listening(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise DovecotUnavailable(f"dovecot exited: {self._stderr()} {self.log()[-2000:]}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise DovecotUnavailable(f"dovecot did not listen on {self.port} in {timeout}s: {self.log()[-2000:]}")

    def _stderr(self) -> str:
        if self._process is None or self._process.stderr is None:
            return ""
        try:
            return self._process.stderr.read().decode("utf-8", "replace")[-2000:]
        except (OSError, ValueError):
            return ""

    def stop(self) -> None:
        """SIGTERM to the master (it stops its children), then remove the folder."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if process is not None and process.stderr is not None:
            process.stderr.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __enter__(self) -> "Dovecot":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log(self) -> str:
        if self.folder is None:
            return ""
        try:
            return (self.folder / "dovecot.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # --- mail -------------------------------------------------------------
    def client(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4(self.host, self.port, timeout=30)
        imap.login(self.user, self.password)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX", when: dt.datetime | None = None,
               flags: str = "") -> None:
        """IMAP APPEND one message (``when`` becomes its INTERNALDATE)."""
        imap = self.client()
        try:
            stamp = imaplib.Time2Internaldate(when or dt.datetime.now(dt.UTC))
            typ, data = imap.append(folder, f"({flags})" if flags else None, stamp, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data}")
        finally:
            imap.logout()

    def mailbox_snapshot(self, folder: str = "INBOX") -> list[tuple[int, bytes, str]]:
        """(uid, exact bytes, flags) of every message, read without touching \\Seen."""
        imap = self.client()
        try:
            imap.select(folder, readonly=True)
            typ, data = imap.uid("SEARCH", None, "ALL")
            found = []
            for uid in (data[0] or b"").split():
                typ, parts = imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                head, raw = parts[0]
                flags = head.decode().split("FLAGS (", 1)[1].split(")", 1)[0]
                found.append((int(uid), raw, flags))
            return found
        finally:
            imap.logout()

    def airflow_conn_uri(self, **extra) -> str:
        """An ``AIRFLOW_CONN_IMAP_DEFAULT`` value for this server (plain IMAP, no SSL; ``extra`` added)."""
        return json.dumps({"conn_type": "imap", "host": self.host, "port": self.port,
                           "login": self.user, "password": self.password,
                           "extra": {"use_ssl": False, **extra}})


@contextlib.contextmanager
def private_dovecot() -> Iterator[Dovecot]:
    """A started private Dovecot for a pytest fixture, stopped afterwards; the test is skipped
    where Dovecot cannot run."""
    import pytest

    try:
        server = Dovecot().start()
    except DovecotUnavailable as exc:
        pytest.skip(f"no private Dovecot here: {exc}")
    try:
        yield server
    finally:
        server.stop()
