"""Registers the quarterly timetable so the scheduler and API server can deserialize it.

Serialized DAGs name the timetable ``wcreport.orchestration.timetable.QuarterlyDeadlineTimetable``
(or, if serialized before the package was reshaped, ``wcreport.timetable.QuarterlyDeadlineTimetable``);
Airflow only deserializes custom timetables that a plugin registers, so both are registered.
"""
from __future__ import annotations

import sys
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin

try:
    from wcreport import timetable as legacy_path
    from wcreport.orchestration.timetable import QuarterlyDeadlineTimetable
except ImportError:  # wcreport not installed: use the project's include/ folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))
    from wcreport import timetable as legacy_path
    from wcreport.orchestration.timetable import QuarterlyDeadlineTimetable


class QuarterlyTimetablePlugin(AirflowPlugin):
    name = "wcreport_quarterly_timetable"
    timetables = [QuarterlyDeadlineTimetable, legacy_path.QuarterlyDeadlineTimetable]
