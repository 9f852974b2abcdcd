"""The quarterly timetable against the official calendar, and through Airflow's registry."""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction

from wcreport.core import workdays
from wcreport.core.quarter import Quarter
from wcreport.orchestration.timetable import QuarterlyDeadlineTimetable, quarterly_schedule

ROOT = Path(__file__).resolve().parents[2]
SH = "Asia/Shanghai"

# Last working day of every quarter 2023-2026, from the State Council's holiday notices
# (国务院办公厅关于节假日安排的通知) for 2023, 2024, 2025 and 2026.
OFFICIAL_LAST_WORKDAY = {
    "2023Q1": "2023-03-31", "2023Q2": "2023-06-30",
    "2023Q3": "2023-09-28",  # 9/29-10/6 Mid-Autumn + National Day; 9/30 is a holiday Saturday
    "2023Q4": "2023-12-29",  # 12/30-1/1 New Year holiday
    "2024Q1": "2024-03-29",  # 3/30-31 weekend
    "2024Q2": "2024-06-28",  # 6/29-30 weekend
    "2024Q3": "2024-09-30", "2024Q4": "2024-12-31",
    "2025Q1": "2025-03-31", "2025Q2": "2025-06-30",
    "2025Q3": "2025-09-30", "2025Q4": "2025-12-31",
    "2026Q1": "2026-03-31", "2026Q2": "2026-06-30",
    "2026Q3": "2026-09-30", "2026Q4": "2026-12-31",
}


def local(moment) -> pendulum.DateTime:
    return pendulum.instance(moment).in_timezone(SH)


@pytest.fixture
def tt() -> QuarterlyDeadlineTimetable:
    return QuarterlyDeadlineTimetable()


@pytest.mark.parametrize("quarter, day", sorted(OFFICIAL_LAST_WORKDAY.items()))
def test_every_quarter_2023_2026_fires_at_17_on_last_working_day(tt, quarter, day):
    q = Quarter.parse(quarter)
    fire = local(tt.fire_time(q))
    assert fire.date().isoformat() == day
    assert (fire.hour, fire.minute) == (17, 0)
    interval = tt.data_interval(q)
    assert local(interval.start) == pendulum.datetime(q.start.year, q.start.month, 1, tz=SH)
    nxt = q.next().start
    assert local(interval.end) == pendulum.datetime(nxt.year, nxt.month, 1, tz=SH)
    assert not tt.uses_fallback(q)


def test_quarter_ending_in_a_holiday(tt):
    # 2023-09-30 is inside the National Day holiday; 2023-12-31 inside New Year's.
    assert not workdays.is_workday(dt.date(2023, 9, 30))
    assert local(tt.fire_time(Quarter(2023, 3))).date() == dt.date(2023, 9, 28)
    assert not workdays.is_workday(dt.date(2023, 12, 31))
    assert local(tt.fire_time(Quarter(2023, 4))).date() == dt.date(2023, 12, 29)


@pytest.mark.parametrize("quarter, day", [("2018Q3", dt.date(2018, 9, 30)),    # Sunday
                                          ("2018Q4", dt.date(2018, 12, 29))])  # Saturday
def test_last_working_day_is_a_make_up_weekend_day(tt, quarter, day):
    fire = local(tt.fire_time(Quarter.parse(quarter)))
    assert fire.date() == day and day.weekday() >= 5
    assert fire.hour == 17


def test_fallback_year_is_monday_to_friday_and_warns(tt, caplog):
    workdays._warned_years.discard(2027)
    with caplog.at_level(logging.WARNING, logger="wcreport.core.workdays"):
        fires = {n: local(tt.fire_time(Quarter(2027, n))).date() for n in (1, 2, 3, 4)}
    # 2027-03-31 Wed, 06-30 Wed, 09-30 Thu, 12-31 Fri; holidays unknown, so plain weekdays.
    assert fires == {1: dt.date(2027, 3, 31), 2: dt.date(2027, 6, 30),
                     3: dt.date(2027, 9, 30), 4: dt.date(2027, 12, 31)}
    assert tt.uses_fallback(Quarter(2027, 1))
    assert any("2027" in r.getMessage() and "Monday-Friday" in r.getMessage()
               for r in caplog.records)
    # a fallback year whose quarter ends on a weekend
    assert local(tt.fire_time(Quarter(2028, 4))).date() == dt.date(2028, 12, 29)


def test_workday_offset_and_time_are_configurable():
    tt = QuarterlyDeadlineTimetable(workday_offset=2, at="09:30")
    fire = local(tt.fire_time(Quarter(2023, 3)))
    # two working days after 9/28: the make-up days 10/7 (Sat) and 10/8 (Sun)
    assert fire == pendulum.datetime(2023, 10, 8, 9, 30, tz=SH)
    before = local(QuarterlyDeadlineTimetable(workday_offset=-1).fire_time(Quarter(2024, 1)))
    assert before == pendulum.datetime(2024, 3, 28, 17, 0, tz=SH)


def test_environment_configures_quarterly_schedule(monkeypatch):
    monkeypatch.setenv("REPORT_SCHEDULE_AT", "10:15")
    monkeypatch.setenv("REPORT_SCHEDULE_WORKDAY_OFFSET", "-1")
    assert quarterly_schedule().serialize() == {
        "workday_offset": -1, "at": "10:15", "timezone": SH}


