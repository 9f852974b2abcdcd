"""The clerk's cards as the DAG uses them (``flow.mail``): one per request a run makes, built from the
ledger when it starts waiting, bound to the answer, and the notifier mail once per request.

A real quarter on disk, a real workbook, a loopback SMTP server; no Airflow (the browser test in
tests/dashboard runs the same steps inside the Airflow UI).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deliver.smtp_server import settings_for
from report.sample import make_case
from wcreport.deliver.mail_ledger import load_ledger
from wcreport.deliver.review_notice import CLERK_EMAIL_ENV, REVIEW_ID_HEADER
from wcreport.deliver.smtp import send_message
from wcreport.flow import mail
from wcreport.flow.run import QuarterRun
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import report_filename, write_report

QUARTER = "2023Q1"
CLERK = "qunbk-clerk@zb.example.cn"
RUN = "manual__2023Q1__a"


@pytest.fixture
def run(tmp_path) -> QuarterRun:
    return QuarterRun(quarter=QUARTER, inbox=str(tmp_path / "inbox"), output=str(tmp_path / "output"))


def merged(run: QuarterRun, version: int, **case) -> dict:
    """What merge leaves for plan_mail: the consolidated model and the workbook, for a unit's version."""
    prog, paths = run.programme, run.paths
    results, manifest = make_case(prog, QUARTER, version={"zhongbu": version}, **case)
    consolidated = consolidate(prog, QUARTER, results, manifest)
    paths.output.mkdir(parents=True, exist_ok=True)
    workbook = write_report(consolidated, prog, paths.output / report_filename(prog, QUARTER))
    paths.consolidated.write_text(consolidated.model_dump_json(), encoding="utf-8")
    return {"consolidated": str(paths.consolidated), "report": str(workbook)}


@pytest.fixture
def original_sent(run, smtp_server):
    first = merged(run, 1)
    assert mail.plan_mail(run, first, requested_by=RUN)["next"] == mail.SEND_TASK
    assert mail.send(run, first, settings_for(smtp_server))["kind"] == "original"
    return first


def test_a_rerun_that_changes_the_content_gets_a_new_card_and_the_old_one_skips(run, original_sent):
    first = mail.plan_mail(run, merged(run, 2), requested_by=RUN)
    assert first["next"] == mail.REVIEW_TASK
    assert mail.review_cards(run, RUN) == [{"review_id": first["id"], "current": True}]

    second = mail.plan_mail(run, merged(run, 3), requested_by=RUN)          # the unit's rerun
    assert mail.review_cards(run, RUN) == [{"review_id": first["id"], "current": False},
                                           {"review_id": second["id"], "current": True}]
    assert mail.review_card(run, first["id"]) is None                        # no longer waits
    card = mail.review_card(run, second["id"], base_url="http://airflow.example")
    assert card is not None and card["subject"].startswith("审核【更正版1】")
    assert second["content_hash"] in card["body"] and first["content_hash"] not in card["body"]
    workbook = Path(second["workbook"])
    assert f"[{workbook.name}](http://airflow.example/wcreport/files/" in card["body"]
    assert mail.review_cards(run, "another-run") == []


def test_an_approval_of_an_earlier_card_sends_nothing_and_says_so(run, original_sent, smtp_server):
    first = mail.plan_mail(run, merged(run, 2), requested_by=RUN)
    second = mail.plan_mail(run, merged(run, 3), requested_by=RUN)
    outcome = mail.send_correction(run, second, True, "clerk", settings_for(smtp_server),
                                   mail.CardShown(review_id=first["id"]))
    assert outcome["sent"] is False and outcome["outcome"] == "not_current"
    assert first["id"] in outcome["message"] and "未发送任何邮件" in outcome["message"]
    assert len(smtp_server.messages) == 1
    assert [r["state"] for r in load_ledger(run.paths.mail_ledger)["reviews"]] == ["superseded", "pending"]

    sent = mail.send_correction(run, second, True, "clerk", settings_for(smtp_server),
                                mail.CardShown(review_id=second["id"]))
    assert sent["outcome"] == "sent" and smtp_server.messages[-1]["subject"].startswith("【更正版1】")
    assert smtp_server.messages[-1]["x-report-content-hash"].strip() == second["content_hash"]


