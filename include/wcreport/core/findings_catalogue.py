"""Every finding code raised in Python, with its severity, title and Chinese message.

Modelled on frictionless-py's error types: each entry is a stable code, a short
English title (what the rule checks), and a ``str.format`` message template with
named placeholders. A code raised for several distinct causes keeps one code and
one template per cause (``causes``); ``parts`` are phrases a message is composed of.
Codes raised by the Great Expectations suites live in their JSON files, not here.

Findings and unreadable-file reasons are built with ``finding``/``message``; an
uncatalogued code raises ``UnknownFindingCode`` instead of reaching a unit.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from wcreport.core.model import FORM_FIELDS, FORM_HEADERS_ZH, Finding, Severity

_RESUBMIT = "请另存为 .xlsx 后重新报送。"
_TEMPLATE_HINT = "请使用通知附件的报表格式（表头：" + "、".join(FORM_HEADERS_ZH[f] for f in FORM_FIELDS) + "）"
_RESCAN = "请重新扫描盖章后的纸质报表（PDF 或 JPG/PNG 图片）后报送"
_SEND_LOOSE = "请直接发送表格文件（.xlsx）和盖章扫描件，不要压缩或加密。"
_FILL_IN_UNIT = "请在表格第2行「单位：」后填写本单位全称（与通知中的责任单位名称一致）后重新报送。"


class UnknownFindingCode(KeyError):
    """A finding code (or one of its causes or parts) that the catalogue does not list."""


@dataclass(frozen=True)
class FindingType:
    code: str
    severity: Severity
    title: str
    message: str
    field: str | None = None
    causes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    parts: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def template(self, cause: str | None = None) -> str:
        if cause is None:
            return self.message
        if cause not in self.causes:
            raise UnknownFindingCode(f"{self.code}: no cause {cause!r}")
        return self.causes[cause]

    def templates(self) -> list[str]:
        return [self.message, *self.causes.values()]


_TYPES = (
    # Reading the file (wcreport.intake.reader)
    FindingType("file.missing", "error", "the file can still be opened",
                "文件无法访问（可能已被移走或正在被占用），请重新报送。"),
    FindingType("file.empty", "error", "the file is not empty",
                "文件为空（0 字节），可能保存未完成。请重新保存后再报送。"),
    FindingType("file.too_large", "error", "the file is within the size limit",
                "文件大小 {size_mb:.1f} MB，超过上限 {limit_mb} MB。"
                "报表只需填写文字和数字，请删除图片等附件内容，另存为 .xlsx 后重新报送。"),
    FindingType("format.unknown", "error", "the bytes are a spreadsheet (xlsx, xlsm, xlsb, xls, ods)",
                "无法识别该文件的格式（文件内容不是 Excel、WPS 或 ODS 表格）。" + _RESUBMIT,
                causes={"pdf": "该文件是 PDF 文件，不是电子表格。" + _RESUBMIT,
                        "html": "该文件是网页（HTML/XML）格式，只是扩展名为表格。" + _RESUBMIT}),
    FindingType("zip.corrupt", "error", "the zip container is intact",
                "文件已损坏，无法打开（压缩包结构不完整）。" + _RESUBMIT,
                causes={"member": "文件已损坏（部件 {member} 无法解压）。" + _RESUBMIT}),
    FindingType("zip.bomb", "error", "declared sizes, member count and compression ratios within limits",
                "文件解压后约 {size_mb} MB，超过安全上限 {limit_mb} MB（疑似压缩炸弹），已拒收。" + _RESUBMIT,
                causes={"members": "文件内部包含 {count} 个部件，超过安全上限，已拒收。" + _RESUBMIT,
                        "ratio": "文件内部部件 {member} 的压缩比异常（疑似压缩炸弹），已拒收。" + _RESUBMIT}),
    FindingType("encrypted", "error", "the file has no password",
                "文件设置了打开密码或已加密，无法读取。请取消密码保护后另存为 .xlsx 重新报送。"),
    # A .zip a unit sent (wcreport.intake.archives): judged before anything is extracted
    FindingType("archive.corrupt", "error", "the archive opens and its members decompress",
                "压缩包已损坏，无法打开。" + _SEND_LOOSE,
                causes={"member": "压缩包中的文件「{member}」已损坏，无法解压。" + _SEND_LOOSE}),
    FindingType("archive.encrypted", "error", "the archive has no password",
                "压缩包已加密（设置了密码），无法打开。" + _SEND_LOOSE),
    FindingType("archive.too_many_members", "error", "the archive holds at most the member limit",
                "压缩包中有 {count} 个文件，超过上限 {limit} 个，未解压。" + _SEND_LOOSE),
    FindingType("archive.too_large", "error", "declared member sizes, total size and compression ratios within limits",
                "压缩包解压后共约 {size_mb} MB，超过安全上限 {limit_mb} MB，未解压。" + _SEND_LOOSE,
                causes={"member": "压缩包中的文件「{member}」解压后约 {size_mb} MB，超过单个文件上限 {limit_mb} MB，"
                                  "未解压。" + _SEND_LOOSE,
                        "ratio": "压缩包中的文件「{member}」压缩比异常（约 {ratio}:1，疑似压缩炸弹），未解压。"
                                 + _SEND_LOOSE}),
    FindingType("archive.unsafe_name", "error", "no member name leaves the archive (../, absolute paths)",
                "压缩包中的文件名「{member}」含有上级目录（..）或绝对路径，整个压缩包未解压。" + _SEND_LOOSE),
    FindingType("archive.nested", "warning", "archives are opened one level deep",
                "压缩包中的「{member}」仍是压缩包，只打开一层，其中的文件未处理。" + _SEND_LOOSE),
    FindingType("archive.unsupported", "error", "the archive is a format intake opens (.zip, .7z)",
                "压缩包格式无法自动解压。请改用 .zip 压缩，或直接发送表格文件（.xlsx）和盖章扫描件。",
                causes={"rar": "RAR 压缩包（.rar）无法自动解压。请改用 .zip 压缩后重新报送，"
                               "或直接发送表格文件（.xlsx）和盖章扫描件。"}),
    FindingType("xml.dtd", "error", "no XML member declares a DTD or entities",
                "文件内部 XML 含有 DTD/实体声明（疑似 XML 炸弹），已拒收。" + _RESUBMIT),
    FindingType("file.corrupt", "error", "the spreadsheet parser reads every sheet",
                "文件已损坏或格式不受支持，无法读取。" + _RESUBMIT,
                causes={"sheet": "工作表「{sheet}」已损坏，无法读取。" + _RESUBMIT,
                        "unexpected": "文件内容异常，无法读取。" + _RESUBMIT}),
    # Any reader's parse, run in a child process within a budget (wcreport.intake.bounded)
    FindingType("file.parse_timeout", "error", "the file is parsed within REPORT_PARSE_TIMEOUT_SECONDS",
                "文件解析超时：{seconds:g} 秒内未能读完（文件结构异常复杂或已损坏），已停止读取。"
                "请在 Excel/WPS 中打开后另存为新的 .xlsx 文件重新报送。"),
    FindingType("file.too_complex", "error", "the file is parsed within REPORT_PARSE_MEMORY_BYTES",
                "文件过于复杂：读取它所需的内存超过 {limit_mb} MB 的安全上限，已停止读取。"
                "请在 Excel/WPS 中打开后另存为新的 .xlsx 文件（只保留报表内容）重新报送。"),
    FindingType("file.parse_crashed", "error", "the file's parser ends normally",
                "读取文件时解析程序异常中止（文件可能已损坏或结构异常），无法读取。"
                "请在 Excel/WPS 中打开后另存为新的 .xlsx 文件重新报送。"),
    FindingType("workbook.empty", "error", "the workbook has a worksheet",
                "文件中没有工作表。请使用通知附件的报表格式填写后重新报送。"),
    # A Word table (wcreport.intake.docx_reader) and a CSV (wcreport.intake.csv_reader)
    FindingType("file.docx_corrupt", "error", "the .docx opens as a Word document",
                "Word 文件已损坏，无法打开。请在 Word/WPS 中打开并重新保存为 .docx（或将报表另存为 .xlsx）后重新报送。"),
    FindingType("file.docx_no_table", "error", "the Word document holds a table",
                "Word 文件中没有表格，无法读取报表。" + _TEMPLATE_HINT
                + "，在 Word/WPS 的表格中填写，或另存为 .xlsx 后重新报送。"),
    # A legacy Word/WPS file (wcreport.intake.doc_reader), converted by LibreOffice Writer
    FindingType("file.doc_corrupt", "error", "the .doc/.wps opens as a Word document and converts in time",
                "Word/WPS 文件（.doc/.wps）已损坏或不是 Word 文档，无法打开。"
                "请在 Word/WPS 中打开，另存为 .docx（或把报表填入 .xlsx）后重新报送。",
                causes={"timeout": "Word/WPS 文件（.doc/.wps）在 {seconds} 秒内未能打开（文件可能已损坏或内容过多）。"
                                   "请在 Word/WPS 中打开，另存为 .docx（或把报表填入 .xlsx）后重新报送。"}),
    FindingType("file.csv_encoding", "error", "the CSV decodes as UTF-8, GBK/GB18030 or UTF-16 text",
                "无法识别 CSV 文件的编码（文件内容不是可读的文本）。请另存为 .xlsx 或 UTF-8 编码的 CSV 后重新报送。"),
    FindingType("file.csv_corrupt", "error", "the CSV's quoting and fields are well formed",
                "CSV 文件第 {line} 行格式有误（引号不配对或单元格内容过长），无法读取。"
                "请另存为 .xlsx 或 UTF-8 编码的 CSV 后重新报送。"),
    # Locating the form (wcreport.intake.locate)
    FindingType("table.no_header", "error", "some sheet has the form's header row",
                "在工作表{sheets}中都未找到报表表头行。" + _TEMPLATE_HINT + "，不要删除或改写表头。"),
    FindingType("table.missing_column", "error", "the header has the progress column",
                "第 {row} 行表头中缺少「{column}」列。" + _TEMPLATE_HINT + "。", field="progress"),
    FindingType("table.missing_optional_column", "warning", "the header has every other column of the form",
                "第 {row} 行表头中缺少「{column}」列。" + _TEMPLATE_HINT + "。"),
    FindingType("table.no_rows", "error", "the header is followed by task rows",
                "表头（第 {row} 行）下没有任何实事行。请按通知附件逐项填写本单位负责的实事后重新报送。"),
    FindingType("table.too_many_rows", "error", "no sheet the report reads has content beyond the row limit",
                "工作表第 {limit} 行以后还有内容（最后一处在第 {last} 行），超出报表的行数上限，这些行没有读取。"
                "请删除多余的行，把本单位负责的实事逐项填在表格前部后重新报送。"),
    FindingType("table.seq_mismatch", "warning", "序号 agrees with the task name (the name wins)",
                "序号 {written} 与实事名称「{task_name}」（通知中为第 {seq} 项）不一致，已按实事名称对应。",
                field="seq"),
    # Choosing the sheet and the quarter (wcreport.intake.sheets, wcreport.intake.quarter_names)
    FindingType("table.other_quarter", "error", "the file is not another quarter's report",
                "该文件{where}为{other}，不是本季度（{quarter}）的报表，未读取。"
                "请使用本季度模板重新填报后报送。"),
    FindingType("table.whole_year_sheet", "warning", "a sheet names this quarter (a whole-year sheet is a fallback)",
                "工作簿中没有标明本季度（{quarter}）的工作表，已采用全年工作表「{sheet}」的内容。"
                "如该表不是本季度的进展，请使用本季度模板重新填报后报送。"),
    FindingType("table.hidden_only", "error", "a visible sheet has the form's header row",
                "只有隐藏的工作表{sheets}含有报表表头，隐藏的工作表不会被读取。"
                "请取消隐藏，或把报表填在可见的工作表中后重新报送。"),
    FindingType("table.column_not_read", "warning", "every column with text in the form's rows is read",
                "第{column}列（{header}）有内容未被读取：{cells}。本季度进展请填在「本季度具体措施及任务进度情况」列中；"
                "如该列内容需要报送，请移入该列后重新报送。"),
    # Reading indicator numbers as the self-check echoes them (wcreport.validate.selfcheck)
    FindingType("indicator.ambiguous_comma", "error", "a comma in an indicator value separates thousands",
                "指标「{name}」填写的「{raw}」中的逗号使数字含义不明确（{meaning}），请去掉逗号，直接写出数字。",
                field="indicator",
                parts={"decimal_or_whole": "是 {decimal} 还是 {whole}？", "one_or_several": "是一个数还是几个数？"}),
    FindingType("indicator.loose_number", "warning", "an indicator value is a number without other words",
                "指标「{name}」填写的「{raw}」除数字外还有「{extra}」，已按 {value} 计；如不对，请只填写数字。",
                field="indicator",
                causes={"approximate": "指标「{name}」填写的「{raw}」是约数（「{extra}」），已按 {value} 计；"
                                       "请填写确切的本年累计完成值。",
                        "several": "指标「{name}」填写的「{raw}」含有不止一个数字（「{extra}」），已按第一个数 {value} 计；"
                                   "请只填写本年累计完成值这一个数字。"},
                parts={"read": "{where}「{raw}」按 {value} 计", "unread": "{where}「{raw}」未能读成一个数字，未计入"}),
    # Identifying the unit (wcreport.intake.identity)
    FindingType("unit.unknown", "error", "the 单位 line, 责任单位 column or file name names one unit",
                "无法确定报送单位：{tried}，与通知中的责任单位都对应不上。" + _FILL_IN_UNIT,
                causes={"candidates": "无法确定报送单位：{tried}，可能是{candidates}中的一个。" + _FILL_IN_UNIT},
                parts={"unit_line": "「单位：」行写的是「{text}」", "no_unit_line": "「单位：」行未填写",
                       "units_column": "「责任单位」列不能确定唯一单位", "file_name": "文件名「{name}」"}),
    FindingType("unit.conflict", "error", "explicit evidence (unit folder, 单位 line, sender) names exactly one unit",
                "「单位：」行写的是「{text}」，不是本次实事的责任单位，报表不能计入任何单位。"
                "最接近的责任单位：{closest}。如本表确为其中某单位的报表，请在「单位：」后填写该单位全称后重新报送。",
                causes={
                    "several": "「单位：」行写的是「{text}」，同时写了{names}多个单位。每份报表只能报送一个单位的进展，"
                               "请每个单位各填一份，在「单位：」后填写本单位全称后分别报送。",
                    "vague": "「单位：」行写的是「{text}」，无法确定是哪一个责任单位，可能是{names}中的一个。" + _FILL_IN_UNIT,
                    "folder_several": "文件放在文件夹「{folder}」中，该文件夹名同时对应{names}多个单位。"
                                      "请将报表放入本单位自己的文件夹后重新报送。",
                    "folder_vague": "文件放在文件夹「{folder}」中，无法确定该简称指哪一个责任单位，可能是{names}中的一个。"
                                    "请将报表放入以本单位全称命名的文件夹后重新报送。",
                    "disagree": "{first}，但{second}，两者不是同一个单位，无法确定这份报表属于哪个单位。"
                                "请核对后将报表放入本单位的文件夹、在「单位：」后填写本单位全称后重新报送。",
                },
                parts={"folder": "文件放在文件夹「{folder}」（{unit}）中", "unit_line": "「单位：」行写的是「{text}」",
                       "sender": "发件邮箱 {sender} 登记为{unit}"}),
    # Processing (wcreport.intake.scan, wcreport.flow.ingest_unit, wcreport.validate.feedback)
    FindingType("file.internal_error", "error", "the pipeline processes the file without an internal error",
                "处理该文件时发生内部错误，请另存为 .xlsx 后重新报送，或联系{organiser}。"),
    FindingType("file.rejected", "error", "a rejection reason recorded without a finding of its own",
                "{reason}"),
    FindingType("findings.truncated", "warning", "at most the first problems of a file are listed",
                "另有 {count} 处问题未列出（共 {total} 处）。请按以上问题检查整张表格，修改后重新报送。"),
    # The stamped copy, 盖章件 (wcreport.intake.stamped). An error found after some pages were
    # read is reported as a warning (what was read stays); stamped.tool.missing is the server's.
    FindingType("stamped.file.missing", "error", "the stamped copy can be opened",
                "盖章件文件不存在或无法打开，请重新报送。"),
    FindingType("stamped.file.empty", "error", "the stamped copy is not empty",
                "盖章件文件为空（0 字节），可能保存或传输未完成。" + _RESCAN + "。"),
    FindingType("stamped.file.too_large", "error", "the stamped copy is within the size limit",
                "盖章件文件过大（{size_mb} MB，上限 {limit_mb} MB）。请降低扫描分辨率（200 dpi 即可）或压缩后重新报送。"),
    FindingType("stamped.format.ofd", "error", "the stamped copy is not OFD (not read yet)",
                "盖章件是 OFD 格式，暂不支持读取。请另存为 PDF 后报送。"),
    FindingType("stamped.format.html", "error", "the stamped copy is not a saved web page",
                "盖章件实际是网页文件（HTML），不是扫描件，可能是下载时保存了网页。" + _RESCAN + "。"),
    FindingType("stamped.format.zip", "error", "the stamped copy is not an archive",
                "盖章件是压缩包，不是扫描件。请解压后直接报送 PDF 或 JPG/PNG 图片。"),
    FindingType("stamped.format.unknown", "error", "the stamped copy's bytes are a PDF, JPEG or PNG",
                "盖章件不是 PDF 或 JPG/PNG 图片，无法查看。" + _RESCAN + "。"),
    FindingType("stamped.pdf.encrypted", "error", "the stamped copy's PDF has no password",
                "盖章件 PDF 设置了打开密码（已加密），无法查看。请取消密码后重新导出 PDF 报送。"),
    FindingType("stamped.pdf.broken", "error", "the stamped copy's PDF opens and renders",
                "盖章件 PDF 已损坏或不完整（可能传输中断），无法打开。" + _RESCAN + "。"),
    FindingType("stamped.pdf.parse_timeout", "error", "the stamped copy's PDF is parsed within REPORT_PARSE_TIMEOUT_SECONDS",
                "盖章件 PDF 解析超时：{seconds:g} 秒内未能读完其页面结构（文件结构异常复杂或已损坏）。" + _RESCAN + "。"),
    FindingType("stamped.pdf.too_complex", "error", "the stamped copy's PDF is parsed within REPORT_PARSE_MEMORY_BYTES",
                "盖章件 PDF 过于复杂：读取它所需的内存超过 {limit_mb} MB 的安全上限，无法查看。" + _RESCAN + "。"),
    FindingType("stamped.pdf.too_many_pages", "error", "the stamped copy has at most REPORT_SCAN_MAX_PAGES pages",
                "盖章件 PDF 共 {pages} 页，超过 {limit} 页的上限，不像季度报表的扫描件。请只扫描盖章后的报表页后报送。"),
    FindingType("stamped.page.too_large", "error", "the stamped copy's pages are of paper size",
                "盖章件 PDF 的页面尺寸异常（{width_mm}×{height_mm} 毫米），无法查看。请按 A4 纸扫描后报送。"),
    FindingType("stamped.image.too_large", "error", "the stamped copy's image is of scan size",
                "盖章件图片尺寸过大（{width}×{height} 像素），无法查看。请按 200 dpi 左右重新扫描或压缩后报送。"),
    FindingType("stamped.image.bomb", "error", "the stamped copy's image declares a plausible size",
                "盖章件图片声明的像素尺寸异常巨大（可能已损坏），无法查看。请按 200 dpi 左右重新扫描后报送。"),
    FindingType("stamped.image.broken", "error", "the stamped copy's image decodes",
                "盖章件图片已损坏或不完整（可能传输中断），无法打开。" + _RESCAN + "。"),
    FindingType("stamped.ocr.timeout", "error", "the stamped copy is read within REPORT_OCR_TIMEOUT_SECONDS",
                "盖章件识别超时（页数过多或分辨率过高），未能读完。请只扫描报表页、按 200 dpi 左右扫描后重新报送。"),
    FindingType("stamped.tool.missing", "warning", "the server has the tools to read stamped copies",
                "服务器缺少识别盖章件所需的组件（{tool}），已通知管理员处理，无需重新报送。"),
    FindingType("stamped.ocr.failed", "error", "the stamped copy's text can be recognised",
                "盖章件文字识别失败，无法核对内容。请确认扫描清晰后重新报送。"),
    FindingType("stamped.text.none", "warning", "the stamped copy shows some text",
                "盖章件上未识别出文字，可能扫描过暗、过淡或上传了空白页。请确认扫描清晰后重新报送。"),
    FindingType("stamped.seal.missing", "warning", "a red official seal is visible on the stamped copy",
                "盖章件上未见红色公章。通知要求报表“加盖公章后”报送，请盖章后重新扫描报送。"),
    FindingType("stamped.seal.unknown", "warning", "the stamped copy is in colour, so the seal can be judged",
                "盖章件为黑白（灰度）扫描，无法确认是否加盖公章，请人工核对；今后请彩色扫描。"),
    FindingType("stamped.content.mismatch", "warning", "the stamped copy's text agrees with the accepted workbook",
                "盖章件内容与电子版不一致，请核对（一致程度 {percent}%）。如报表有修改，请重新盖章扫描后与电子版一并报送。"),
    FindingType("stamped.unit_line.unread", "warning", "the stamped copy's 「单位：」 line is read with confidence",
                "盖章件上「单位：」一行未能清楚识别（识别为「{text}」），未据此判断报送单位。"),
    FindingType("stamped.unit.unconfirmed", "warning", "the stamped copy shows it is this unit's",
                "盖章件无法确认是本单位的：「单位：」一行未能清楚识别，内容与已接收的电子版也不足以确认，请人工核对。"),
)

CATALOGUE: Mapping[str, FindingType] = MappingProxyType({t.code: t for t in _TYPES})


def finding_type(code: str, /) -> FindingType:
    try:
        return CATALOGUE[code]
    except KeyError:
        raise UnknownFindingCode(code) from None


def message(code: str, /, *, cause: str | None = None, **values: object) -> str:
    """The code's Chinese message (for ``cause``), its placeholders filled from ``values``."""
    return finding_type(code).template(cause).format(**values)


def part(code: str, name: str, /, **values: object) -> str:
    """One phrase a message of ``code`` is composed of."""
    parts = finding_type(code).parts
    if name not in parts:
        raise UnknownFindingCode(f"{code}: no part {name!r}")
    return parts[name].format(**values)


def finding(code: str, /, *, cause: str | None = None, sheet: str | None = None, cell: str | None = None,
            field: str | None = None, **values: object) -> Finding:
    """A Finding of a catalogued code; ``sheet``, ``cell`` and ``field`` are also placeholders."""
    spec = finding_type(code)
    field = field or spec.field
    text = spec.template(cause).format(sheet=sheet, cell=cell, field=field, **values)
    return Finding(code=code, severity=spec.severity, message=text, sheet=sheet, cell=cell, field=field)


def finding_with_text(code: str, /, text: str) -> Finding:
    """A Finding of a catalogued code whose message was rendered earlier (an exception's reason)."""
    spec = finding_type(code)
    return Finding(code=code, severity=spec.severity, message=text, field=spec.field)
