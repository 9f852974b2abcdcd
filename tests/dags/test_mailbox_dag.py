"""mailbox_intake end to end with `airflow dags test`, a private Dovecot and the loopback SMTP sink.

The mailbox gets the mails units really send: Foxmail (RFC 2231 continuations),
Outlook/Coremail (RFC 2047 in name=), raw GBK names, a forwarded mail, a zip with GBK
member names, a mail without attachments (and without Message-ID), a 30 MB attachment
(over 40 MB encoded: answered from its header, its body never fetched),
a zip bomb, a mail from an unknown address, and two forgeries: a mail forwarded by staff
(not the organiser's mailbox) whose inner From is a unit's, and a unit's From that the
office's server says failed DMARC. Unit mails carry the Authentication-Results header of
the office's server (``authserv_id`` in the connection). One run saves every report file
byte-identical where it belongs, answers each mail once, threaded, with the right
findings, and tells the units named by the forgeries; a second run saves and sends
nothing; the quarter's report then lists the units as submitted, the forged files held
and none of their words in the leaders' workbook.
"""
from __future__ import annotations

import datetime as dt
import email
import io
import json
import sys
from email import policy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from wcreport_testing import chinese_mail as cm  # noqa: E402

from airflow_support import airflow_env, run_dags_test  # noqa: E402
from mailsink import MailSink  # noqa: E402
from wcreport.core.programme import load_programme  # noqa: E402
from wcreport.core.quarter import TZ, Quarter  # noqa: E402
from wcreport.deliver.forms import build_unit_workbook  # noqa: E402
from wcreport.demo.sample import write_quarter_samples  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
Q = Quarter(2023, 3)
WHEN = dt.datetime(2023, 9, 26, 10, 0, tzinfo=TZ)
DOMAIN = "units.example.cn"
STAFF = "staff@qtk.example.cn"            # forwards a unit's mail; not a unit address
STRANGER = "stranger@qq.example.com"      # an address no unit gave
NOTICES = 2                               # the units named by the two forgeries are told
ADDRESSED = ("edu_sports", "health", "zhongbu", "sibaoshan", "construction", "civil_culture",
             "science_tech", "publicity")
FORGED_TEXT = "伪造的进度文字"
SCAN = b"%PDF-1.4\n% scanned page with the red seal\n" + bytes(range(256)) * 40


def addr(key: str) -> str:
    return f"{key}@{DOMAIN}"




def _programme_dir(tmp_path: Path) -> Path:
    """The shipped 2023 programme plus test addresses for some units."""
    data = yaml.safe_load((ROOT / "include" / "programmes" / "2023.yaml").read_text(encoding="utf-8"))
    for unit in data["units"]:
        if unit["key"] in ADDRESSED:
            unit["emails"] = [addr(unit["key"])]
    folder = tmp_path / "programmes"
    folder.mkdir()
    (folder / "2023.yaml").write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return folder


def _forms(programme, tmp_path: Path) -> dict[str, bytes]:
    files = write_quarter_samples(programme, Q, tmp_path / "samples")
    forms = {unit.key: path.read_bytes() for unit, path in zip(programme.units, files)}
    blank = io.BytesIO()
    build_unit_workbook(programme, "zhongbu", Q).save(blank)   # nothing filled in: rejected
    forms["zhongbu_blank"] = blank.getvalue()
    forms["edu_forged"] = _forged_form(forms["edu_sports"])
    return forms


