"""Real `airflow dags test quarterly_report` runs: a rejected unit gets exactly one feedback mail,
none on an unchanged rerun, one more for a new rejected version; the leaders get only the report."""
from __future__ import annotations

import json
import os

import pytest
import yaml

from airflow_support import airflow_env, run_dags_test
from faults.conftest import small_programme_file
from mailsink import MailSink
from wcreport.core.programme import load_programme
from wcreport.core.quarter import Quarter
from wcreport.deliver.forms import build_unit_workbook
from wcreport.demo.sample import write_quarter_samples

pytestmark = pytest.mark.slow
QUARTER = Quarter(2023, 1)
REJECTED, ADDRESS = "health", "wjzx@units.example.org"


def feedback_mails(sink: MailSink):
    return [m for m in sink.messages if m.message["X-Wcreport-Feedback"]]


def test_a_rejected_unit_gets_one_mail_per_version(tmp_path, migrated_airflow_home):
    programme_file = small_programme_file(tmp_path / "programmes")
    data = yaml.safe_load(programme_file.read_text(encoding="utf-8"))
    next(u for u in data["units"] if u["key"] == REJECTED)["email"] = ADDRESS
    programme_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    programme = load_programme(programme_file)
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    written = write_quarter_samples(programme, QUARTER, inbox)
    health = next(p for p in written if programme.unit(REJECTED).name in p.name)
    received = health.stat().st_mtime
    build_unit_workbook(programme, REJECTED, QUARTER).save(health)              # sent blank: rejected
    os.utime(health, (received, received))
    conf = json.dumps({"quarter": str(QUARTER), "inbox": str(inbox), "output": str(output)})
    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri(),
                          REPORT_PROGRAMMES_DIR=str(programme_file.parent))
        for expected in (1, 1):                                                   # first run, unchanged rerun
            result = run_dags_test(env, "quarterly_report", conf, timeout=600)
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
            assert len(feedback_mails(sink)) == expected
        # The unit sends the blank form again (other bytes, the same problems): a new version gets its
        # mail; the leaders' report is unchanged, so no correction waits for a review under dags test.
        workbook = build_unit_workbook(programme, REJECTED, QUARTER)
        workbook.properties.creator = "卫生健康事业中心"
        corrected = health.with_name("卫生健康事业中心（修改）.xlsx")
        workbook.save(corrected)
        os.utime(corrected, (received + 600, received + 600))
        result = run_dags_test(env, "quarterly_report", conf, timeout=600)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        mails = feedback_mails(sink)
        assert len(mails) == 2 and all(m.rcpt_tos == [ADDRESS] for m in mails)
        assert health.name in mails[0].subject and corrected.name in mails[1].subject
        leaders = [r.email for r in programme.recipients.to]
        assert all(not set(leaders) & set(m.rcpt_tos) for m in mails)
        assert [m for m in sink.messages if set(leaders) & set(m.rcpt_tos)]      # the leaders got the report
