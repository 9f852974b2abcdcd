"""The quarterly timetable: one run per calendar quarter, fired near the quarter's deadline.

* Data interval: one calendar quarter in Asia/Shanghai, ``[quarter start 00:00, next
  quarter start 00:00)``; the run's logical date is therefore the quarter's first day.
* Fire time (``run_after``): ``at`` o'clock (default 17:00, Asia/Shanghai) on the last
  working day of the quarter, shifted by ``workday_offset`` working days (``-1``: the
  working day before; ``+2``: two working days after the quarter ends). Working days
  come from the official Chinese calendar with make-up days (see ``wcreport.core.workdays``);
  a year beyond its data falls back to Monday–Friday with a logged warning.
* ``catchup=False`` (Airflow 3's default): the first quarter considered is the one whose
  fire time is still ahead, or passed less than ``LATE_GRACE`` ago (a scheduler that was
  down at 17:00 still sends that quarter's report when it comes back).
* Manual runs get the most recent quarter whose fire time has passed.

The scheduler, dag-processor and API server find this class through
``plugins/quarterly_timetable.py``; it must keep its import path
(``wcreport.orchestration.timetable.QuarterlyDeadlineTimetable``) because serialized DAGs name it.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

from wcreport.core.quarter import Quarter, quarter_of_data_interval  # noqa: F401 (re-exported)
from wcreport.core.setting_specs import schedule_settings
from wcreport.core.workdays import calendar_covers, last_workday_of_quarter, shift_workdays

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from pendulum import DateTime

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_AT = "17:00"
LATE_GRACE = dt.timedelta(days=3)
_AT_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class QuarterlyDeadlineTimetable(Timetable):
    """Run once per quarter at ``at`` on the quarter's last working day (+/- working days)."""

    periodic = True
    can_be_scheduled = True

    def __init__(self, *, workday_offset: int = 0, at: str = DEFAULT_AT,
                 timezone: str = DEFAULT_TIMEZONE) -> None:
        self.workday_offset = int(workday_offset)
        self.at = str(at)
        self.timezone = str(timezone)
        self.validate()
        hour, minute = _parse_at(self.at)
        self._time = dt.time(hour, minute)
        self._tz = pendulum.timezone(self.timezone)

    # --- Airflow protocol -------------------------------------------------
    def validate(self) -> None:
        from airflow.exceptions import AirflowTimetableInvalid

        if not _AT_RE.match(self.at):
            raise AirflowTimetableInvalid(f"at must be HH:MM, got {self.at!r}")
        if not -20 <= self.workday_offset <= 20:
            raise AirflowTimetableInvalid(
                f"workday_offset must be within -20..20, got {self.workday_offset}")
        try:
            pendulum.timezone(self.timezone)
        except Exception as exc:  # pendulum raises its own error types
            raise AirflowTimetableInvalid(f"unknown timezone {self.timezone!r}: {exc}") from None

    def serialize(self) -> dict[str, Any]:
        return {"workday_offset": self.workday_offset, "at": self.at, "timezone": self.timezone}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> QuarterlyDeadlineTimetable:
        return cls(workday_offset=data.get("workday_offset", 0), at=data.get("at", DEFAULT_AT),
                   timezone=data.get("timezone", DEFAULT_TIMEZONE))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, QuarterlyDeadlineTimetable)
                and self.serialize() == other.serialize())

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.serialize().items())))

    def __repr__(self) -> str:
        return f"QuarterlyDeadlineTimetable({self.serialize()})"

    @property
    def summary(self) -> str:
        when = "last working day"
        if self.workday_offset:
            when += f" {self.workday_offset:+d} working day{'s' if abs(self.workday_offset) > 1 else ''}"
        return f"Quarterly at {self.at} on the {when} ({self.timezone})"

    @property
    def description(self) -> str:  # type: ignore[override]
        return (f"Once per calendar quarter at {self.at} {self.timezone} on {self._when_en()} "
                f"(每季度{self._when_zh()} {self.at}); working days follow the official Chinese "
                "calendar with make-up days, Monday-Friday for years beyond its data. "
                "Data interval: the calendar quarter.")

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        return self.data_interval(self.latest_due_quarter(run_after))

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            quarter = self.quarter_of(last_automated_data_interval.start).next()
        else:
            earliest = restriction.earliest or pendulum.now("UTC")
            quarter = self.first_quarter_firing_at_or_after(earliest)
        if not restriction.catchup:
            now_quarter = self.first_quarter_firing_at_or_after(pendulum.now("UTC") - LATE_GRACE)
            quarter = max(quarter, now_quarter)
        fire = self.fire_time(quarter)
        if restriction.latest is not None and fire > restriction.latest:
            return None
        return DagRunInfo(run_after=fire, data_interval=self.data_interval(quarter))

    def generate_run_id(self, *, run_type, run_after: DateTime,
                        data_interval: DataInterval | None, **extra) -> str:
        """``scheduled__2023Q1__<fire time>``: a scheduled (or backfill) run's quarter is its data
        interval's. A manual run's quarter is its ``quarter`` param, which this method is not
        given: its id stays Airflow's (the trigger names the quarter in the id it passes)."""
        from airflow.utils.types import DagRunType

        if data_interval is None or run_type == DagRunType.MANUAL:
            return super().generate_run_id(run_type=run_type, run_after=run_after,
                                           data_interval=data_interval, **extra)
        quarter = self.quarter_of(data_interval.start)
        return run_type.generate_run_id(suffix=f"{quarter}__{run_after.isoformat()}")

    # --- the quarter arithmetic (also used by tests and the reminders DAG) ---
    def deadline_day(self, quarter: Quarter) -> dt.date:
        """The day the run fires: last working day of the quarter, shifted by the offset."""
        return shift_workdays(last_workday_of_quarter(quarter), self.workday_offset)

    def fire_time(self, quarter: Quarter) -> DateTime:
        day = self.deadline_day(quarter)
        local = pendulum.datetime(day.year, day.month, day.day, self._time.hour,
                                  self._time.minute, tz=self._tz)
        return local.in_timezone("UTC")

    def data_interval(self, quarter: Quarter) -> DataInterval:
        return DataInterval(start=self._local_midnight(quarter.start).in_timezone("UTC"),
                            end=self._local_midnight(quarter.next().start).in_timezone("UTC"))

    def quarter_of(self, moment: dt.datetime) -> Quarter:
        local = pendulum.instance(moment).in_timezone(self._tz)
        return Quarter.containing(local.date())

    def first_quarter_firing_at_or_after(self, moment: dt.datetime) -> Quarter:
        moment = pendulum.instance(moment)
        # Start two quarters back: a positive offset can push a fire time into the next one.
        quarter = self.quarter_of(moment).previous().previous()
        while self.fire_time(quarter) < moment:
            quarter = quarter.next()
        return quarter

    def latest_due_quarter(self, moment: dt.datetime) -> Quarter:
        """The most recent quarter whose fire time is at or before ``moment``."""
        return self.first_quarter_firing_at_or_after(pendulum.instance(moment)
                                                     + dt.timedelta(seconds=1)).previous()

    def uses_fallback(self, quarter: Quarter) -> bool:
        """True when the quarter's fire day was computed with the Monday-Friday fallback."""
        return not calendar_covers(self.deadline_day(quarter).year) or \
            not calendar_covers(quarter.year)

    # --- helpers ---------------------------------------------------------
    def _local_midnight(self, day: dt.date) -> DateTime:
        return pendulum.datetime(day.year, day.month, day.day, tz=self._tz)

    def _when_en(self) -> str:
        if self.workday_offset == 0:
            return "the last working day of the quarter"
        n = abs(self.workday_offset)
        side = "after" if self.workday_offset > 0 else "before"
        return f"{n} working day{'s' if n > 1 else ''} {side} the quarter's last working day"

    def _when_zh(self) -> str:
        if self.workday_offset == 0:
            return "最后一个工作日"
        side = "后" if self.workday_offset > 0 else "前"
        return f"最后一个工作日{side}第{abs(self.workday_offset)}个工作日"


def _parse_at(text: str) -> tuple[int, int]:
    match = _AT_RE.match(text)
    if not match:
        raise ValueError(f"at must be HH:MM, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def quarterly_schedule(workday_offset: int | None = None, at: str | None = None,
                       timezone: str | None = None) -> QuarterlyDeadlineTimetable:
    """The schedule for quarterly_report.

    Defaults: 17:00 Asia/Shanghai on the quarter's last working day. Ops can change it
    without a code change through REPORT_SCHEDULE_AT (HH:MM), REPORT_SCHEDULE_WORKDAY_OFFSET
    (int) and REPORT_SCHEDULE_TIMEZONE, set for the dag-processor.
    """
    configured = schedule_settings()
    return QuarterlyDeadlineTimetable(
        workday_offset=workday_offset if workday_offset is not None else configured.workday_offset,
        at=at or configured.at,
        timezone=timezone or configured.timezone,
    )

