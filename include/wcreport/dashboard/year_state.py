"""The 年度 section of the 季度报送 page: the annual account the fourth quarter's merge wrote.

Read from ``<output>/<quarter>/year.json`` (``report.year.YearAccount``, written beside the
manifest by the fourth quarter's ``merge``): the same facts as the workbook's 年度总结 and
年度指标 sheets. A quarter without the file has no section; a damaged file is said, not hidden.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from wcreport.core.labels import YEAR_RULE_ZH, YEAR_VERDICT_ZH
from wcreport.report.year import YearAccount

YEAR_FILE = "year.json"
GAP_ZH = {"late": "逾期报送", "missing": "未报送", "rejected": "被退回"}


@dataclass(frozen=True)
class TaskLine:
    seq: int
    name: str
    verdict: str
    verdict_zh: str
    why: list[str]


@dataclass(frozen=True)
class IndicatorLine:
    name: str
    values: list[str]           # per quarter, "—" where none was reported
    year_value: str
    target: str
    rule_zh: str
    verdict: str
    verdict_zh: str


@dataclass(frozen=True)
class YearState:
    title: str = ""
    quarters: list[str] = field(default_factory=list)          # 第1季度 …
    counts: dict[str, int] = field(default_factory=dict)       # verdict → tasks
    tasks: list[TaskLine] = field(default_factory=list)
    indicators: list[IndicatorLine] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)               # 第2季度 · <unit> · 逾期报送
    problems: list[str] = field(default_factory=list)           # lost quarters, programme changes
    error: str | None = None


def year_state(output_root: Path, quarter: str) -> YearState | None:
    """The quarter's annual account for the page; None when the quarter has none."""
    path = output_root / quarter / YEAR_FILE
    try:
        account = YearAccount.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError, ValueError) as exc:
        return YearState(error=f"{quarter} 的年度汇总（{YEAR_FILE}）无法读取：{str(exc)[:200]}")
    return _state_of(account)


def _state_of(account: YearAccount) -> YearState:
    counts = Counter(t.verdict for t in account.tasks)
    return YearState(
        title=account.title,
        quarters=[s.label for s in account.sources],
        counts={zh: counts[verdict] for verdict, zh in YEAR_VERDICT_ZH.items() if counts[verdict]},
        tasks=[TaskLine(t.seq, t.name, t.verdict, YEAR_VERDICT_ZH[t.verdict], t.why) for t in account.tasks],
        indicators=[IndicatorLine(i.name, [_number(v) for v in i.values], _number(i.year_value),
                                  f"{_number(i.target)}{i.measure}", YEAR_RULE_ZH[i.rule],
                                  i.verdict, YEAR_VERDICT_ZH[i.verdict]) for i in account.indicators],
        gaps=[f"{g.label} · {g.unit_name} · {GAP_ZH[g.kind]}" for g in account.gaps],
        problems=[f"{s.label}：{s.problem}" for s in account.unavailable]
        + account.programme_changes + ([account.ledger_problem] if account.ledger_problem else []),
    )


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"
