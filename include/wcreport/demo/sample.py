"""Realistic sample submissions for a quarter, deterministic for a given seed.

Texts are assembled from the programme (task summaries, indicator names and
targets) and generic office phrasing, so a new programme file gets sample data
without code changes.
"""
from __future__ import annotations

import datetime as dt
import os
import random
from dataclasses import dataclass
from pathlib import Path

from wcreport.core.programme import Indicator, Programme, Task
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import build_unit_workbook

_OPENINGS = ("本季度，我单位认真落实通知要求，", "按照全年工作安排，", "围绕年度目标任务，",
             "本季度以来，", "对照任务清单，")
_ACTIONS = ("成立工作专班，明确责任分工", "召开专题推进会议，细化工作台账",
            "深入社区和学校开展走访调研", "联合相关部门开展督导检查",
            "通过微信公众号、宣传栏等渠道加强政策宣传", "建立周调度、月通报工作机制",
            "组织业务骨干参加专题培训", "摸排底数，建立需求清单")
_NEXT_STEPS = ("下一步，将继续加大推进力度，确保按期完成全年任务。",
               "下一步，将加强跟踪问效，及时协调解决存在的问题。",
               "下一步，将总结经验做法，推动工作提质增效。",
               "下一步，将积极争取资金支持，加快项目实施进度。")
_DEADLINE_STYLES = ("{year}年12月底", "长期坚持", "{year}.12", "{year}年年底前", "{year}年12月31日")
_FILE_NAME_STYLES = ("{unit}{year}年第{n}季度实事进展情况报表.xlsx",
                     "{year}Q{n}-{unit}.xlsx",
                     "（{unit}）为妇女儿童办实事第{n}季度报表.xlsx",
                     "{unit} 进展情况 {year}.{month:02d}.xlsx")


@dataclass
class SampleOptions:
    seed: int = 2023
    faulty: bool = False        # add a few files that must be ignored or rejected


def write_quarter_samples(programme: Programme, quarter: Quarter, inbox_root: str | Path,
                          options: SampleOptions | None = None) -> list[Path]:
    """Write one filled form per unit into <inbox_root>/<quarter>/; return the paths."""
    options = options or SampleOptions()
    rng = random.Random(f"{options.seed}-{quarter}")
    folder = Path(inbox_root) / str(quarter)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, unit in enumerate(programme.units):
        values = {i.key: indicator_value(rng, t, i, quarter)
                  for t, i in programme.indicators_of(unit.key)}
        workbook = build_unit_workbook(
            programme, unit.key, quarter,
            progress={t.seq: progress_text(rng, t, unit.name, values)
                      for t in programme.tasks_of(unit.key)},
            deadlines={t.seq: rng.choice(_DEADLINE_STYLES).format(year=quarter.year)
                       for t in programme.tasks_of(unit.key)},
            indicator_values=values)
        path = folder / _file_name(rng, unit.name, quarter)
        workbook.save(path)
        _set_received_time(path, quarter, minutes_before_end=60 * (index + 5))
        written.append(path)
    if options.faulty:
        written += write_faulty_files(programme, quarter, folder, rng)
    return written


def progress_text(rng: random.Random, task: Task, unit_name: str,
                  values: dict[str, float]) -> str:
    actions = "；".join(rng.sample(_ACTIONS, k=2))
    focus = task.summary.split("，")[0].rstrip("。") if task.summary else task.name
    lines = [f"{rng.choice(_OPENINGS)}{unit_name}聚焦“{focus}”，{actions}。"]
    for indicator in task.indicators:
        if indicator.key in values:
            verb = "达到" if indicator.aggregate == "max" else "累计完成"
            lines.append(f"{indicator.name}{verb}{_fmt(values[indicator.key])}{indicator.measure}"
                         f"（全年目标{_fmt(indicator.target)}{indicator.measure}）。")
    lines.append(rng.choice(_NEXT_STEPS))
    return "\n".join(lines)


def indicator_value(rng: random.Random, task: Task, indicator: Indicator,
                    quarter: Quarter) -> float:
    """A plausible cumulative value for one reporting unit."""
    reporters = indicator.reporters or task.units
    # Ranges of consecutive quarters do not overlap, so cumulative values never fall.
    if indicator.aggregate == "max":
        return round(indicator.target * (0.75 + 0.06 * quarter.number + rng.uniform(0, 0.05)), 1)
    progress = quarter.number / 4 * rng.uniform(0.8, 1.1)
    return round(indicator.target * progress / len(reporters))


def write_faulty_files(programme: Programme, quarter: Quarter, folder: Path,
                       rng: random.Random) -> list[Path]:
    """Files a real inbox gets: lock file, a non-spreadsheet, an unknown sender, an empty form."""
    unit = programme.units[-1]
    empty = build_unit_workbook(programme, unit.key, quarter)
    empty_path = folder / f"{unit.name}（空表）.xlsx"
    empty.save(empty_path)
    _set_received_time(empty_path, quarter, minutes_before_end=30)
    stranger = build_unit_workbook(programme, unit.key, quarter,
                                   progress={t.seq: "已完成。" for t in programme.tasks_of(unit.key)})
    stranger["报表"]["A2"] = "单位：（盖章）某某未列明单位"
    for row in stranger["报表"].iter_rows(min_row=4, min_col=3, max_col=3):
        row[0].value = "某某未列明单位"
    stranger_path = folder / "其他单位报表.xlsx"
    stranger.save(stranger_path)
    lock = folder / f"~${unit.name}.xlsx"
    lock.write_bytes(b"\x00" * 165)
    note = folder / "报送说明.txt"
    note.write_text("附件为本单位季度报表，请查收。", encoding="utf-8")
    return [empty_path, stranger_path, lock, note]


def _file_name(rng: random.Random, unit_name: str, quarter: Quarter) -> str:
    style = rng.choice(_FILE_NAME_STYLES)
    return style.format(unit=unit_name, year=quarter.year, n=quarter.number,
                        month=quarter.end.month)


def _set_received_time(path: Path, quarter: Quarter, minutes_before_end: int) -> None:
    end = dt.datetime.combine(quarter.end, dt.time(17, 0))
    stamp = (end - dt.timedelta(minutes=minutes_before_end)).timestamp()
    os.utime(path, (stamp, stamp))


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"
