"""Running Airflow from tests: environment for a private AIRFLOW_HOME and `airflow dags test`.

Import as ``from airflow_support import airflow_env, run_dags_test`` (tests/ is on sys.path).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def airflow_env(airflow_home: Path, **extra: str) -> dict[str, str]:
    """The current environment minus AIRFLOW_*, plus this project's Airflow settings on SQLite."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home}/airflow.db",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Asia/Shanghai",
        "REPORT_EXPECTATIONS": str(PROJECT_ROOT / "expectations"),
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
    })
    env.update(extra)
    return env


def migrate(airflow_home: Path) -> None:
    result = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=airflow_env(airflow_home),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def run_dags_test(env: dict[str, str], dag_id: str, conf: str, timeout: int = 900):
    return subprocess.run([str(VENV_BIN / "airflow"), "dags", "test", dag_id, "--conf", conf],
                          env=env, capture_output=True, text=True, timeout=timeout)
