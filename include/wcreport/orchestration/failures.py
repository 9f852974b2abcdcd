"""Which failures retry and which fail the task at once.

Outages (the SMTP or IMAP server down, the metadata database busy, a file still being
written) are worth retrying: they raise ordinary exceptions and the task retries with
backoff (``dag_defaults``). Faults no retry can fix fail the task at once with
``AirflowFailException``, so ops get the alert now instead of after half an hour of
backoff: our configuration (``MailConfigError``, ``ProgrammeError``), our state files
(``DamagedStateError``) and the environment (``OperationsFault``: inbox missing or
unreadable, output unwritable, an internal error, a ``REPORT_*`` setting out of its range
(``SettingsError``)). The message keeps the cause's class
name and text, which name the file, field or connection and the fix.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from wcreport.core.faults import OperationsFault
from wcreport.core.programme import ProgrammeError
from wcreport.deliver.smtp import MailConfigError

NO_RETRY_CAN_FIX: tuple[type[BaseException], ...] = (OperationsFault, MailConfigError, ProgrammeError)

F = TypeVar("F", bound=Callable)


def fail_fast(func: F) -> F:
    """Run ``func``; a fault no retry can fix becomes ``AirflowFailException`` (no retries)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except NO_RETRY_CAN_FIX as exc:
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]