def test_invalid_parameters_are_rejected():
    from airflow.exceptions import AirflowTimetableInvalid

    with pytest.raises(AirflowTimetableInvalid):
        QuarterlyDeadlineTimetable(at="25:00")
    with pytest.raises(AirflowTimetableInvalid):
        QuarterlyDeadlineTimetable(timezone="Mars/Olympus")


def test_serialize_roundtrip_and_description():
    tt = QuarterlyDeadlineTimetable(workday_offset=-1, at="16:30")
    data = json.loads(json.dumps(tt.serialize()))
    assert QuarterlyDeadlineTimetable.deserialize(data) == tt
    assert QuarterlyDeadlineTimetable.deserialize({}) == QuarterlyDeadlineTimetable()
    default = quarterly_schedule()
    assert isinstance(default, QuarterlyDeadlineTimetable)
    assert default.summary == "Quarterly at 17:00 on the last working day (Asia/Shanghai)"
    assert "最后一个工作日" in default.description and "make-up" in default.description
    assert "-1 working day" in tt.summary


def test_catchup_schedules_every_quarter_in_order(tt):
    restriction = TimeRestriction(earliest=pendulum.datetime(2023, 1, 1, tz=SH), latest=None,
                                  catchup=True)
    last, fired = None, []
    for _ in range(8):
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        fired.append(local(info.run_after).date().isoformat())
        assert info.run_after <= info.data_interval.end
        last = info.data_interval
    assert fired == [OFFICIAL_LAST_WORKDAY[f"{y}Q{n}"] for y in (2023, 2024) for n in (1, 2, 3, 4)]
    assert info.logical_date == pendulum.datetime(2024, 10, 1, tz=SH)


def test_latest_stops_scheduling(tt):
    restriction = TimeRestriction(earliest=pendulum.datetime(2023, 1, 1, tz=SH),
                                  latest=pendulum.datetime(2023, 6, 1, tz=SH), catchup=True)
    last = DataInterval(*tt.data_interval(Quarter(2023, 1)))
    assert tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction) is None


def test_without_catchup_the_next_run_is_the_upcoming_quarter(tt):
    restriction = TimeRestriction(earliest=pendulum.datetime(2023, 1, 1, tz=SH), latest=None,
                                  catchup=False)
    info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    now = pendulum.now("UTC")
    assert info.run_after >= now - dt.timedelta(days=3)
    assert info.run_after <= now + dt.timedelta(days=95)


def test_manual_run_takes_the_latest_due_quarter(tt):
    cases = {pendulum.datetime(2024, 4, 2, tz=SH): Quarter(2024, 1),
             pendulum.datetime(2024, 3, 29, 17, 0, tz=SH): Quarter(2024, 1),
             pendulum.datetime(2024, 3, 29, 16, 59, tz=SH): Quarter(2023, 4)}
    for run_after, quarter in cases.items():
        interval = tt.infer_manual_data_interval(run_after=run_after)
        assert tt.quarter_of(interval.start) == quarter, run_after


def test_run_id_names_the_quarter(tt):
    from airflow.utils.types import DagRunType

    q = Quarter(2023, 3)
    run_id = tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=tt.fire_time(q),
                                data_interval=tt.data_interval(q))
    assert run_id.startswith("scheduled__2023Q3__2023-09-28T09:00:00")


def test_a_manual_run_id_claims_no_quarter_from_its_data_interval(tt):
    """A manual run processes its ``quarter`` param, which may differ from the data interval's."""
    from airflow.utils.types import DagRunType

    run_after = pendulum.datetime(2026, 12, 6, 9, 0, tz="UTC")
    run_id = tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=run_after,
                                data_interval=tt.infer_manual_data_interval(run_after=run_after))
    assert run_id == "manual__2026-12-06T09:00:00+00:00"


def test_plugin_registers_the_timetable_for_serialization(tmp_path):
    """Airflow's own encoder/decoder find the class only through plugins/quarterly_timetable.py."""
    code = (
        "import json\n"
        "from airflow.serialization.encoders import encode_timetable\n"
        "from airflow.serialization.decoders import decode_timetable\n"
        "from airflow import plugins_manager\n"
        "from wcreport.orchestration.timetable import QuarterlyDeadlineTimetable\n"
        "tt = QuarterlyDeadlineTimetable(workday_offset=1, at='18:00')\n"
        "data = json.loads(json.dumps(encode_timetable(tt)))\n"
        "back = decode_timetable(data)\n"
        "print(json.dumps({'data': data, 'same': back == tt, 'summary': back.summary,\n"
        "  'registered': sorted(plugins_manager.get_timetables_plugins())}))\n")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "wcreport.orchestration.timetable.QuarterlyDeadlineTimetable" in result["registered"]
    assert result["data"]["__type"] == "wcreport.orchestration.timetable.QuarterlyDeadlineTimetable"
    assert result["data"]["__var"] == {"workday_offset": 1, "at": "18:00", "timezone": SH}
    assert result["same"] is True


def test_quarter_of_data_interval_reads_the_start_in_shanghai(tt):
    from wcreport.orchestration.timetable import quarter_of_data_interval

    for n in (1, 2, 3, 4):
        q = Quarter(2023, n)
        start = tt.data_interval(q).start          # UTC, the day before in UTC
        assert start.day != 1
        assert quarter_of_data_interval(start) == q
