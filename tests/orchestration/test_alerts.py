"""Failure alerts: what the mail says, who gets it, and a real task failure end to end."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mailsink import MailSink
from wcreport.orchestration import alerts, dag_defaults
from wcreport.orchestration.dag_defaults import default_args

ROOT = Path(__file__).resolve().parents[2]


class FakeTI:
    dag_id, run_id, task_id = "quarterly_report", "manual__2023", "ingest_unit"
    map_index, rendered_map_index, try_number = 7, "卫生健康事业中心", 3
    log_url = "http://airflow.local/dags/quarterly_report/runs/manual__2023/tasks/ingest_unit/mapped/7"


def test_describe_failure_names_dag_unit_reason_and_log():
    report = alerts.describe_failure({"ti": FakeTI(), "exception": OSError("磁盘已满")})
    assert report.unit == "卫生健康事业中心" and report.map_index == 7
    assert report.reason == "OSError: 磁盘已满"
    subject, body = alerts.failure_subject(report), alerts.failure_body(report)
    assert "quarterly_report" in subject and "卫生健康事业中心" in subject
    assert FakeTI.log_url in body and "磁盘已满" in body


def test_ops_address_from_env_then_variable(monkeypatch):
    monkeypatch.setenv("REPORT_OPS_EMAIL", "a@ops.example.org; b@ops.example.org")
    assert alerts.ops_recipients() == ["a@ops.example.org", "b@ops.example.org"]
    monkeypatch.delenv("REPORT_OPS_EMAIL")
    monkeypatch.setenv("AIRFLOW_VAR_REPORT_OPS_EMAIL", "var@ops.example.org")
    assert alerts.ops_recipients() == ["var@ops.example.org"]


def test_callback_never_raises_without_address_or_server(monkeypatch, caplog):
    monkeypatch.delenv("REPORT_OPS_EMAIL", raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_REPORT_OPS_EMAIL", raising=False)
    alerts.notify_ops_of_failure({"ti": FakeTI(), "exception": ValueError("x")})
    assert "no ops address" in caplog.text


def test_default_args_have_backoff_timeout_and_alert():
    args = default_args(retries=5)
    assert args["retries"] == 5 and args["owner"] != "airflow"
    assert args["retry_exponential_backoff"] == 2.0
    assert args["execution_timeout"].total_seconds() > 0
    assert args["on_failure_callback"] == [dag_defaults.notify_ops_of_failure]


def test_the_callback_is_the_alert_imported_when_a_task_fails(monkeypatch):
    seen = []
    monkeypatch.setattr(alerts, "notify_ops_of_failure", seen.append)
    context = {"ti": FakeTI(), "exception": ValueError("x")}
    dag_defaults.notify_ops_of_failure(context)
    assert seen == [context]


def test_a_dag_file_does_not_import_the_alert_module():
    probe = "import sys; import wcreport.orchestration.dag_defaults; print('wcreport.orchestration.alerts' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


FAILING_DAG = textwrap.dedent('''
    """A mapped task that fails for one unit."""
    import pendulum
    from airflow.sdk import dag, get_current_context, task
    from wcreport.orchestration.dag_defaults import default_args

    @dag(dag_id="alert_probe", schedule=None, start_date=pendulum.datetime(2023, 1, 1),
         default_args=default_args(retries=0), doc_md=__doc__, tags=["test"])
    def alert_probe():
        @task(map_index_template="{{ unit_name }}")
        def ingest_unit(unit: str):
            get_current_context()["unit_name"] = {"a": "四宝山街道", "b": "中埠镇"}[unit]
            if unit == "b":
                raise RuntimeError("读取文件失败：权限不足")

        ingest_unit.expand(unit=["a", "b"])

    alert_probe()
''')


@pytest.mark.slow
def test_a_real_task_failure_emails_ops(tmp_path, migrated_airflow_home):
    from airflow_support import airflow_env

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "alert_probe.py").write_text(FAILING_DAG, encoding="utf-8")
    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW__CORE__DAGS_FOLDER=str(dags),
                          AIRFLOW__API__BASE_URL="http://airflow.example.org:8080",
                          AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri(),
                          REPORT_OPS_EMAIL="ops@ops.example.org")
        airflow = [sys.executable, "-m", "airflow"]
        out = subprocess.run([*airflow, "dags", "test", "alert_probe", "2023-03-31"], env=env,
                             capture_output=True, text=True, timeout=300)
        mails = sink.wait_for(1, timeout=20)
    assert len(mails) == 1, out.stdout[-3000:] + out.stderr[-3000:]
    mail = mails[0]
    assert mail.rcpt_tos == ["ops@ops.example.org"]
    assert "alert_probe" in mail.subject and "中埠镇" in mail.subject
    body = mail.body_text()
    assert "RuntimeError: 读取文件失败：权限不足" in body
    assert "http://airflow.example.org:8080/dags/alert_probe/runs/" in body
    assert "/tasks/ingest_unit/mapped/1" in body


def test_alerts_use_the_connection_the_pipeline_mails_through():
    """alerts names the SMTP connection itself (no SMTP imports at DAG parse time): the same one."""
    from wcreport.orchestration import alerts, connections

    assert alerts.SMTP_CONN_ID == connections.SMTP_CONN_ID
