"""Step 1 of a quarter: list the quarter's inbox, archive every file, identify each file's unit."""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from wcreport.core.faults import InboxBusy
from wcreport.core.model import FileRecord
from wcreport.core.programme import Programme
from wcreport.core.settings import QuarterPaths
from wcreport.flow.checks import MissingTools, fail_on_internal_errors, missing_tools
from wcreport.flow.run import QuarterRun
from wcreport.intake.classify import still_being_written
from wcreport.intake.scan import scan_and_identify
from wcreport.validate.feedback import write_feedback

log = logging.getLogger(__name__)

# gather waits this long for files still being written; later scans of the run (each
# unit's ingest, merge) do not wait: the run's wait is bounded once, not per scan.
STABILITY_WAIT_SECONDS = 30.0


def gather(run: QuarterRun, alert_ops: Callable[[MissingTools], None] | None = None) -> list[str]:
    """Scan, archive and identify the quarter's inbox; return the unit keys to ingest.

    Fails (no retry) when the inbox is missing or unreadable, the output unwritable or our
    code failed on a file; fails for a retry when a report file was still being written.
    A worker without the OCR tools does not fail it: the stamped copies are shown 无法确认,
    the log says so at error level and ``alert_ops`` is called (orchestration mails ops).
    """
    paths, programme = run.paths, run.programme
    records = scan_inbox(paths, programme, max_wait_seconds=STABILITY_WAIT_SECONDS)
    log.info("Inbox %s: %d file(s) %s", paths.inbox, len(records), dict(Counter(r.status for r in records)))
    fail_on_internal_errors(records)
    tools = missing_tools(records)
    if tools is not None and alert_ops is not None:
        alert_ops(tools)
    busy = [r.path for r in records if r.kind == "spreadsheet" and still_being_written(r)]
    if busy:
        raise InboxBusy(f"{len(busy)} file(s) in {paths.inbox} were still being written after "
                        f"{STABILITY_WAIT_SECONDS:.0f} s: {busy[:10]}; the task retries")
    return [unit.key for unit in programme.units]


def scan_inbox(paths: QuarterPaths, programme: Programme, *, max_wait_seconds: float = 30.0) -> list[FileRecord]:
    """The inbox scan, with a feedback page for every file rejected before it had a unit."""
    records = scan_and_identify(paths, programme, max_wait_seconds=max_wait_seconds)
    for record in records:
        if record.status == "rejected" and record.unit is None and record.sha256:
            record.feedback = write_feedback(paths, record, None, None, programme.report.title,
                                             programme.report.organiser)
    return records
