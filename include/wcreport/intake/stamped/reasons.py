"""Why a stamped copy could not be read or is in doubt: stable codes, Chinese sentences.

Each sentence says what is wrong and what the unit should do, in the words of the
notice ("加盖公章后报组织人事部群团科"). Findings carry the code ``stamped.<code>``.
These codes are kept here, beside the component, until the pipeline wires the
component in; then they belong in core/findings_catalogue.py with the others.
"""
from __future__ import annotations

from wcreport.core.model import Finding, Severity

RESEND = "请重新扫描盖章后的纸质报表（PDF 或 JPG/PNG 图片）后报送"

MESSAGES: dict[str, str] = {
    "file.missing": "盖章件文件不存在或无法打开，请重新报送。",
    "file.empty": "盖章件文件为空（0 字节），可能保存或传输未完成。" + RESEND + "。",
    "file.too_large": "盖章件文件过大（{size_mb} MB，上限 {limit_mb} MB）。请降低扫描分辨率（200 dpi 即可）或压缩后重新报送。",
    "format.ofd": "盖章件是 OFD 格式，暂不支持读取。请另存为 PDF 后报送。",
    "format.html": "盖章件实际是网页文件（HTML），不是扫描件，可能是下载时保存了网页。" + RESEND + "。",
    "format.zip": "盖章件是压缩包，不是扫描件。请解压后直接报送 PDF 或 JPG/PNG 图片。",
    "format.unknown": "盖章件不是 PDF 或 JPG/PNG 图片，无法查看。" + RESEND + "。",
    "pdf.encrypted": "盖章件 PDF 设置了打开密码（已加密），无法查看。请取消密码后重新导出 PDF 报送。",
    "pdf.broken": "盖章件 PDF 已损坏或不完整（可能传输中断），无法打开。" + RESEND + "。",
    "pdf.too_many_pages": "盖章件 PDF 共 {pages} 页，超过 {limit} 页的上限，不像季度报表的扫描件。请只扫描盖章后的报表页后报送。",
    "page.too_large": "盖章件 PDF 的页面尺寸异常（{width_mm}×{height_mm} 毫米），无法查看。请按 A4 纸扫描后报送。",
    "image.too_large": "盖章件图片尺寸过大（{width}×{height} 像素），无法查看。请按 200 dpi 左右重新扫描或压缩后报送。",
    "image.bomb": "盖章件图片声明的像素尺寸异常巨大（可能已损坏），无法查看。请按 200 dpi 左右重新扫描后报送。",
    "image.broken": "盖章件图片已损坏或不完整（可能传输中断），无法打开。" + RESEND + "。",
    "ocr.timeout": "盖章件识别超时（页数过多或分辨率过高），未能读完。请只扫描报表页、按 200 dpi 左右扫描后重新报送。",
    "tool.missing": "服务器缺少识别盖章件所需的组件（{tool}），已通知管理员处理，无需重新报送。",
    "ocr.failed": "盖章件文字识别失败，无法核对内容。请确认扫描清晰后重新报送。",
    "text.none": "盖章件上未识别出文字，可能扫描过暗、过淡或上传了空白页。请确认扫描清晰后重新报送。",
    "seal.missing": "盖章件上未见红色公章。通知要求报表“加盖公章后”报送，请盖章后重新扫描报送。",
    "seal.unknown": "盖章件为黑白（灰度）扫描，无法确认是否加盖公章，请人工核对；今后请彩色扫描。",
    "content.mismatch": ("盖章件内容与电子版不一致，请核对（一致程度 {percent}%）。"
                         "如报表有修改，请重新盖章扫描后与电子版一并报送。"),
}


def reason_text(code: str, **params: object) -> str:
    """The Chinese sentence for ``code`` with its placeholders filled."""
    return MESSAGES[code].format(**params)


def stamped_finding(code: str, severity: Severity, text: str) -> Finding:
    """A finding about the stamped copy: code ``stamped.<code>``."""
    return Finding(code=f"stamped.{code}", severity=severity, message=text)


class ScanRefused(Exception):
    """A stamped copy that cannot be looked at. ``code`` is stable, ``reason`` Chinese."""

    def __init__(self, code: str, **params: object):
        self.code = code
        self.reason = reason_text(code, **params)
        super().__init__(f"{code}: {self.reason}")
