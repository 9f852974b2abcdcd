"""Shared data types passed between the pipeline's steps.

Each step writes these as JSON files under the quarter's output folder; XCom only
carries their paths and small summaries. Field names are part of the manifest
contract documented in docs/manifest.md: add fields, do not rename them.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning"]
# Status of one file in the quarter's inbox folder.
FileStatus = Literal["accepted", "rejected", "superseded", "ignored", "pending", "held"]
# Status of one expected unit in the quarter.
UnitStatus = Literal["submitted", "missing", "rejected"]
# Canonical fields of the notice's form, in column order.
FORM_FIELDS = ("seq", "task_name", "units", "progress", "deadline")
FORM_HEADERS_ZH = {
    "seq": "序号",
    "task_name": "实事名称",
    "units": "责任单位",
    "progress": "本季度具体措施及任务进度情况",
    "deadline": "完成时限",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Finding(_Model):
    """One problem found in a unit's file, written for the unit to act on."""

    code: str                      # stable machine code, e.g. "progress.empty"
    severity: Severity
    message: str                   # Chinese, says what is wrong and how to fix it
    cell: str | None = None        # A1-style reference, e.g. "D7"
    sheet: str | None = None
    field: str | None = None       # one of FORM_FIELDS or "indicator:<key>"

    def as_text(self) -> str:
        where = ""
        if self.sheet and self.cell:
            where = f"工作表「{self.sheet}」{self.cell}："
        elif self.cell:
            where = f"{self.cell}："
        elif self.sheet:
            where = f"工作表「{self.sheet}」："
        return where + self.message


class ProgressRow(_Model):
    """One row of the form as the unit filled it, with each value's cell."""

    seq: int | None
    task_name: str = ""
    units: str = ""
    progress: str = ""
    deadline: str = ""
    sheet: str
    row: int                       # 1-based spreadsheet row
    cells: dict[str, str] = {}     # field -> "D7"


class IndicatorValue(_Model):
    """A numeric indicator as the unit reported it (cumulative for the year)."""

    key: str | None                # programme indicator key, None if unrecognised
    name: str                      # as written by the unit
    raw: str                       # the cell's text, untouched
    value: float | None            # parsed number, None if not parseable
    sheet: str
    cell: str


class ParsedReport(_Model):
    """What was read from one workbook: the located form and indicators."""

    sheet: str | None = None       # the sheet the form was taken from
    sheet_note: str | None = None  # why that sheet was chosen (Chinese), if there were several
    unit_line: str | None = None   # text after "单位：" on the form, if any
    header_row: int | None = None
    rows: list[ProgressRow] = []
    indicators: list[IndicatorValue] = []
    findings: list[Finding] = []   # structural problems found while locating
    names_quarter: bool | None = None  # the form's sheet name or title names the quarter read
                                       # (None: read without a quarter)


class FileRecord(_Model):
    """One file of the quarter's inbox folder, as the manifest lists it."""

    path: str                      # relative to the quarter's inbox folder; an archive's member:
                                   # "<archive path>!<member name>" (docs/manifest.md)
    size: int
    mtime: float
    sha256: str | None = None
    archived_as: str | None = None # relative to the output root
    kind: Literal["spreadsheet", "stamped_copy", "lock", "hidden", "temporary", "other", "empty",
                  "archive"] = "spreadsheet"
    format: str | None = None      # detected from bytes: xlsx, xlsm, xls, ods, ...
    unit: str | None = None        # unit key, once identified
    unit_source: str | None = None # evidence used: folder, sender, unit_line (joined by "+"), units_column,
                                   # file_name (docs/identity.md)
    status: FileStatus = "pending"
    reasons: list[str] = []        # Chinese, one sentence each
    findings: list[Finding] = []
    superseded_by: str | None = None
    feedback: str | None = None    # feedback file, relative to the output root


class UnitResult(_Model):
    """Outcome of one unit's ingest for a quarter (units/<key>.json)."""

    quarter: str
    unit: str                      # unit key
    unit_name: str
    status: UnitStatus
    files: list[FileRecord] = []
    accepted_sha256: str | None = None
    rows: list[ProgressRow] = []
    indicators: list[IndicatorValue] = []
    warnings: list[Finding] = []
    feedback: str | None = None
    data_docs: str | None = None   # validation result page, relative to the output root
    accepted_path: str | None = None       # inbox path of the file whose words are in the report
    accepted_mtime: float | None = None    # when that file was received
    first_accepted_mtime: float | None = None  # the first version that passed (lateness is judged on it)
    rejected_corrections: list[str] = []   # inbox paths of newer files that failed; the accepted one stays
    stamped_copy: StampedCopy | None = None  # the unit's newest readable scan (盖章件), compared when data passed


