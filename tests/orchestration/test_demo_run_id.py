"""`make demo`'s run id names its quarter (tools/demo_run.py: `dags test` takes no run id)."""
from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_run():
    spec = importlib.util.spec_from_file_location("demo_run", ROOT / "tools" / "demo_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demos_run_id_names_the_quarter(demo_run):
    from airflow.utils.types import DagRunType

    generate = demo_run.quarter_run_id("2023Q1")
    run_after = dt.datetime(2026, 12, 6, 21, 30, tzinfo=dt.UTC)
    assert generate(run_type=DagRunType.MANUAL, run_after=run_after, logical_date=run_after) == \
        "manual__2023Q1__2026-12-06T21:30:00+00:00"


def test_it_replaces_what_dags_test_calls_with_the_same_arguments(demo_run):
    """Dag.test names its run through DagRun.generate_run_id(run_type=, logical_date=, run_after=)."""
    from airflow.models.dagrun import DagRun
    from airflow.sdk.definitions.dag import DAG

    assert set(inspect.signature(DagRun.generate_run_id).parameters) == \
        set(inspect.signature(demo_run.quarter_run_id("2023Q1")).parameters)
    assert "DagRun.generate_run_id(" in inspect.getsource(DAG.test)


def test_a_quarter_is_required(demo_run):
    with pytest.raises(SystemExit):
        demo_run.main(["2023-03-31"])
