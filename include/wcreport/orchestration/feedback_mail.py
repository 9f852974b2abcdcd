"""The unit's feedback mail right after its ingest, through ``smtp_default``.

A mail problem never fails the ingest: the unit's result is written and the report goes
on; the feedback ledger records only mails the server accepted, so the next run (of
quarterly_report or the reminders' check) sends what is still due.
"""
from __future__ import annotations

import logging

from wcreport.core.model import UnitResult
from wcreport.core.programme import Programme
from wcreport.core.settings import QuarterPaths
from wcreport.orchestration.connections import SMTP_CONN_ID, smtp_settings

log = logging.getLogger(__name__)


def mail_feedback(paths: QuarterPaths, programme: Programme, result: UnitResult,
                  conn_id: str = SMTP_CONN_ID) -> dict:
    """Send the unit its due feedback mails; a small summary for XCom and the log."""
    from wcreport.deliver.smtp import MailConfigError, MailError
    from wcreport.deliver.unit_feedback import send_unit_feedback

    try:
        outcome = send_unit_feedback(paths, programme, result, lambda: smtp_settings(conn_id))
    except (MailError, MailConfigError) as exc:
        log.warning("Feedback mail to %s not sent (%s); the next run sends it", result.unit, exc)
        return {"not_sent": str(exc)}
    except Exception as exc:   # e.g. no connection smtp_default: the ingest itself succeeded
        log.exception("Feedback mail to %s not sent; the next run tries again", result.unit)
        return {"not_sent": f"{exc.__class__.__name__}: {exc}"}
    summary = outcome.as_dict()
    if summary:
        log.info("Feedback mail for %s: %s", result.unit, summary)
    return summary
