"""The quarter's mail state on the 季度报送 page, from a mail ledger on disk (dashboard.mail_state)."""
from __future__ import annotations

import json
import re


def write_ledger(output_root, **extra) -> dict:
    folder = output_root / "2023Q1"
    (folder / "sent").mkdir(parents=True, exist_ok=True)
    (folder / "review" / "bbbb").mkdir(parents=True, exist_ok=True)
    ledger = {"version": 2, "sent": [
        {"quarter": "2023Q1", "content_hash": "a" * 64, "kind": "original", "sequence": 1,
         "subject": "2023年第1季度报表", "sent_at": "2023-04-01T02:00:00+00:00", "to": ["lead@zb.example.cn"],
         "cc": [], "attachment": "报表.xlsx", "kept_as": str(folder / "sent" / "报表.xlsx")},
        {"quarter": "2023Q1", "content_hash": "b" * 64, "kind": "correction", "sequence": 2,
         "subject": "【更正版1】2023年第1季度报表", "sent_at": "2023-04-03T02:00:00+00:00",
         "to": ["lead@zb.example.cn"], "cc": [], "attachment": "报表（更正版1）.xlsx", "approved_by": "clerk",
         "kept_as": str(folder / "sent" / "报表（更正版1）.xlsx")},
        {"quarter": "2023Q2", "content_hash": "c" * 64, "kind": "original", "sequence": 1, "subject": "Q2"},
    ], "reviews": [
        {"id": "2023Q1-R1", "quarter": "2023Q1", "content_hash": "b" * 64, "state": "sent",
         "subject": "【更正版1】2023年第1季度报表", "requested_at": "2023-04-02T02:00:00+00:00",
         "decided_at": "2023-04-03T02:00:00+00:00", "decided_by": "clerk", "asked_in": ["run-a"]},
        {"id": "2023Q1-R2", "quarter": "2023Q1", "content_hash": "d" * 64, "state": "rejected",
         "subject": "【更正版2】<script>x</script>", "asked_in": ["run-b"], "decided_by": "clerk",
         "note": "保留上次发送的版本"},
        {"id": "2023Q1-R3", "quarter": "2023Q1", "content_hash": "e" * 64, "state": "pending",
         "subject": "【更正版2】2023年第1季度报表", "asked_in": ["run-b", "manual__2023Q1 c"],
         "notified_at": "2023-04-05T02:00:00+00:00",
         "workbook": str(folder / "review" / "bbbb" / "报表（更正版2）.xlsx")},
        {"id": "2023Q1-R4", "quarter": "2023Q1", "content_hash": "f" * 64, "state": "superseded",
         "subject": "x", "asked_in": ["manual__2023Q1 c"]},
    ], **extra}
    (output_root / "mail_ledger.json").write_text(json.dumps(ledger, ensure_ascii=False), encoding="utf-8")
    return ledger


def section(html: str) -> str:
    return re.search(r'<section id="mail-state">.*?</section>', html, re.S).group(0)


def test_the_page_shows_the_first_mail_each_correction_and_each_review(signed_in, output_root):
    write_ledger(output_root)
    part = section(signed_in.get("/?quarter=2023Q1").text)
    assert 'id="mail-first" data-state="sent"' in part
    assert "首次报送：2023-04-01 10:00（北京时间） 发送给 lead@zb.example.cn" in part
    assert "/files/2023Q1/sent/%E6%8A%A5%E8%A1%A8.xlsx?download=1" in part
    assert "【更正版1】2023年第1季度报表：2023-04-03 10:00（北京时间）" in part and "（clerk 批准）" in part
    states = dict(re.findall(r'data-review="([^"]+)" data-state="([^"]+)"', part))
    assert states == {"2023Q1-R1": "sent", "2023Q1-R2": "rejected", "2023Q1-R3": "pending",
                      "2023Q1-R4": "superseded"}
    pending = part.split('data-review="2023Q1-R3"', 1)[1].split("</tr>", 1)[0]
    assert "等待审核 · 已邮件通知审核人" in pending
    # the card of the last run that asked: R3 is that run's first request
    assert ('href="/dags/quarterly_report/runs/manual__2023Q1%20c/tasks/review_correction/mapped/0/'
            'required_actions"') in pending and "ui-link" in pending
    assert "/files/2023Q1/review/bbbb/" in pending
    rejected = part.split('data-review="2023Q1-R2"', 1)[1].split("</tr>", 1)[0]
    assert "已退回（不发送）" in rejected and "required_actions" not in rejected
    assert "<script>x</script>" not in part and "&lt;script&gt;" in part        # unit-controlled text escaped
    assert "Q2" not in part                                                      # another quarter's mail


def test_no_mail_yet_and_a_damaged_ledger_still_show_the_page(signed_in, output_root):
    page = signed_in.get("/?quarter=2023Q1")
    assert page.status_code == 200 and "本季度尚未向领导发送报表" in section(page.text)
    (output_root / "mail_ledger.json").write_text("{not json", encoding="utf-8")
    page = signed_in.get("/?quarter=2023Q1")
    assert page.status_code == 200 and "邮件记录 mail_ledger.json 无法读取" in section(page.text)
    assert 'id="grid"' in page.text
