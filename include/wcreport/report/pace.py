"""How far along an indicator should be after a quarter, and the verdict on a reported value.

Each indicator of the programme file names its ``pace`` (``core.programme.Indicator``):

============  =============================================================================
linear        even pace: 25 % of the target after Q1, 50 % after Q2, 75 % after Q3, all of it
              after Q4
milestones    the programme file's four cumulative values (or percents of the target)
year_end      a level, rate or one-off result due by year end: not judged before Q4 ("进行中")
events        a yearly number of activities: nothing asked in Q1, at least one by the end of
              Q2, half of the target (rounded up) by the end of Q3, all of it after Q4
============  =============================================================================

The verdict, for a reported cumulative value: ``done`` when the target is reached,
``in_progress`` when the quarter asks for nothing yet, ``on_track`` when the value reaches
what the quarter asks for, else ``at_risk``; ``no_data`` when nobody reported a value.
"约…" targets (comparison ``about``) count as reached within 5 %.

``Expectation.basis`` is the rule in one Chinese sentence, printed in the report's
判断依据 column so a reader can see why an indicator is flagged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from wcreport.core.programme import Indicator
from wcreport.core.templating import number

ABOUT_TOLERANCE = 0.95


@dataclass(frozen=True)
class Expectation:
    value: float | None      # cumulative value the quarter asks for; None: not judged yet
    percent: float | None    # the same as a percent of the target
    basis: str               # 判断依据


def expectation(ind: Indicator, quarter: int) -> Expectation:
    """What ``ind`` should have reached by the end of ``quarter`` (1-4), and why."""
    rule = {"linear": _linear, "milestones": _milestones, "year_end": _year_end, "events": _events}
    return rule[ind.pace](ind, quarter)


def verdict(ind: Indicator, value: float | None, expected: Expectation) -> str:
    """done | on_track | in_progress | at_risk | no_data for a reported cumulative value."""
    if value is None:
        return "no_data"
    tolerance = ABOUT_TOLERANCE if ind.comparison == "about" else 1.0
    if value >= ind.target * tolerance:
        return "done"
    if expected.value is None or expected.value <= 0:
        return "in_progress"
    return "on_track" if value >= expected.value * tolerance else "at_risk"


def milestone_values(ind: Indicator) -> list[float]:
    """The four cumulative milestones in the indicator's measure ("30%" -> 30 % of the target)."""
    return [_as_value(ind, m) for m in ind.milestones or []]


def _as_value(ind: Indicator, milestone: float | str) -> float:
    if isinstance(milestone, str):
        return ind.target * float(milestone.strip().rstrip("%").strip()) / 100
    return float(milestone)


def percent_of_target(ind: Indicator, value: float) -> float:
    """``value`` as a percent of the indicator's target, to one decimal (no target: 100)."""
    return round(value / ind.target * 100, 1) if ind.target else 100.0


def _amount(ind: Indicator, value: float) -> str:
    return f"{number(round(value, 2))}{ind.measure}"


def _linear(ind: Indicator, quarter: int) -> Expectation:
    percent = 25.0 * quarter
    value = ind.target * percent / 100
    return Expectation(value, percent, f"均衡推进：每季度累计25%，第{quarter}季度末应达{number(percent)}%"
                                       f"（{_amount(ind, value)}）")


def _milestones(ind: Indicator, quarter: int) -> Expectation:
    values = milestone_values(ind)
    value = values[quarter - 1]
    plan = "/".join(number(round(v, 2)) for v in values)
    return Expectation(value, percent_of_target(ind, value),
                       f"季度节点：各季度末累计{plan}{ind.measure}，第{quarter}季度末应达{_amount(ind, value)}")


def _year_end(ind: Indicator, quarter: int) -> Expectation:
    if quarter < 4:
        return Expectation(None, None, f"年底达标：{_amount(ind, ind.target)}，第4季度末判断，此前为进行中")
    return Expectation(ind.target, 100.0, f"年底达标：第4季度末应达{_amount(ind, ind.target)}")


def _events(ind: Indicator, quarter: int) -> Expectation:
    half = float(math.ceil(ind.target / 2))
    rule = f"活动场次：年中前至少1{ind.measure}，三季度末过半，年底{_amount(ind, ind.target)}"
    if quarter == 1:
        return Expectation(0.0, 0.0, f"{rule}；第1季度不作要求")
    value = {2: min(1.0, ind.target), 3: half, 4: ind.target}[quarter]
    return Expectation(value, percent_of_target(ind, value), f"{rule}；第{quarter}季度末应达{_amount(ind, value)}")
