"""What an inbox entry is from its name and size alone, and the Chinese reasons for ignoring it.

Judged before any byte is read, so noise (lock files, hidden and temporary files) costs
nothing and gets the same reason on every scan.
"""
from __future__ import annotations

from pathlib import Path

from wcreport.core.model import FileRecord

TEMP_EXTS = {".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", ".bak", ".wbk"}
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
STILL_WRITING = "文件仍在写入（大小或修改时间仍在变化），本次未处理，下次运行时再处理。"
LINK_TO_FILE = "符号链接（快捷方式）不是报表文件，已忽略。请将报表文件本身放入收件文件夹。"
LINK_TO_FOLDER = "指向文件夹的符号链接（快捷方式），其中的文件未读取，已忽略。请将报表文件本身放入收件文件夹。"
LINK_DANGLING = "符号链接（快捷方式）指向的文件不存在，已忽略。请将报表文件本身放入收件文件夹。"
NOT_A_FILE = "不是普通文件（设备、管道或套接字），已忽略。"


def classify(rel: str, size: int) -> tuple[str, str | None]:
    """(kind, Chinese reason if ignored) from the file's name and size alone."""
    parts = rel.split("/")
    name = parts[-1]
    lower = name.lower()
    if name.startswith("~$"):
        return "lock", "Office/WPS 打开表格时自动生成的锁文件（~$ 开头），不是报表，已忽略。"
    if name.startswith(".~lock.") and name.endswith("#"):
        return "lock", "LibreOffice/WPS 打开表格时自动生成的锁文件（.~lock. 开头），不是报表，已忽略。"
    if any(p.startswith(".") for p in parts) or lower in SYSTEM_NAMES or "__MACOSX" in parts:
        return "hidden", "隐藏文件或系统文件，不是报表，已忽略。"
    suffix = Path(lower).suffix
    if suffix in TEMP_EXTS or (name.startswith("~") and suffix in ("", ".tmp")):
        return "temporary", f"临时文件（{suffix or '~ 开头'}），可能是保存或传输未完成时留下的，已忽略。"
    if size == 0:
        return "empty", "文件为空（0 字节），可能保存或传输未完成，已忽略。如需报送，请重新保存后发送。"
    return "spreadsheet", None


def describe_other(rel: str) -> str:
    suffix = Path(rel).suffix.lower() or "无扩展名"
    return (f"不是电子表格文件（{suffix}），已忽略。报表请使用通知附件的表格格式，"
            "另存为 .xlsx 后报送。")


def still_being_written(record: FileRecord) -> bool:
    """A would-be report that was still changing when the scan's wait ran out."""
    return record.status == "ignored" and record.reasons == [STILL_WRITING]
