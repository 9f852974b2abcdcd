"""The run's quarter: explicit param first, else the data interval read in Asia/Shanghai."""
import datetime as dt

import pytest

from wcreport.orchestration.tasks import resolve_run


def test_explicit_quarter_and_folders_win(tmp_path):
    run = resolve_run("2023Q2", str(tmp_path / "in"), str(tmp_path / "out"),
                      dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert run == {"quarter": "2023Q2", "inbox": str(tmp_path / "in"), "output": str(tmp_path / "out")}


@pytest.mark.parametrize("start_utc, quarter", [
    (dt.datetime(2022, 12, 31, 16, 0, tzinfo=dt.UTC), "2023Q1"),   # 2023-01-01 00:00 Shanghai
    (dt.datetime(2023, 3, 31, 15, 59, tzinfo=dt.UTC), "2023Q1"),
    (dt.datetime(2023, 3, 31, 16, 0, tzinfo=dt.UTC), "2023Q2"),
])
def test_quarter_of_the_data_interval_in_shanghai(start_utc, quarter, monkeypatch, tmp_path):
    monkeypatch.setenv("REPORT_INBOX", str(tmp_path))
    assert resolve_run(None, None, None, start_utc)["quarter"] == quarter


def test_bad_quarter_param_is_a_clear_error():
    with pytest.raises(ValueError, match="2023Q1"):
        resolve_run("2023-13", None, None)
