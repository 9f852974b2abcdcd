"""The stamped copy (盖章件): the scan of the printed, stamped form a unit sends beside its workbook.

``read_stamped_copy(path)`` recognises the file by its bytes (PDF, JPEG, PNG; OFD and
look-alikes get a Chinese reason), reads its text (the PDF's text layer, else OCR),
finds the 「单位：」 line, and decides whether a red official seal is visible.
``compare_with_workbook(copy, progress_texts)`` scores how much of the unit's accepted
progress text the copy contains and warns below the configured threshold. Neither
raises: problems become Chinese reasons and findings on the returned StampedCopy.
"""
from wcreport.intake.stamped.agree import agreement
from wcreport.intake.stamped.reading import OPS_CODES, compare_with_workbook, read_stamped_copy
from wcreport.intake.stamped.sniff import sniff

SCAN_FORMATS = ("pdf", "jpeg", "png", "ofd")

__all__ = ["OPS_CODES", "SCAN_FORMATS", "agreement", "compare_with_workbook", "read_stamped_copy", "sniff"]


def __getattr__(name: str):
    """``detect_seal`` on first use: it imports numpy and scipy, which a task that reads no
    scan (most of them) should not pay for."""
    if name == "detect_seal":
        from wcreport.intake.stamped.seal import detect_seal

        return detect_seal
    raise AttributeError(name)
