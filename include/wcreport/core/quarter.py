"""Quarters of a programme year: parsing, date ranges and Chinese labels."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
"""The programme's time zone: deadlines, quarters of run dates and times shown to users."""

_QUARTER_RE = re.compile(r"^\s*(\d{4})\s*[-_ ]?\s*[Qq]\s*([1-4])\s*$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int

    def __post_init__(self) -> None:
        if self.number not in (1, 2, 3, 4):
            raise ValueError(f"quarter number must be 1-4, got {self.number}")

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Parse '2023Q1' (also '2023-Q1', '2023 q1')."""
        match = _QUARTER_RE.match(str(text))
        if not match:
            raise ValueError(f"not a quarter (expected e.g. 2023Q1): {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> "Quarter":
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> "Quarter":
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> "Quarter":
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def label_zh(self) -> str:
        return f"{self.year}年第{self.number}季度"

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


def quarter_of_data_interval(start: dt.datetime, tz: dt.tzinfo = TZ) -> Quarter:
    """The quarter a run's ``data_interval_start`` belongs to.

    Airflow hands tasks the interval in UTC: 2023Q1 starts at 2022-12-31T16:00Z, so
    ``Quarter.containing(start.date())`` would say 2022Q4. Convert to Asia/Shanghai first.
    A naive datetime is taken as UTC, as Airflow stores it.
    """
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.UTC)
    return Quarter.containing(start.astimezone(tz).date())


def local_time(stamp: str | None) -> dt.datetime | None:
    """An ISO time as written in our records, in the programme's time zone (a time written
    without an offset is already local); None when absent or unreadable."""
    if not stamp:
        return None
    try:
        value = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value.astimezone(TZ)
