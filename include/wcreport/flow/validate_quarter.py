"""Step 2: every unit's new files validated together, for each unit's ingest to look up.

This step is itself a speed-up: with it skipped, failed, or accelerators switched off,
each ``ingest_unit`` validates its own files and reaches the same outcome.
"""
from __future__ import annotations

import logging

from wcreport.core.faults import OperationsFault
from wcreport.flow.gather import scan_inbox
from wcreport.flow.run import QuarterRun
from wcreport.flow.summaries import StageOutcome
from wcreport.validate.outcome import validate_quarter_batch

log = logging.getLogger(__name__)


def validate_quarter(run: QuarterRun) -> StageOutcome:
    """A summary of the batch (counts, seconds); only an operations fault fails the step."""
    paths, programme = run.paths, run.programme
    records = scan_inbox(paths, programme, max_wait_seconds=0)
    try:
        return validate_quarter_batch(paths, programme, records)
    except OperationsFault:
        raise
    except Exception as exc:
        log.exception("the quarter's batch validation failed; each unit is validated on its own")
        return {"batch_failed": f"{exc.__class__.__name__}: {exc}"}
