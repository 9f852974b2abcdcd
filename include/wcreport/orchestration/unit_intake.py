"""The unit_intake DAG's work: what arrived, which units it concerns, and their check.

``unit_intake`` runs when a watcher (``orchestration.triggers``) reports a mail or a file.
The events are only a hint: each run re-lists, so a burst of events is one check and a file
that arrives while a check runs is found by the next run (``max_active_runs=1``).

* ``arrivals`` – the quarters to look at (the folder events' quarters; for mail, the quarters
  mail is filed under today) and whether mail came.
* mail – ``orchestration.mailbox.take_in_mail`` and ``send_receipts``, as the hourly poll.
* ``units_to_check`` – per quarter, the quarterly run's own steps on the plain path: ``flow.gather``
  (list, archive, identify), then the batch validation (``validate.outcome.validate_quarter_batch``)
  of only the units whose files changed since their last check, i.e. with a (path, SHA-256) not in
  their ``units/<key>.json``. The outcomes are kept where ``quarterly_report`` looks them up.
* ``check_unit`` – ``orchestration.tasks.ingest`` for each such unit: the unit's result and its
  feedback mail, recorded in the feedback ledger. At quarter end the same files are found in
  the outcome store and the ledger: no second validation, no second mail.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from wcreport.core.model import FileRecord, UnitResult
from wcreport.core.programme import Programme
from wcreport.core.quarter import TZ, Quarter
from wcreport.core.settings import QuarterPaths, settings
from wcreport.core.unit_results import unit_result_path
from wcreport.orchestration.failures import fail_fast

log = logging.getLogger(__name__)

# The kinds and scan states ``flow.ingest_unit.decide_unit`` decides (and records in the unit's result).
DECIDED_KINDS = ("spreadsheet", "archive", "stamped_copy")
DECIDED_STATES = ("pending", "rejected")


class Arrivals(BaseModel):
    """What one unit_intake run looks at (XCom)."""

    quarters: list[str]
    mail: bool
    inbox: str
    output: str
    folder: str = "INBOX"


class UnitCheck(BaseModel):
    """One unit to check in one quarter: the argument of a mapped ``check_unit``."""

    run: dict[str, Any]
    unit: str


def payloads(events: Mapping[Any, Iterable[Any]] | None) -> list[dict]:
    """The watchers' payloads among the run's triggering asset events (``extra["payload"]``)."""
    found = []
    for asset_events in (events or {}).values():
        for event in asset_events:
            extra = getattr(event, "extra", None) or {}
            if isinstance(extra.get("payload"), dict):
                found.append(extra["payload"])
    return found


def mail_quarters(today: dt.date) -> list[str]:
    from wcreport.orchestration.triggers import watched_quarters

    return watched_quarters(today)


@fail_fast
def arrivals(events: Mapping[Any, Iterable[Any]] | None, params: Mapping[str, Any] | None = None,
             today: dt.date | None = None) -> dict[str, Any]:
    """The run's quarters and whether to take in mail; a run without events (manual) looks at both."""
    params = params or {}
    current = settings()            # every setting checked: a wrong one fails this first step
    today = today or dt.datetime.now(TZ).date()
    found = payloads(events)
    folder_quarters = {str(Quarter.parse(p["quarter"])) for p in found
                       if p.get("source") == "shared_folder" and p.get("quarter")}
    mail = any(p.get("source") == "mailbox" for p in found) or not found
    quarters = set(folder_quarters)
    if params.get("quarter"):
        quarters = {str(Quarter.parse(params["quarter"]))}
    elif mail:
        quarters |= set(mail_quarters(today))
    log.info("Arrivals: %d event(s); quarters %s; mail %s", len(found), sorted(quarters), mail)
    return Arrivals(quarters=sorted(quarters), mail=mail,
                    inbox=str(Path(params.get("inbox") or current.inbox_root)),
                    output=str(Path(params.get("output") or current.output_root))).model_dump()


def mail_run(arrived: Mapping[str, Any]) -> dict[str, Any] | None:
    """The mailbox steps' run (as ``mailbox.resolve_poll`` makes it), or None when no mail came."""
    got = Arrivals.model_validate(arrived)
    if not got.mail:
        return None
    return {"quarter": None, "inbox": got.inbox, "output": got.output, "folder": got.folder, "since": None}


# --- which units --------------------------------------------------------------------------------
def _known_files(paths: QuarterPaths, unit_key: str) -> set[tuple[str, str | None]] | None:
    """(path, sha256) of the files the unit's last check decided; None: never checked (or unreadable)."""
    try:
        result = UnitResult.model_validate_json(unit_result_path(paths, unit_key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {(record.path, record.sha256) for record in result.files}


def changed_units(paths: QuarterPaths, programme: Programme, records: list[FileRecord]) -> list[str]:
    """Units with a file (path and content) their last check did not decide."""
    changed = []
    for unit in programme.units:
        current = {(r.path, r.sha256) for r in records
                   if r.unit == unit.key and r.kind in DECIDED_KINDS and r.status in DECIDED_STATES}
        if not current:
            continue
        known = _known_files(paths, unit.key)
        if known is None or current - known:
            changed.append(unit.key)
    return changed


@fail_fast
def units_to_check(arrived: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Gather each quarter and validate the changed units' new files in one batch; the units to ingest."""
    got = Arrivals.model_validate(arrived)
    checks: list[dict[str, Any]] = []
    for quarter in got.quarters:
        checks += [UnitCheck(run=run, unit=unit).model_dump() for run, unit in _quarter_checks(quarter, got)]
    log.info("Units to check: %s", [(c["run"]["quarter"], c["unit"]) for c in checks] or "none")
    return checks


def _quarter_checks(quarter: str, got: Arrivals) -> list[tuple[dict[str, Any], str]]:
    from wcreport.flow.gather import gather, scan_inbox
    from wcreport.flow.run import resolve_run
    from wcreport.orchestration.alerts import notify_ops_of_problem
    from wcreport.validate.outcome import validate_quarter_batch

    run = resolve_run(quarter, got.inbox, got.output)
    paths, programme = run.paths, run.programme
    if not paths.inbox.is_dir():
        log.info("No inbox folder %s yet: nothing arrived for %s", paths.inbox, quarter)
        return []
    gather(run, alert_ops=notify_ops_of_problem)
    records = scan_inbox(paths, programme, max_wait_seconds=0)
    changed = changed_units(paths, programme, records)
    if changed:
        batch = validate_quarter_batch(paths, programme, [r for r in records if r.unit in changed])
        log.info("%s: units %s changed; batch %s", quarter, changed, batch)
    return [(run.model_dump(), unit) for unit in changed]


@fail_fast
def check_unit(check: Mapping[str, Any]) -> dict[str, Any]:
    """The quarterly run's ``ingest_unit`` for one unit: its result, its feedback mail."""
    from wcreport.orchestration.tasks import ingest

    item = UnitCheck.model_validate(check)
    return dict(ingest(item.run, item.unit))


def unit_label(check: Mapping[str, Any]) -> str:
    """The mapped instance's name in the grid: quarter and unit name."""
    from wcreport.flow.run import QuarterRun

    item = UnitCheck.model_validate(check)
    run = QuarterRun.model_validate(item.run)
    return f"{run.quarter} · {run.programme.unit(item.unit).name}"
