"""Registers the quarterly timetable so the scheduler and API server can deserialize it.

Serialized DAGs name the timetable ``wcreport.timetable.QuarterlyDeadlineTimetable``;
Airflow only deserializes custom timetables that a plugin registers.
"""
from __future__ import annotations

import sys
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin

try:
    from wcreport.timetable import QuarterlyDeadlineTimetable
except ImportError:  # wcreport not installed: use the project's include/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))
    from wcreport.timetable import QuarterlyDeadlineTimetable


class QuarterlyTimetablePlugin(AirflowPlugin):
    name = "wcreport_quarterly_timetable"
    timetables = [QuarterlyDeadlineTimetable]
