"""The event-driven intake's benchmark: its arithmetic, its quarter and its report section
(fast; the real stack runs in ``bench/bench_events.py`` itself)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from bench import bench_events, common, report  # noqa: E402
from wcreport.core.programme import programme_for_year  # noqa: E402
from wcreport.core.quarter import Quarter  # noqa: E402


def _channel(values: list[float]) -> dict:
    return bench_events.summary(values)


def _events(drop: list[float], mail: list[float], idle_pct: float = 0.6, baseline_pct: float = 0.4) -> dict:
    def phase(pct: float, minutes: float) -> dict:
        seconds = round(pct * minutes * 60 / 100, 2)
        return {"minutes": minutes, "cpu_s": {"triggerer": seconds, "scheduler": 30.0},
                "cpu_pct_of_one_core": {"triggerer": pct, "scheduler": 5.0}, "unit_intake_runs_during": 0}

    return {"machine": common.machine(), "listing_seconds": 5, "units_present": 15,
            "startup_check": {"runs": 1, "seconds": 41.0}, "arrivals_spread_s": 900,
            "drop_to_feedback": _channel(drop), "mail_to_receipt": _channel(mail),
            "goal_p95_s": bench_events.GOAL_P95_SECONDS, "idle": phase(idle_pct, 10.0),
            "idle_baseline": phase(baseline_pct, 3.0)}


def _render(tmp_path: Path) -> str:
    out = tmp_path / "benchmarks.md"
    sys.argv = ["report.py", "--out", str(out), "--scaling-out", str(tmp_path / "scaling.md")]
    assert report.main() == 0
    return out.read_text(encoding="utf-8")


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_OUT", str(tmp_path / "results"))
    return tmp_path


def test_p95_of_twenty_is_the_nineteenth_value_or_above():
    values = [float(n) for n in range(1, 21)]
    assert 19.0 <= bench_events.p95(values) <= 20.0
    assert bench_events.p95([7.0]) == 7.0
    assert bench_events.summary([3.0, 1.0, 2.0])["median_s"] == 2.0


def test_report_has_the_section_and_summary_rows_with_verdicts(results):
    drops = [10.0] * 18 + [75.0, 80.0]           # two slow answers in twenty: p95 over 60 s
    common.save_result("events", _events(drops, [12.0] * 20))
    text = _render(results)
    p95_drop = bench_events.p95(drops)
    assert p95_drop > 60
    assert "## 6. Event-driven intake" in text
    assert (f"| 6 | event-driven intake: file dropped → feedback mail, p95 of 20 | {round(p95_drop, 1)} s | ≤ 60 s "
            "| **missed** |") in text
    assert "| 6 | event-driven intake: mail → receipt, p95 of 20 | 12.0 s | ≤ 60 s | **met** |" in text
    assert "| mail → receipt | 20 | 12.0 | 12.0 | 12.0 | ≤ 60 s | **met** |" in text
    assert "| 6 | triggerer CPU over 10 idle minutes, added by the watchers | 0.2% of one core | ≤ 1% | **met** |" in text
    assert "the watchers add **0.2% of one core**" in text
    assert "15 units' filled forms" in text and "scheduler 5.0%" in text


def test_idle_watchers_over_the_goal_are_missed(results):
    common.save_result("events", _events([10.0] * 20, [10.0] * 20, idle_pct=3.5, baseline_pct=0.5))
    text = _render(results)
    assert "added by the watchers | 3.0% of one core | ≤ 1% | **missed** |" in text


def test_report_without_events_still_renders_every_other_section(results):
    common.save_result("parse", {"machine": common.machine(), "repeat": 3, "floor_ms": 50.0, "twin_ms": 55.0,
                                 "files": []})
    text = _render(results)
    assert "## 1. DAG parse" in text
    assert "## 6. Event-driven intake" in text and "Not measured in this run" in text
    assert "| 6 |" not in text


def test_a_result_without_baseline_is_judged_on_the_whole_idle_figure():
    data = _events([1.0], [1.0], idle_pct=0.8)
    del data["idle_baseline"]
    assert bench_events.watchers_idle_pct(data) == 0.8
    assert "the watchers add" not in bench_events.markdown(data)


def test_drops_and_mails_take_turns_and_each_waits_for_its_answer(monkeypatch):
    monkeypatch.setattr(bench_events.time, "sleep", lambda s: None)
    order: list[str] = []
    answers = {"d": 0, "m": 0}

    def arrival(channel: str, n: int) -> bench_events.Arrival:
        def arrive() -> None:
            order.append(f"{channel}{n}")
            answers[channel] += 1                # answered at once

        return bench_events.Arrival(arrive, lambda: answers[channel])

    out = bench_events.arrivals(None, [arrival("d", n) for n in range(3)], [arrival("m", n) for n in range(2)])
    assert order == ["d0", "m0", "d1", "m1", "d2"]
    assert len(out["drop_to_feedback"]) == 3 and len(out["mail_to_receipt"]) == 2


def test_an_arrival_never_answered_times_out_with_the_logs(monkeypatch):
    monkeypatch.setattr(bench_events.time, "sleep", lambda s: None)

    class Stack:
        def log_tail(self) -> str:
            return "the triggerer's last lines"

    with pytest.raises(TimeoutError, match="the triggerer's last lines"):
        bench_events._answer_time(lambda: None, lambda: 0, Stack(), timeout=0.01)


def test_every_unit_has_its_form_in_its_folder_received_before_now(tmp_path):
    programme = programme_for_year(2023)
    quarter = Quarter.parse("2023Q4")
    assert bench_events.quarter_present(programme, quarter, tmp_path) == len(programme.units)
    folder = tmp_path / str(quarter)
    for unit in programme.units:
        files = list((folder / unit.name).glob("*.xlsx"))
        assert len(files) == 1, unit.name
        assert files[0].stat().st_mtime < time.time()
    assert not list(folder.glob("*.xlsx"))        # nothing loose in the quarter's folder
