"""The reminder DAG's step: today's reminders for a quarter's units that have not reported."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from wcreport.core.faults import InternalError
from wcreport.deliver.reminders import send_reminders as send_all
from wcreport.deliver.reminders import unit_addresses
from wcreport.flow.run import ReminderRun
from wcreport.flow.summaries import StageOutcome


def send_reminders(run: ReminderRun, extra_addresses: Mapping[str, object], send: Callable[..., None]) -> StageOutcome:
    """Remind the units due today, with the programme's addresses and ``extra_addresses`` (unit key →
    address). Units whose check failed (``run.unchecked``) are not reminded; the step then fails
    naming them, after the others' reminders went out."""
    programme = run.programme
    only = run.units
    if run.unchecked:
        only = [key for key in (only or [u.key for u in programme.units]) if key not in run.unchecked]
    summary = send_all(run.paths, programme, run.today, addresses=unit_addresses(programme, dict(extra_addresses)),
                       send=send, only_units=only).as_dict()
    if run.unchecked:
        raise InternalError(f"could not check the files of {run.unchecked}, so they were not reminded "
                            f"(the others were: {summary}); see check_units' log",
                            "fix the cause in check_units' log, then clear check_units with Downstream")
    return summary