def test_content_that_moved_on_after_the_approval_sends_nothing_and_the_result_says_why(run, original_sent,
                                                                                       smtp_server):
    plan = mail.plan_mail(run, merged(run, 2), requested_by=RUN)
    merged(run, 3)                                    # a rerun rewrote the quarter's model, plan_mail not yet
    outcome = mail.send_correction(run, plan, True, "clerk", settings_for(smtp_server),
                                   mail.CardShown(review_id=plan["id"]))
    assert outcome["outcome"] == "stale" and outcome["sent"] is False and "未发送" in outcome["message"]
    assert len(smtp_server.messages) == 1


def test_the_clerk_is_mailed_once_per_request_with_the_link(run, original_sent, smtp_server, monkeypatch):
    monkeypatch.delenv(CLERK_EMAIL_ENV, raising=False)
    link = "http://airflow.example/dags/quarterly_report/runs/r/tasks/review_correction/required_actions?map_index=0"

    def send(to, notice):
        send_message(settings_for(smtp_server), to, notice.subject, notice.html, text_body=notice.text,
                     headers=notice.headers)

    plan = mail.plan_mail(run, merged(run, 2), requested_by=RUN)
    assert mail.notify_clerk(run, plan["id"], link, None, send) == "no_address"
    assert mail.notify_clerk(run, plan["id"], link, CLERK, send, base_url="http://airflow.example") == "sent"
    assert mail.notify_clerk(run, plan["id"], link, CLERK, send) == "already"
    [_, notice] = smtp_server.messages
    assert notice["to"] == CLERK and notice["subject"].startswith("待审核：【更正版1】")
    assert notice[REVIEW_ID_HEADER] == plan["id"]
    html = notice.get_body(("html",)).get_content()
    assert f'href="{link.replace("&", "&amp;")}"' in html and plan["content_hash"] in html
    assert link in notice.get_body(("plain",)).get_content()

    newer = mail.plan_mail(run, merged(run, 3), requested_by=RUN)           # a new request: a new notice
    monkeypatch.setenv(CLERK_EMAIL_ENV, CLERK)
    assert mail.notify_clerk(run, plan["id"], link, None, send) == "gone"
    assert mail.notify_clerk(run, newer["id"], link, None, send) == "sent"
    assert len(smtp_server.messages) == 3
    stored = json.loads(run.paths.mail_ledger.read_text(encoding="utf-8"))["reviews"]
    assert [bool(r.get("notified_at")) for r in stored] == [True, True]


def test_the_task_acts_on_the_current_cards_answer_only(run, original_sent, smtp_server, monkeypatch):
    from wcreport.orchestration.review_answers import REVIEW_SEND
    from wcreport.orchestration.tasks import send_correction

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_server.airflow_conn_uri())
    first = mail.plan_mail(run, merged(run, 2), requested_by=RUN)
    second = mail.plan_mail(run, merged(run, 3), requested_by=RUN)
    replaced = {"chosen_options": [], "not_asked": True, "card": {"review_id": first["id"]}}
    approved_by = {"name": "clerk", "id": "clerk"}
    as_dict = run.model_dump()

    nothing = send_correction(as_dict, second, [replaced, None])
    assert nothing["outcome"] == "not_asked" and second["id"] in nothing["message"]
    earlier = send_correction(as_dict, second, [replaced | {"not_asked": False, "chosen_options": [REVIEW_SEND],
                                                            "responded_by_user": approved_by}])
    assert earlier["outcome"] == "not_current" and len(smtp_server.messages) == 1
    sent = send_correction(as_dict, second, [replaced, {"chosen_options": [REVIEW_SEND], "responded_by_user":
                                                       approved_by, "card": {"review_id": second["id"]}}])
    assert sent["outcome"] == "sent" and len(smtp_server.messages) == 2
    assert load_ledger(run.paths.mail_ledger)["sent"][-1]["approved_by"] == "clerk"
