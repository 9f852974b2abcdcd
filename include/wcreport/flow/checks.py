"""Faults on our side found among the scanned files: they fail the step or alert ops, never a unit's file."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from wcreport.core.faults import InternalError
from wcreport.core.model import FileRecord
from wcreport.intake.scan import internal_errors
from wcreport.intake.stamped import OPS_CODES

log = logging.getLogger(__name__)

TOOLS_FIX = ("install the system packages (tools/install_system_packages.sh: tesseract-ocr, tesseract-ocr-chi-sim, "
             "poppler-utils) on every worker; the stamped copies are read again on the next run")


def fail_on_internal_errors(records: list[FileRecord]) -> None:
    """Our code failed on some files: fail the step (the files are not the units' fault)."""
    failed = [r.path for r in internal_errors(records)]
    if failed:
        raise InternalError(f"internal error while processing {len(failed)} inbox file(s): {failed[:10]} "
                            "(traceback in this task's log)",
                            "fix the cause shown in the log, then clear this task with Downstream; "
                            "the units are not told anything until then")


@dataclass(frozen=True)
class MissingTools:
    """Stamped copies the worker could not read for want of a system tool (ours, not the unit's)."""

    files: list[str]
    reasons: list[str]             # the Chinese reasons, which name the tool

    def __str__(self) -> str:
        return (f"the workers cannot read {len(self.files)} stamped cop{'y' if len(self.files) == 1 else 'ies'} "
                f"{self.files[:10]}: {self.reasons}; they are shown as 无法确认 for the clerk to check by eye, "
                f"the report goes out. Fix: {TOOLS_FIX}")


def missing_tools(records: list[FileRecord]) -> MissingTools | None:
    """Stamped copies not read because a tool is missing, logged at error level for ops.

    Not a failure: one unit's advisory scan must not stop the quarter's report. The copies
    are marked 无法确认 (the clerk checks them by eye) and the caller alerts ops.
    """
    hit = [r for r in records if any(f.code in OPS_CODES for f in r.findings)]
    if not hit:
        return None
    found = MissingTools(files=[r.path for r in hit],
                         reasons=sorted({f.message for r in hit for f in r.findings if f.code in OPS_CODES}))
    log.error("%s", found)
    return found
