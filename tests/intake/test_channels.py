"""The two ways into a quarter's inbox folder share one shape: deliver, and say where files came from."""
from __future__ import annotations

from wcreport_testing import chinese_mail as cm

from intake.test_mailbox import EDU, SCAN, WHEN, XLSX, ctx, unit_programme  # noqa: F401 (fixtures)
from wcreport.core.quarter import Quarter
from wcreport.core.settings import quarter_paths
from wcreport.intake.channels import Delivered, IntakeChannel, SharedFolder
from wcreport.intake.mailbox import MailboxChannel


def _channel(channel: IntakeChannel) -> IntakeChannel:
    return channel


def test_the_mailbox_delivers_a_mails_files_with_where_they_came_from(ctx):
    mailbox = _channel(MailboxChannel(ctx))
    raw = cm.authenticated(cm.foxmail("edu_sports@units.example.cn", "张老师", "三季度报表",
                                      [(EDU, XLSX), ("盖章扫描件.pdf", SCAN)], when=WHEN, message_id="<chan-1@units>"),
                           "units.example.cn")
    delivered = mailbox.deliver(raw, uid=3, uidvalidity=1)
    assert [(d.quarter, d.path) for d in delivered] == [
        ("2023Q3", f"教育和体育事业中心/{EDU}"), ("2023Q3", "教育和体育事业中心/盖章扫描件.pdf")]
    assert delivered[0].provenance["message_id"] == "<chan-1@units>"
    paths = quarter_paths(Quarter(2023, 3), ctx.inbox_root, ctx.output_root)
    assert (paths.inbox / delivered[0].path).read_bytes() == XLSX
    assert mailbox.provenance(paths, [delivered[1].path]) == {delivered[1].path: delivered[1].provenance}
    assert mailbox.deliver(raw) == delivered                  # a mail taken in twice: the same files
    assert mailbox.name == "mailbox"


def test_the_shared_folder_delivers_what_units_put_there(tmp_path):
    share = _channel(SharedFolder(tmp_path / "inbox"))
    paths = quarter_paths("2023Q1", tmp_path / "inbox", tmp_path / "output")
    assert share.deliver(paths.inbox / "教体中心" / "报表.xlsx") == [Delivered("2023Q1", "教体中心/报表.xlsx")]
    assert share.deliver(tmp_path / "elsewhere.xlsx") == []
    assert share.deliver(paths.inbox_root / "说明.txt") == []     # in no quarter's folder
    assert share.provenance(paths) == {} and share.name == "shared_folder"
