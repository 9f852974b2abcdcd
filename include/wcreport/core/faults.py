"""Faults on our side: they fail the task and alert ops, never become a unit's rejection or absence.

A unit's bad file is the unit's problem: it is rejected with a Chinese reason and the run
goes on. Everything below is ours (the environment, our configuration, our state files or
our code). Each message is English, names the file, folder or setting, and says what to do.

* ``OperationsFault`` and its subclasses: no retry can fix them; orchestration fails the
  task at once (``AirflowFailException``) so the alert goes out now, not after the backoff.
* ``SettingsError`` (an ``OperationsFault``): a ``REPORT_*`` value outside its range, found
  when the settings are read (core/settings.py), so the run's first task fails.
* ``InboxBusy``: a file was still being written; the task's ordinary retries fix it.

docs/runbook.md ("What failed and what to do") lists each one with its fix.
"""
from __future__ import annotations

from pathlib import Path


class OperationsFault(RuntimeError):
    """A fault on our side that a person must fix; retrying cannot."""

    fix: str = ""

    def __init__(self, what: str, fix: str | None = None):
        fix = fix or self.fix
        super().__init__(f"{what}. Fix: {fix}" if fix else what)


class InboxMissing(OperationsFault):
    """The quarter's inbox folder (or the inbox root) does not exist."""


class InboxUnreadable(OperationsFault):
    """The inbox or a file in it exists but cannot be listed or read (permissions, share)."""


class OutputUnwritable(OperationsFault):
    """A file under the output root cannot be written (read-only mount, full disk, permissions)."""


class InternalError(OperationsFault):
    """Our code failed on a file: a bug to fix, not the unit's fault."""


class InboxBusy(RuntimeError):
    """Files of the inbox were still being written when the wait ran out: retry later."""


def inbox_missing(folder: Path, root: Path) -> InboxMissing:
    """The fault for a missing quarter folder, telling a wrong/unmounted root from an uncreated folder."""
    if not root.is_dir():
        return InboxMissing(f"inbox root {root} does not exist (REPORT_INBOX or the DAG param 'inbox' is "
                            "wrong, or the share is not mounted)",
                            "mount the share or correct REPORT_INBOX / the 'inbox' param, then clear the task")
    return InboxMissing(f"quarter folder {folder} does not exist",
                        f"check that {root} is the right inbox; if no unit has sent anything yet, create the "
                        f"empty folder (mkdir '{folder}') and clear the task: an empty folder means 'no files yet'")


def output_unwritable(path: Path, exc: OSError) -> OutputUnwritable:
    return OutputUnwritable(f"cannot write {path}: {exc.__class__.__name__}: {exc.strerror or exc}",
                            "make the output folder writable for the Airflow workers (read-only mount, full "
                            "disk, permissions: check with df -h and ls -ld), then clear the task")


def inbox_unreadable(path: Path, exc: OSError) -> InboxUnreadable:
    return InboxUnreadable(f"cannot read {path}: {exc.__class__.__name__}: {exc.strerror or exc}",
                           "give the Airflow workers read access to the inbox share (permissions, mount), "
                           "then clear the task")


class SettingsError(OperationsFault, ValueError):
    """A ``REPORT_*`` environment variable has a value outside what it allows (named, with the range)."""