class ManifestUnit(_Model):
    """One expected unit of the quarter, as the manifest lists it."""

    unit: str                      # unit key
    unit_name: str
    status: UnitStatus
    late: bool = False             # accepted file arrived after the quarter's deadline
    files: list[str] = []          # inbox paths attributed to this unit
    accepted_file: str | None = None
    accepted_sha256: str | None = None
    received_at: str | None = None # ISO time of the accepted file (its mtime)
    warnings: list[str] = []       # Chinese, from accepted files
    reasons: list[str] = []        # Chinese, why rejected
    feedback: str | None = None    # relative to the output root
    data_docs: str | None = None   # validation result page of the unit, relative to the output root
    tasks: dict[int, str] = {}     # seq -> accepted / warning / rejected / missing
    notes: list[str] = []          # Chinese, e.g. a failed correction while the accepted version stays
    rejected_corrections: list[str] = []   # inbox paths of newer files that failed validation
    stamped_copy: StampedCopySummary | None = None  # the unit's stamped copy (盖章件), None when none came


class Manifest(_Model):
    """<output>/<quarter>/manifest.json: every file seen, every unit expected."""

    schema_version: int = 1
    quarter: str
    programme_year: int
    generated_at: str              # ISO timestamp
    inbox: str                     # the quarter's inbox folder
    files: list[FileRecord] = []
    units: list[ManifestUnit] = []
    report: str | None = None      # consolidated workbook, relative to the output root
    data_docs: str | None = None   # Data Docs index, relative to the output root


ScanFormat = Literal["pdf", "jpeg", "png", "ofd"]
TextSource = Literal["text_layer", "ocr"]


class OcrWord(_Model):
    """One word Tesseract read, with how sure it was (0-100; -1 when it gave none)."""

    text: str
    confidence: float


class StampedCopy(_Model):
    """The scan of the printed, stamped form (盖章件) a unit sent beside its workbook.

    ``seal`` is True when a red official seal is visible, False when the (colour)
    pages show none, None when the pages cannot be judged (greyscale scan, unreadable
    file). ``agreement`` (0-1) says how much of the unit's accepted progress text the
    copy's text contains; None until compared. Reasons and findings are Chinese.
    """

    path: str                      # as the caller named it (inbox-relative in the pipeline)
    format: ScanFormat | None = None
    readable: bool = False         # pages could be looked at
    pages: int | None = None       # pages in the file
    pages_read: int = 0            # pages rasterised and looked at
    dpi: int | None = None         # resolution the pages were looked at
    text_source: TextSource | None = None
    unit_line: str | None = None   # text after 「单位：」 on the copy, for identity matching
    unit_line_words: list[OcrWord] = []  # OCR: the line's words with Tesseract's confidence;
                                   # empty when read from a text layer or found only in the text
    unit_confirmed: bool | None = None  # positive evidence it is this unit's copy (False: 无法确认);
                                   # None until paired with a unit
    text: str = ""                 # the copy's body text (text layer or OCR), whitespace squeezed
    seal: bool | None = None
    seal_pages: list[int] = []     # 1-based pages a seal was seen on
    agreement: float | None = None
    ocr_seconds: float | None = None
    reasons: list[str] = []        # Chinese, one sentence each
    findings: list[Finding] = []


class StampedCopySummary(_Model):
    """A stamped copy as the manifest lists it: the verdicts, without the copy's text."""

    path: str                      # inbox-relative
    format: ScanFormat | None = None
    readable: bool = False
    pages: int | None = None
    seal: bool | None = None       # True seal seen, False none on colour pages, None cannot tell
    seal_pages: list[int] = []
    agreement: float | None = None # 0-1 against the accepted workbook; None when not compared
    text_source: TextSource | None = None
    unit_line: str | None = None
    unit_confirmed: bool | None = None  # False: nothing positive says it is this unit's (无法确认)
    reasons: list[str] = []        # Chinese

    @classmethod
    def of(cls, copy: StampedCopy) -> StampedCopySummary:
        return cls.model_validate(copy.model_dump(include=set(cls.model_fields)))
