"""The dashboard as the API server mounts it (Airflow's own FastAPI app, the project's plugins,
the simple auth manager initialised by Airflow, tokens it issues and resolves itself against the
metadata DB), asked by each of the simple auth manager's roles. About half a minute on 2 cores."""
from __future__ import annotations

import json
import subprocess

import pytest
from wcreport_testing.dashboard_fixtures import write_programme_quarter

from airflow_support import VENV_BIN, airflow_env

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

PATHS = {
    "page": "/wcreport/?quarter=2023Q1",
    "grid": "/wcreport/api/grid?quarter=2023Q1",
    "manifest": "/wcreport/files/2023Q1/manifest.json",
    "mail_ledger": "/wcreport/files/mail_ledger.json",
    "eml": "/wcreport/files/mailbox/eml/0f3a.eml",
}

SCRIPT = f"""
import json
from fastapi.testclient import TestClient
from airflow.api_fastapi.app import create_app, get_auth_manager
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
app = create_app("core")
manager = get_auth_manager()
seen = {{}}
with TestClient(app) as client:
    for role in ("viewer", "user", "op", "admin"):
        token = manager.generate_jwt(SimpleAuthManagerUser(username="u_" + role, role=role))
        answers = {{}}
        for name, path in {PATHS!r}.items():
            response = client.get(path, cookies={{"_token": token}})
            answers[name] = response.status_code
            if name == "page":
                answers["rerun_button"] = 'class="act-rerun"' in response.text
        seen[role] = answers
    seen["anonymous"] = client.get({PATHS["page"]!r}).status_code
print("SEEN " + json.dumps(seen))
"""


def test_the_mounted_dashboard_asks_the_api_servers_auth_manager(migrated_airflow_home, tmp_path, programme):
    output = tmp_path / "output"
    write_programme_quarter(programme, "2023Q1", output)
    for raw in ("mail_ledger.json", "mailbox/eml/0f3a.eml"):
        (output / raw).parent.mkdir(parents=True, exist_ok=True)
        (output / raw).write_text("raw", encoding="utf-8")
    env = airflow_env(migrated_airflow_home,
                      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="u_viewer:viewer,u_user:user,u_op:op,u_admin:admin",
                      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(tmp_path / "passwords.json"),
                      AIRFLOW__API_AUTH__JWT_SECRET="access-api-server-test-" + "x" * 48,
                      REPORT_OUTPUT=str(output))
    result = subprocess.run([str(VENV_BIN / "python"), "-c", SCRIPT], env=env, capture_output=True, text=True,
                            timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.split("SEEN ", 1)[1].splitlines()[0])
    ok = {"page": 200, "grid": 200, "manifest": 200}
    assert seen["viewer"] == {**ok, "mail_ledger": 403, "eml": 403, "rerun_button": False}
    assert seen["user"] == seen["op"] == {**ok, "mail_ledger": 403, "eml": 403, "rerun_button": True}
    assert seen["admin"] == {**ok, "mail_ledger": 200, "eml": 200, "rerun_button": True}
    assert seen["anonymous"] == 401
