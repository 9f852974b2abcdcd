"""The stamped copy (盖章件): the scan of the printed, stamped form a unit sends beside its workbook.

``read_stamped_copy(path)`` recognises the file by its bytes (PDF, JPEG, PNG; OFD and
look-alikes get a Chinese reason), reads its text (the PDF's text layer, else OCR),
finds the 「单位：」 line, and decides whether a red official seal is visible.
``compare_with_workbook(copy, progress_texts)`` scores how much of the unit's accepted
progress text the copy contains and warns below the configured threshold. Neither
raises: problems become Chinese reasons and findings on the returned StampedCopy.
"""
from wcreport.intake.stamped.sniff import sniff

# Refusals that are the server's problem (tell ops), not the unit's.
OPS_CODES = {"stamped.tool.missing"}

__all__ = ["OPS_CODES", "agreement", "compare_with_workbook", "detect_seal",
           "read_stamped_copy", "sniff"]

# Imported on first use: the reader pulls in Pillow and rapidfuzz, the seal detector numpy
# and scipy. Most task processes (a unit's ingest without a scan) use none of them.
_LAZY = {
    "read_stamped_copy": "wcreport.intake.stamped.reading",
    "compare_with_workbook": "wcreport.intake.stamped.reading",
    "agreement": "wcreport.intake.stamped.agree",
    "detect_seal": "wcreport.intake.stamped.seal",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
