"""The review's two rules: what a correction is numbered, and whether a change is one the leaders read.

Against a real SMTP server on loopback, like test_mail: a number is only right if it counts
the mail that actually went out.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from deliver.smtp_server import settings_for, smtp_server  # noqa: F401 (fixture)
from deliver.test_mail import build, changed_report, prog, sent_original  # noqa: F401 (prog: fixture)
from wcreport.core.quarter import TZ
from wcreport.core.templating import date_zh
from wcreport.deliver.leaders_view import reads_the_same
from wcreport.deliver.mail_ledger import empty_ledger, load_ledger
from wcreport.deliver.report_mail import next_correction_number, plan_mail
from wcreport.deliver.review import NOTE_OTHER_SENT, answer_review, open_review

REWORDED = {"civil_culture": "表格中缺少“本季度具体措施及任务进度情况”一列"}


def approve(review, prog, ledger, smtp_server, consolidated):
    return answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                         current_hash=consolidated.content_hash(), responder="clerk")


# --- numbering: 更正版N is one after the corrections actually sent ----------------------------
def test_next_number_counts_sent_corrections_only():
    ledger = empty_ledger()
    assert next_correction_number(ledger, "2023Q1") == 1
    ledger["sent"] = [{"quarter": "2023Q1", "content_hash": "a", "kind": "original"},
                      {"quarter": "2023Q1", "content_hash": "b", "kind": "correction"},
                      {"quarter": "2023Q2", "content_hash": "c", "kind": "correction"}]
    ledger["reviews"] = [{"id": "2023Q1-R1", "quarter": "2023Q1", "content_hash": "x", "state": "rejected"},
                         {"id": "2023Q1-R2", "quarter": "2023Q1", "content_hash": "y", "state": "pending"}]
    assert next_correction_number(ledger, "2023Q1") == 2          # rejected and pending ones do not count


def test_after_correction_1_was_sent_the_next_request_is_correction_2(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    first, workbook2 = changed_report(prog, tmp_path, version=2)
    second, workbook3 = changed_report(prog, tmp_path, version=3)
    replaced = open_review(first, workbook2, ledger, folder, requested_by="run-a")
    current = open_review(second, workbook3, ledger, folder, requested_by="run-a")
    assert replaced["subject"].startswith("【更正版1】") and current["subject"].startswith("【更正版1】")
    assert approve(current, prog, ledger, smtp_server, second)["outcome"] == "sent"

    again = open_review(first, workbook2, ledger, folder, requested_by="run-a")    # back to the first content
    assert again["action"] == "review" and again["id"] not in (replaced["id"], current["id"])
    assert again["subject"].startswith("【更正版2】")
    assert Path(again["workbook"]).name.endswith("（更正版2）.xlsx")
    assert approve(again, prog, ledger, smtp_server, first)["outcome"] == "sent"
    assert smtp_server.messages[-1]["subject"].startswith("【更正版2】")
    assert [r["id"] for r in load_ledger(ledger)["reviews"] if "run-a" in r["asked_in"]] == [
        replaced["id"], current["id"], again["id"]]                  # the run's cards, in order


def test_a_pending_request_numbered_before_another_mail_went_out_is_renumbered(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    stale = open_review(changed, workbook, ledger, folder)
    data = json.loads(ledger.read_text(encoding="utf-8"))              # a correction went out meanwhile
    data["sent"].append({**data["sent"][0], "content_hash": "f" * 64, "kind": "correction", "sequence": 2})
    ledger.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    renewed = open_review(changed, workbook, ledger, folder)
    assert renewed["id"] != stale["id"] and renewed["subject"].startswith("【更正版2】")
    old = next(r for r in load_ledger(ledger)["reviews"] if r["id"] == stale["id"])
    assert old["state"] == "superseded" and old["note"] == NOTE_OTHER_SENT


# --- does a change alter what the leaders read? ------------------------------------------------
def test_a_reworded_rejection_reads_the_same_and_a_changed_text_does_not(prog, tmp_path):
    base, _ = build(prog, tmp_path / "a")
    reworded, _ = build(prog, tmp_path / "b", rejected=REWORDED)
    assert base.content_hash() != reworded.content_hash()            # the pipeline sees a difference
    assert reads_the_same(base.snapshot(), reworded.snapshot())      # the leaders do not
    corrected, _ = changed_report(prog, tmp_path)
    assert not reads_the_same(base.snapshot(), corrected.snapshot())
    late, _ = build(prog, tmp_path / "c", late=("zhongbu",))
    assert not reads_the_same(base.snapshot(), late.snapshot())
    more, _ = build(prog, tmp_path / "d", indicators={"health": {"screening_rate": 61}})
    assert not reads_the_same(base.snapshot(), more.snapshot())


def test_a_snapshot_without_the_task_digests_never_reads_the_same(prog, tmp_path):
    base, _ = build(prog, tmp_path)
    old = {k: v for k, v in base.snapshot().items() if k != "tasks"}
    assert not reads_the_same(old, base.snapshot()) and not reads_the_same(None, base.snapshot())


def test_a_reason_only_change_after_the_mail_asks_nothing(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    reworded, workbook = build(prog, tmp_path / "reworded", rejected=REWORDED)
    assert plan_mail(reworded, ledger)["reason"] == "unchanged"
    assert open_review(reworded, workbook, ledger, folder)["action"] == "none"
    assert load_ledger(ledger)["reviews"] == [] and len(smtp_server.messages) == 1


def test_a_reason_only_change_after_a_rejection_asks_nothing(prog, tmp_path, smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder)
    answer_review(review["id"], False, prog, ledger, None, current_hash=changed.content_hash(), responder="clerk")
    reworded, workbook2 = changed_report(prog, tmp_path, version=2, rejected=REWORDED)
    assert reworded.content_hash() != changed.content_hash()
    again = open_review(reworded, workbook2, ledger, folder)
    assert again["action"] == "none" and again["reason"] == "rejected" and again["review_id"] == review["id"]
    newer, workbook3 = changed_report(prog, tmp_path, version=3, rejected=REWORDED)
    assert open_review(newer, workbook3, ledger, folder)["action"] == "review"   # a text change asks


def test_a_reason_only_change_while_waiting_keeps_the_request_and_its_approval_sends(prog, tmp_path,
                                                                                   smtp_server):
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    review = open_review(changed, workbook, ledger, folder, requested_by="run-a")
    reworded, workbook2 = changed_report(prog, tmp_path, version=2, rejected=REWORDED)
    assert open_review(reworded, workbook2, ledger, folder, requested_by="run-a")["id"] == review["id"]
    result = answer_review(review["id"], True, prog, ledger, settings_for(smtp_server),
                           current_hash=reworded.content_hash(), current_snapshot=reworded.snapshot(),
                           responder="clerk")
    assert result["outcome"] == "sent"
    assert smtp_server.messages[-1]["x-report-content-hash"].strip() == review["content_hash"]   # what was shown


# --- a 更正版 is marked inside ----------------------------------------------------------------
def test_every_printed_page_of_a_correction_says_which_one_and_when(prog, tmp_path, smtp_server):
    """Printed by LibreOffice, as a leader's office would: each page carries 更正版N and its date."""
    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if not (soffice and pdftotext):
        pytest.skip("needs LibreOffice (soffice) and poppler-utils (pdftotext)")
    ledger, folder = sent_original(prog, tmp_path, smtp_server)
    changed, workbook = changed_report(prog, tmp_path)
    frozen = Path(open_review(changed, workbook, ledger, folder)["workbook"])
    out = tmp_path / "pdf"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'lo-profile'}",
                    "--convert-to", "pdf", "--outdir", str(out), str(frozen)],
                   check=True, capture_output=True, timeout=240)
    text = subprocess.run([pdftotext, "-layout", str(out / frozen.with_suffix(".pdf").name), "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout
    pages = [p for p in text.split("\f") if p.strip()]
    today = date_zh(dt.datetime.now(TZ).date())
    assert len(pages) >= 4
    assert all(f"更正版1　{today}" in " ".join(p.split()) or f"更正版1 {today}" in " ".join(p.split())
               for p in pages), [p[:200] for p in pages if "更正版1" not in p]
