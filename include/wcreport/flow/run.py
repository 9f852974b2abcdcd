"""Which quarter a run is about and where its folders are: the value every step receives."""
from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from wcreport.core.programme import Programme, programme_for_year
from wcreport.core.quarter import Quarter, quarter_of_data_interval
from wcreport.core.settings import QuarterPaths, check_settings, quarter_paths


class QuarterRun(BaseModel):
    """One run's quarter and roots; passed between tasks as XCom (``model_dump()``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    quarter: str = Field(pattern=r"^\d{4}Q[1-4]$")
    inbox: str
    output: str

    @property
    def paths(self) -> QuarterPaths:
        return quarter_paths(self.quarter, self.inbox, self.output)

    @property
    def programme(self) -> Programme:
        return programme_for_year(Quarter.parse(self.quarter).year)


class ReminderRun(QuarterRun):
    """A reminder run: the quarter, today, the units asked for and those that could not be checked."""

    today: dt.date
    units: list[str] | None = None
    validate_first: bool = Field(default=True, alias="validate")
    unchecked: list[str] = Field(default_factory=list)

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


def resolve_run(quarter: str | None, inbox: str | None, output: str | None,
                interval_start: dt.datetime | None = None) -> QuarterRun:
    """The run's quarter and folders: explicit params first, else the data interval.

    Every setting is checked first: a nonsense value (a file limit of 0 bytes, an agreement
    threshold of 75) fails the run here, before any unit's file is judged or anyone mailed.
    """
    check_settings()
    resolved = Quarter.parse(quarter) if quarter else \
        quarter_of_data_interval(interval_start or dt.datetime.now(dt.UTC))
    paths = quarter_paths(resolved, inbox, output)
    return QuarterRun(quarter=str(resolved), inbox=str(paths.inbox_root), output=str(paths.output_root))
