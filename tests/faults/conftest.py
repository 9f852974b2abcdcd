"""Fault injection: a two-unit programme, a real quarterly_report run, an SMTP sink for mail and alerts.

Runs share the session's migrated Airflow home. The programme keeps two units of the
real 2023 programme (and their tasks), so a whole run takes seconds per unit, not minutes.
"""
from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from airflow_support import PROJECT_ROOT, airflow_env, run_dags_test
from mailsink import MailSink, Received
from wcreport.core.programme import load_programme
from wcreport.core.quarter import Quarter

QUARTER = "2023Q1"
UNITS = ("edu_sports", "health")
OPS = "ops@ops.example.org"


def small_programme_file(folder: Path, keep=UNITS) -> Path:
    """include/programmes/2023.yaml reduced to the units ``keep`` and their tasks."""
    data = yaml.safe_load((PROJECT_ROOT / "include" / "programmes" / "2023.yaml").read_text(encoding="utf-8"))
    data["units"] = [u for u in data["units"] if u["key"] in keep]
    data.pop("area_group", None)
    tasks = []
    for task in data["tasks"]:
        task["units"] = [k for k in task["units"] if k in keep]
        task["indicators"] = [i for i in task.get("indicators", [])
                              if set(i.get("reporters") or task["units"]) <= set(task["units"])]
        if task["units"]:
            tasks.append(task)
    data["tasks"] = tasks
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "2023.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Quarterly:
    """One fault-injection setting: folders, programme, SMTP sink and the Airflow environment."""

    inbox: Path
    output: Path
    programme_dir: Path
    sink: MailSink
    env: dict

    @property
    def programme(self):
        return load_programme(self.programme_dir / "2023.yaml")

    def write_samples(self) -> list[Path]:
        from wcreport.demo.sample import write_quarter_samples

        return write_quarter_samples(self.programme, Quarter.parse(QUARTER), self.inbox)

    def run(self, dag_id: str = "quarterly_report", **conf) -> subprocess.CompletedProcess:
        conf = {"quarter": QUARTER, "inbox": str(self.inbox), "output": str(self.output), **conf}
        return run_dags_test(self.env, dag_id, json.dumps(conf), timeout=600)

    def alerts(self, count: int = 1) -> list[Received]:
        self.sink.wait_for(count, timeout=5)
        return [m for m in self.sink.messages if m.message["X-Wcreport-Alert"]]

    def reports(self) -> list[Received]:
        return [m for m in self.sink.messages if m.message["X-Report-Quarter"]]

    def manifest(self) -> dict:
        return json.loads((self.output / QUARTER / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def paths(tmp_path):
    from wcreport.core.settings import quarter_paths

    return quarter_paths(QUARTER, tmp_path / "inbox", tmp_path / "output")


@pytest.fixture
def quarterly(tmp_path, migrated_airflow_home):
    programme_dir = tmp_path / "programmes"
    small_programme_file(programme_dir)
    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri(),
                          REPORT_OPS_EMAIL=OPS, REPORT_PROGRAMMES_DIR=str(programme_dir))
        yield Quarterly(tmp_path / "inbox", tmp_path / "output", programme_dir, sink, env)


def log_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def task_states(result: subprocess.CompletedProcess) -> str:
    return log_of(result)[-6000:]


@contextlib.contextmanager
def read_only(folder: Path):
    """``folder`` as a read-only mount (EROFS for everyone, root included); skip where mounts are not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    bind = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.strip()}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr.strip()}")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