def _forged_form(genuine: bytes) -> bytes:
    """The unit's form with its first progress cell rewritten by a forger."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(genuine))
    ws = book.worksheets[0]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == "本季度具体措施及任务进度情况":
                ws.cell(cell.row + 1, cell.column).value = FORGED_TEXT
                out = io.BytesIO()
                book.save(out)
                return out.getvalue()
    raise AssertionError("no progress column in the sample form")


def _mails(forms: dict[str, bytes]) -> dict[str, tuple[bytes, str | None, str]]:
    """name -> (raw mail, Message-ID, who must get the receipt)."""
    ok = lambda raw: cm.authenticated(raw, DOMAIN)  # noqa: E731
    at = lambda minutes: WHEN + dt.timedelta(minutes=minutes)  # noqa: E731
    edu_name = "教育和体育事业中心2023年第三季度为妇女儿童办实事工作进展情况报表.xlsx"
    inner = cm.foxmail(addr("sibaoshan"), "四宝山街道党政办", "四宝山街道三季度报表",
                       [("四宝山街道三季度报表.xlsx", forms["sibaoshan"])], when=at(-60),
                       message_id="<orig-sbs@units.example.cn>")
    zip_bytes = cm.gbk_zip([("建设局2023年第三季度报表.xlsx", forms["construction"]),
                            ("盖章件/建设局盖章页.pdf", SCAN)])
    return {
        "foxmail": (ok(cm.foxmail(addr("edu_sports"), "教体中心张老师", "教育和体育事业中心三季度报表",
                                  [(edu_name, forms["edu_sports"]), ("盖章扫描件.pdf", SCAN)], when=at(0),
                                  message_id="<fox-edu@units.example.cn>")), "<fox-edu@units.example.cn>",
                    addr("edu_sports")),
        "outlook": (ok(cm.outlook(addr("health"), "卫健中心李四", "卫生健康事业中心第三季度报表",
                                  [("卫生健康事业中心第三季度报表.xlsx", forms["health"])], when=at(5),
                                  message_id="<ol-health@units.example.cn>")), "<ol-health@units.example.cn>",
                    addr("health")),
        "raw_gbk": (ok(cm.raw_gbk(addr("zhongbu"), "中埠镇第三季度报表", [("中埠镇报表.xlsx", forms["zhongbu_blank"])],
                                  when=at(10), message_id="<gbk-zb@units.example.cn>")), "<gbk-zb@units.example.cn>",
                    addr("zhongbu")),
        "forwarded": (cm.authenticated(cm.forwarded(STAFF, "转发：四宝山街道三季度报表", inner, when=at(15),
                                                    message_id="<fwd-sbs@qtk.example.cn>"), "qtk.example.cn"),
                      "<fwd-sbs@qtk.example.cn>", STAFF),
        "zip": (ok(cm.single_attachment(addr("construction"), "建设局报表", "建设局报表.zip", zip_bytes, when=at(20),
                                        message_id="<zip-js@units.example.cn>")), "<zip-js@units.example.cn>",
                addr("construction")),
        "no_attachment": (ok(cm.plain(addr("civil_culture"), "三季度报表", "报表稍后发送。", when=at(25),
                                      message_id=None)),
                          None, addr("civil_culture")),
        "big": (ok(cm.foxmail(addr("science_tech"), "科技中心", "科学技术发展中心报表及扫描件",
                              [("科学技术发展中心报表.xlsx", forms["science_tech"]), ("高清扫描件.pdf", bytes(30 * 2**20))],
                              when=at(30), message_id="<big-st@units.example.cn>")), "<big-st@units.example.cn>",
                addr("science_tech")),
        "bomb": (ok(cm.single_attachment(addr("publicity"), "宣传新闻中心报表", "宣传新闻中心报表.zip",
                                         cm.zip_bomb(declared_mib=50), when=at(35),
                                         message_id="<bomb-pub@units.example.cn>")), "<bomb-pub@units.example.cn>",
                 addr("publicity")),
        "stranger": (cm.raw_gbk(STRANGER, "人社中心报表", [("人社中心报表.xlsx", forms["hr_social"])], when=at(40),
                                message_id="<stranger@qq.example.com>"), "<stranger@qq.example.com>", STRANGER),
        "forged_from": (cm.authenticated(cm.foxmail(addr("edu_sports"), "教体中心", "教体中心报表（更正）",
                                                    [("教体中心更正.xlsx", forms["edu_forged"])], when=at(45),
                                                    message_id="<forged-edu@units.example.cn>"),
                                         DOMAIN, result="fail"), "<forged-edu@units.example.cn>", addr("edu_sports")),
    }


def _tree(folder: Path) -> dict[str, tuple[int, float]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_mailbox_dag_saves_answers_once_and_feeds_the_quarter(tmp_path, migrated_airflow_home, dovecot, monkeypatch):
    programmes = _programme_dir(tmp_path)
    programme = load_programme(programmes / "2023.yaml")
    forms = _forms(programme, tmp_path)
    mails = _mails(forms)
    for raw, _mid, _to in mails.values():
        dovecot.append(raw, when=WHEN)
    inbox, output = tmp_path / "inbox", tmp_path / "output"
    conf = json.dumps({"quarter": str(Q), "inbox": str(inbox), "output": str(output)})

    with MailSink() as sink:
        env = airflow_env(migrated_airflow_home, AIRFLOW_CONN_SMTP_DEFAULT=sink.airflow_conn_uri("qtk-bot@test.invalid"),
                          AIRFLOW_CONN_IMAP_DEFAULT=dovecot.airflow_conn_uri(authserv_id=cm.OUR_AUTHSERV_ID),
                          REPORT_PROGRAMMES_DIR=str(programmes), REPORT_OPS_EMAIL="ops@ops.example.org")
        first = run_dags_test(env, "mailbox_intake", conf, timeout=600)
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
        received = sink.wait_for(len(mails) + NOTICES, timeout=30)
        tree = _tree(inbox / str(Q))
        second = run_dags_test(env, "mailbox_intake", conf, timeout=600)
        assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-4000:]
        again = sink.wait_for(len(mails) + NOTICES + 1, timeout=3)

    # --- files: byte-identical, in the sender's unit folder -------------------------
    quarter_inbox = inbox / str(Q)
    expected = {
        "教育和体育事业中心/教育和体育事业中心2023年第三季度为妇女儿童办实事工作进展情况报表.xlsx": forms["edu_sports"],
        "教育和体育事业中心/盖章扫描件.pdf": SCAN,
        "卫生健康事业中心/卫生健康事业中心第三季度报表.xlsx": forms["health"],
        "中埠镇/中埠镇报表.xlsx": forms["zhongbu_blank"],
        "四宝山街道三季度报表.xlsx": forms["sibaoshan"],      # forwarded by staff: not the unit's word
        "教体中心更正.xlsx": forms["edu_forged"],              # From forged: DMARC failed
        "建设局/建设局2023年第三季度报表.xlsx": forms["construction"],
        "建设局/建设局盖章页.pdf": SCAN,
        "人社中心报表.xlsx": forms["hr_social"],
    }
    assert sorted(tree) == sorted(expected)
    for rel, data in expected.items():
        assert (quarter_inbox / rel).read_bytes() == data, rel
    assert len(list((output / "mailbox" / "eml").glob("*.eml"))) == len(mails)

    # --- provenance, for the manifest --------------------------------------------------
    from wcreport.core.settings import quarter_paths
    from wcreport.intake.mailbox import provenance_by_path

    provenance = provenance_by_path(quarter_paths(Q, inbox, output))
    assert set(provenance) == set(expected)
    fwd = provenance["四宝山街道三季度报表.xlsx"]
    assert fwd["sender"] == STAFF and fwd["message_id"] == "<fwd-sbs@qtk.example.cn>"
    assert fwd["forwarded_from"]["sender"] == addr("sibaoshan") and fwd["claimed_unit"] == "sibaoshan"
    assert fwd["sender_authenticated"] is True and fwd["sender_unit"] is None
    forged = provenance["教体中心更正.xlsx"]
    assert forged["sender_authenticated"] is False and forged["claimed_unit"] == "edu_sports"
    assert provenance["教育和体育事业中心/盖章扫描件.pdf"]["sender_authenticated"] is True
    assert provenance["建设局/建设局盖章页.pdf"]["container"] == "建设局报表.zip"

    # --- receipts: one per mail, to its From, threaded, with the findings ---------------
    assert len(received) == len(mails) + NOTICES, first.stdout[-3000:]
    assert len(again) == len(mails) + NOTICES, "the second run must not send anything"
    parsed = [(mail.rcpt_tos, email.message_from_bytes(mail.message.as_bytes(), policy=policy.default))
              for mail in received]
    receipts = [(to, m) for to, m in parsed if str(m["Subject"]).startswith("回执：")]
    notices = {to[0]: m for to, m in parsed if str(m["Subject"]).startswith("请核实")}
    assert len(receipts) == len(mails) and sorted(notices) == [addr("edu_sports"), addr("sibaoshan")]
    assert STAFF in _text(notices[addr("sibaoshan")]) and "教体中心更正.xlsx" in _text(notices[addr("edu_sports")])

    def receipt_of(name: str):
        _raw, mid, to = mails[name]
        found = [m for rcpt, m in receipts if rcpt == [to] and m["In-Reply-To"] == mid]
        assert len(found) == 1, name
        return found[0]

    for name, (_raw, mid, _to) in mails.items():
        receipt = receipt_of(name)
        assert receipt["Auto-Submitted"] == "auto-replied"
        assert receipt["In-Reply-To"] == mid, name
        if mid:
            assert mid in str(receipt["References"])
    text = {name: _text(receipt_of(name)) for name in mails}
    assert "初步检查通过" in text["foxmail"] and "盖章扫描件.pdf" in text["foxmail"]
    assert "需要修改" not in text["foxmail"]
    assert "初步检查通过" in text["outlook"]
    assert "需要修改" in text["raw_gbk"] and "必须修改的问题" in text["raw_gbk"]
    assert "四宝山街道三季度报表.xlsx" in text["forwarded"]
    assert "建设局2023年第三季度报表.xlsx" in text["zip"] and "建设局报表.zip" in text["zip"]
    assert "未发现附件" in text["no_attachment"]
    # over 40 MB: its body was never fetched; the sender is told to split it
    assert "超过 40 MB 的上限" in text["big"] and "初步检查通过" not in text["big"]
    assert "压缩炸弹" in text["bomb"]
    assert "未登记" in text["stranger"]
    assert "未能通过我方邮件服务器的身份验证" in text["forwarded"] and "四宝山街道" in text["forwarded"]
    assert "未能通过我方邮件服务器的身份验证" in text["forged_from"]
    html = receipt_of("foxmail").get_body(preferencelist=("html",)).get_content()
    assert "<table" in html and "教育和体育事业中心" in html

    # --- the mailbox: only \Seen changed ------------------------------------------------
    snapshot = dovecot.mailbox_snapshot()
    assert [raw for _uid, raw, _flags in snapshot] == [raw for raw, _m, _t in mails.values()]
    assert all("\\Seen" in flags for _uid, _raw, flags in snapshot)

    # --- the second run changed nothing on disk ----------------------------------------
    assert _tree(inbox / str(Q)) == tree

    # --- the quarter's run (gather, then each unit's ingest) counts the units as submitted --
    monkeypatch.setenv("REPORT_PROGRAMMES_DIR", str(programmes))
    from openpyxl import load_workbook

    from wcreport.orchestration.tasks import gather, ingest, merge

    run = {"quarter": str(Q), "inbox": str(inbox), "output": str(output)}
    status = {unit: ingest(run, unit)["status"] for unit in gather(run)}
    for key in ("edu_sports", "health", "construction"):
        assert status[key] == "submitted", (key, status)
    assert status["zhongbu"] == "rejected"
    assert status["publicity"] == "missing" and status["civil_culture"] == "missing"
    # sibaoshan's only file came through a forwarder nobody vouched for as the organiser, and
    # hr_social's from an unknown address: held for the clerk, not the units' word
    assert status["sibaoshan"] == status["science_tech"] == status["hr_social"] == "missing"
    hr = json.loads((output / str(Q) / "units" / "hr_social.json").read_text(encoding="utf-8"))
    assert [f["status"] for f in hr["files"]] == ["held"]            # its only file came through a forwarder nobody vouched for
    result = json.loads((output / str(Q) / "units" / "edu_sports.json").read_text(encoding="utf-8"))
    assert result["accepted_path"].startswith("教育和体育事业中心/")
    assert {f["path"]: f["status"] for f in result["files"]}["教体中心更正.xlsx"] == "held"
    book = load_workbook(merge(run)["report"])
    cells = "\n".join(str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value)
    assert FORGED_TEXT not in cells and "待确认：发件人未经验证" in cells
