"""The organiser's IMAP folder: which mails are new, their exact bytes, ``\\Seen`` once kept.

IMAP goes through imap-tools, with settings given as a plain ``ImapSettings`` value
(reading the Airflow connection is orchestration's job). The mailbox is only ever changed
by setting ``\\Seen``: nothing is moved, deleted or expunged.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from functools import cache

log = logging.getLogger(__name__)


class MailboxUnavailable(RuntimeError):
    """The IMAP server cannot be reached or refused us (an outage: worth retrying)."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int = 993
    user: str = ""
    password: str = field(default="", repr=False)
    use_ssl: bool = True
    starttls: bool = False
    folder: str = "INBOX"
    timeout: float = 60.0

    @property
    def folder_id(self) -> str:
        """The ledger's name for this folder of this account."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None


class ImapMailbox:
    """A logged-in IMAP session on one folder (context manager). Never expunges."""

    def __init__(self, settings: ImapSettings):
        self.settings = settings
        self._box = None

    def __enter__(self) -> "ImapMailbox":
        from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted

        s = self.settings
        try:
            if s.use_ssl:
                box = MailBox(s.host, s.port, timeout=s.timeout)
            elif s.starttls:
                box = MailBoxStartTls(s.host, s.port, timeout=s.timeout)
            else:
                box = MailBoxUnencrypted(s.host, s.port, timeout=s.timeout)
            box.email_message_class = _raw_message_class()   # keeps the exact bytes
            self._box = box.login(s.user, s.password, initial_folder=None)
        except OSError as exc:  # includes TimeoutError
            raise MailboxUnavailable(f"IMAP {s.host}:{s.port}: {exc.__class__.__name__}: {exc}") from exc
        except Exception as exc:  # imap-tools' MailboxLoginError, imaplib.IMAP4.error
            raise MailboxUnavailable(f"IMAP {s.host}:{s.port} login as {s.user!r} failed: {exc}") from exc
        return self

    def __exit__(self, *exc) -> None:
        box, self._box = self._box, None
        if box is not None:
            try:
                box.logout()
            except Exception:  # the session may already be gone; nothing to keep
                log.debug("IMAP logout failed", exc_info=True)

    def select(self) -> FolderState:
        """Select the folder read-write (for \\Seen) and return its UIDVALIDITY and UIDNEXT."""
        folder = self.settings.folder
        status = self._box.folder.status(folder, ["UIDVALIDITY", "UIDNEXT"])
        self._box.folder.set(folder, readonly=False)
        selected = self._box.client.untagged_responses.get("UIDVALIDITY")
        uidvalidity = int(selected[-1]) if selected else status["UIDVALIDITY"]
        return FolderState(uidvalidity, status.get("UIDNEXT"))

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid`` (``n:*`` also returns the newest mail: filtered out)."""
        found = self._box.uids(f"UID {last_uid + 1}:*")
        return sorted(u for u in map(int, found) if u > last_uid)

    def uids_since(self, day: dt.date) -> list[int]:
        from imap_tools import AND

        return sorted(map(int, self._box.uids(AND(date_gte=day))))

    def size(self, uid: int) -> int | None:
        """The mail's size as the server states it (RFC822.SIZE), without fetching its body."""
        typ, data = self._box.client.uid("FETCH", str(uid), "(RFC822.SIZE)")
        if typ != "OK":
            return None
        for item in data or []:
            line = item[0] if isinstance(item, tuple) else item
            found = re.search(rb"RFC822\.SIZE (\d+)", line or b"")
            if found:
                return int(found.group(1))
        return None

    def fetch_header(self, uid: int) -> bytes | None:
        """The mail's header only (BODY.PEEK[HEADER]): who to tell that a mail was too large."""
        typ, data = self._box.client.uid("FETCH", str(uid), "(BODY.PEEK[HEADER])")
        if typ != "OK":
            return None
        return next((item[1] for item in data or [] if isinstance(item, tuple) and len(item) > 1), None)

    def fetch(self, uid: int) -> bytes | None:
        """The mail's exact bytes (BODY.PEEK[]: does not set \\Seen); None if it is gone."""
        for message in self._box.fetch(uid_list=[str(uid)], mark_seen=False, bulk=False):
            return message.raw
        return None

    def mark_seen(self, uid: int) -> None:
        """Set \\Seen with a plain UID STORE (imap-tools' flag() would also EXPUNGE)."""
        typ, data = self._box.client.uid("STORE", str(uid), "+FLAGS", r"(\Seen)")
        if typ != "OK":
            log.warning("Could not set \\Seen on UID %s: %s", uid, data)


@cache
def _raw_message_class():
    from imap_tools import MailMessage

    class RawMailMessage(MailMessage):
        """imap-tools' message that also keeps the exact bytes the server sent."""

        def __init__(self, fetch_data: list):
            super().__init__(fetch_data)
            self.raw = self._get_message_data_parts(fetch_data)[0]

    return RawMailMessage


def new_uids(mailbox: ImapMailbox, ledger_folder: dict | None, state: FolderState,
             since: dt.date) -> list[int]:
    """The UIDs to look at: above the remembered one, or all since ``since`` when
    UIDVALIDITY is new (mails already taken in are then recognised by their keys)."""
    if ledger_folder and ledger_folder.get("uidvalidity") == state.uidvalidity:
        return mailbox.uids_after(int(ledger_folder.get("last_uid", 0)))
    if ledger_folder:
        log.warning("UIDVALIDITY changed (%s -> %s): searching since %s and matching by Message-ID",
                    ledger_folder.get("uidvalidity"), state.uidvalidity, since)
    return mailbox.uids_since(since)
