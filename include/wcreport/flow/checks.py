"""Faults on our side found among the scanned files: they fail the step, never a unit's file."""
from __future__ import annotations

from wcreport.core.faults import InternalError, ToolMissing
from wcreport.core.model import FileRecord
from wcreport.intake.scan import internal_errors
from wcreport.intake.stamped import OPS_CODES


def fail_on_internal_errors(records: list[FileRecord]) -> None:
    """Our code failed on some files: fail the step (the files are not the units' fault)."""
    failed = [r.path for r in internal_errors(records)]
    if failed:
        raise InternalError(f"internal error while processing {len(failed)} inbox file(s): {failed[:10]} "
                            "(traceback in this task's log)",
                            "fix the cause shown in the log, then clear this task with Downstream; "
                            "the units are not told anything until then")


def fail_on_missing_tools(records: list[FileRecord]) -> None:
    """A stamped copy could not be read because the worker lacks a tool: ours to install, not the unit's."""
    missing = sorted({f.message for r in records for f in r.findings if f.code in OPS_CODES})
    if missing:
        files = [r.path for r in records if any(f.code in OPS_CODES for f in r.findings)]
        raise ToolMissing(f"the workers cannot read stamped copies {files[:10]}: {missing}",
                          "install the system packages (tools/install_system_packages.sh: tesseract-ocr, "
                          "tesseract-ocr-chi-sim, poppler-utils) on every worker, then clear this task")
