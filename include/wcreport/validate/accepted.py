"""What of a file that passed validation goes into the report under its unit.

Only rows of the unit's own tasks: a row for another unit's task was warned about
(``task.not_responsible``) and is kept out, so it never reaches the leaders' workbook under
this unit; a blank template row of another task is not report either. A 完成时限 that is not
a date (已完成, 尽快 …; warned about as ``deadline.invalid``) is replaced by the programme's
deadline, which is what the form asks for.
"""
from __future__ import annotations

from wcreport.core.model import ProgressRow
from wcreport.core.programme import Programme
from wcreport.validate.completion import parse_deadline, programme_deadline


def accepted_rows(rows: list[ProgressRow], programme: Programme, unit_key: str) -> list[ProgressRow]:
    """The rows of an accepted file that are the unit's report, deadlines as the report shows them."""
    own = {t.seq for t in programme.tasks_of(unit_key)}
    kept = []
    for row in rows:
        if row.seq not in own:
            continue
        if parse_deadline(row.deadline if row.deadline.strip() else None, programme.year).kind == "invalid":
            row = row.model_copy(update={"deadline": programme_deadline(programme.year)})
        kept.append(row)
    return kept
