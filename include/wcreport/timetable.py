"""The timetable's former import path, kept so DAGs serialized under it still deserialize.

Serialized DAGs store the timetable's class path. The class now lives in
``wcreport.orchestration.timetable``; DAGs parsed before the move stored
``wcreport.timetable.QuarterlyDeadlineTimetable``, which the timetable plugin registers too.
"""
from __future__ import annotations

from wcreport.orchestration.timetable import QuarterlyDeadlineTimetable as _Current


class QuarterlyDeadlineTimetable(_Current):
    """The same timetable under its former class path (only for deserializing stored DAGs)."""
