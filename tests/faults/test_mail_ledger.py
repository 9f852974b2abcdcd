"""The mail ledger is the record of what leaders received: its loss or damage never yields a new "first" mail.

Each report mail is kept as .eml (plus its ledger entry) under <quarter>/sent/; the send
step refuses while the ledger is missing, damaged or behind those copies, and
`wcreport ledger verify|rebuild` checks and restores it from them.
"""
from __future__ import annotations

import pytest

from deliver.smtp_server import settings_for, smtp_server  # noqa: F401 (fixture)
from report.sample import make_case, programme
from wcreport.cli.main import main as cli
from wcreport.core.io import DamagedStateError
from wcreport.deliver.mail_ledger import load_ledger
from wcreport.deliver.report_mail import send_report_once
from wcreport.deliver.sent_copies import sent_copies
from wcreport.report.consolidate import consolidate
from wcreport.report.workbook import report_filename, write_report

QUARTER = "2023Q1"


@pytest.fixture(scope="module")
def prog():
    return programme()


def build(prog, folder, **case):
    results, manifest = make_case(prog, QUARTER, **case)
    consolidated = consolidate(prog, QUARTER, results, manifest)
    folder.mkdir(parents=True, exist_ok=True)
    return consolidated, write_report(consolidated, prog, folder / report_filename(prog, QUARTER))


@pytest.fixture
def sent_twice(prog, tmp_path, smtp_server):
    """An original and an approved correction, sent and kept under <output>/2023Q1/sent/."""
    output = tmp_path / "output"
    ledger, keep = output / "mail_ledger.json", output / QUARTER / "sent"
    settings = settings_for(smtp_server)
    first, book1 = build(prog, tmp_path / "v1", missing=("housing_fund",))
    assert send_report_once(first, book1, prog, ledger, settings, keep_dir=keep)["kind"] == "original"
    second, book2 = build(prog, tmp_path / "v2")
    outcome = send_report_once(second, book2, prog, ledger, settings, keep_dir=keep,
                               approved_hash=second.content_hash())
    assert (outcome["kind"], outcome["sequence"]) == ("correction", 2)
    return output, ledger, keep, settings, second, book2


def test_every_sent_mail_is_kept_as_eml_with_its_entry(sent_twice, smtp_server):
    output, ledger, keep, *_ = sent_twice
    copies = sent_copies(output)
    assert [(c.sequence, c.content_hash) for c in copies] == [
        (e["sequence"], e["content_hash"]) for e in load_ledger(ledger)["sent"]]
    assert [c.message_id for c in copies] == [m["Message-ID"] for m in smtp_server.messages]
    assert "更正版" in copies[1].subject and copies[1].entry["snapshot"]
    assert not list(keep.glob(".pending-*"))


def test_a_deleted_ledger_refuses_to_send_then_rebuilds(sent_twice, prog, smtp_server, capsys):
    output, ledger, keep, settings, second, book2 = sent_twice
    ledger.unlink()
    with pytest.raises(DamagedStateError, match=r"mail_ledger.json is missing.*wcreport ledger rebuild"):
        send_report_once(second, book2, prog, ledger, settings, keep_dir=keep)
    assert len(smtp_server.messages) == 2 and not ledger.exists()       # nothing sent, nothing invented

    assert cli(["ledger", "verify", "--output", str(output)]) == 1
    assert "not in the ledger" in capsys.readouterr().out
    assert cli(["ledger", "rebuild", "--output", str(output)]) == 0
    assert cli(["ledger", "verify", "--output", str(output)]) == 0
    rebuilt = load_ledger(ledger)["sent"]
    assert [(e["kind"], e["sequence"]) for e in rebuilt] == [("original", 1), ("correction", 2)]
    again = send_report_once(second, book2, prog, ledger, settings, keep_dir=keep)
    assert (again["sent"], again["reason"]) == (False, "unchanged")     # no second "first" mail
    assert len(smtp_server.messages) == 2


def test_a_damaged_ledger_refuses_and_names_the_fix(sent_twice, prog, smtp_server):
    output, ledger, keep, settings, second, book2 = sent_twice
    ledger.write_text('{"sent": [', encoding="utf-8")
    with pytest.raises(DamagedStateError, match=r"mail_ledger.json is damaged.*ledger rebuild --output"):
        send_report_once(second, book2, prog, ledger, settings, keep_dir=keep)
    assert cli(["ledger", "rebuild", "--output", str(output)]) == 0
    assert list(output.glob("mail_ledger.json.replaced-*"))               # the damaged file is kept
    assert len(load_ledger(ledger)["sent"]) == 2


def test_a_ledger_restored_from_an_old_backup_refuses(sent_twice, prog, smtp_server):
    output, ledger, keep, settings, second, book2 = sent_twice
    import json

    data = json.loads(ledger.read_text(encoding="utf-8"))
    data["sent"] = data["sent"][:1]                                      # the backup before the correction
    ledger.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DamagedStateError, match="does not list every report mail"):
        send_report_once(second, book2, prog, ledger, settings, keep_dir=keep)
    assert len(smtp_server.messages) == 2


def test_a_copy_the_disk_cannot_take_stops_the_mail(prog, tmp_path, smtp_server):
    output = tmp_path / "output"
    first, book1 = build(prog, tmp_path / "v1")
    keep = output / QUARTER / "sent"
    keep.parent.mkdir(parents=True)
    keep.write_text("not a folder", encoding="utf-8")                   # the copy cannot be written
    from wcreport.core.faults import OutputUnwritable

    with pytest.raises(OutputUnwritable, match="sent"):
        send_report_once(first, book1, prog, output / "mail_ledger.json", settings_for(smtp_server), keep_dir=keep)
    assert smtp_server.messages == []
