"""docker-compose's airflow-init steps under the FAB auth manager, on SQLite, then the dashboard's
questions asked of users read back from FAB's tables (about a minute on 2 cores)."""
from __future__ import annotations

import json
import subprocess

import pytest

from airflow_support import VENV_BIN, airflow_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

ASK = """
import json
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from wcreport.dashboard.access import access_of
from wcreport.orchestration.auth import AirflowPermissions
with get_application_builder() as appbuilder:
    permissions = AirflowPermissions(FabAuthManager())
    print(json.dumps({name: vars(access_of(permissions, appbuilder.sm.find_user(name)))
                      for name in ("boss", "clerk", "runner", "auditor")}))
"""


def _run(env, *args):
    result = subprocess.run([str(VENV_BIN / args[0]), *args[1:]], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, " ".join(args) + "\n" + result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


def test_airflow_init_under_fab_gives_the_raw_files_permission_to_admin_only(tmp_path):
    env = airflow_env(tmp_path, AIRFLOW__CORE__AUTH_MANAGER=FAB, AIRFLOW__CORE__DAGS_FOLDER=str(tmp_path))
    _run(env, "airflow", "db", "migrate")
    for name, role in (("boss", "Admin"), ("clerk", "Viewer"), ("runner", "User"), ("auditor", "Op")):
        _run(env, "airflow", "users", "create", "--role", role, "--username", name, "--password", "pw-" + name,
             "--email", f"{name}@example.invalid", "--firstname", "测试", "--lastname", "用户")
    register = "from wcreport.orchestration.auth import register_fab_permissions as r; r()"
    _run(env, "python", "-c", register)
    _run(env, "python", "-c", register)                      # airflow-init runs again on every `up`
    access = json.loads(_run(env, "python", "-c", ASK).strip().splitlines()[-1])
    assert access == {
        "boss": {"view": True, "rerun": True, "remind": True, "raw_files": True},
        "clerk": {"view": True, "rerun": False, "remind": False, "raw_files": False},
        "runner": {"view": True, "rerun": True, "remind": True, "raw_files": False},
        "auditor": {"view": True, "rerun": True, "remind": True, "raw_files": False},
    }
    # docs/deployment.md: how another role is given the raw files
    _run(env, "airflow", "roles", "add-perms", "Op", "-r", "Wcreport Raw Files", "-a", "can_read")
    access = json.loads(_run(env, "python", "-c", ASK).strip().splitlines()[-1])
    assert access["auditor"]["raw_files"] is True and access["clerk"]["raw_files"] is False
