"""Whether a stamped copy is shown as its unit's: on positive evidence only.

A copy in a unit's folder may be another unit's scan (the seal usually covers the 「单位：」
line, so OCR cannot read it). Its text agreement with the unit's accepted workbook just above
the mismatch threshold does not tell: units' reports share much office phrasing. So a copy
counts as the unit's when its 「单位：」 line was read with confidence naming the unit (the
identity source holds ``unit_line``) or its agreement is clearly above the threshold;
otherwise it is 无法确认 for the clerk to check by eye. The seal detector does not read the
ring's text, so the seal is no evidence of whose copy it is.
"""
from __future__ import annotations

from wcreport.core.findings_catalogue import finding
from wcreport.core.model import StampedCopy

# Agreement this far above REPORT_STAMPED_AGREEMENT_MIN is the unit's own text: measured
# own-versus-other separation of the generated scans is wider (docs/stamped-copies.md), while
# another unit's report can reach just above the threshold on shared phrasing.
AGREEMENT_MARGIN = 0.10


def confirm_unit(copy: StampedCopy, unit_source: str | None, agreement_min: float) -> StampedCopy:
    """``copy`` with ``unit_confirmed`` set, and a warning when nothing confirms it."""
    named = "unit_line" in (unit_source or "").split("+")
    agrees = copy.agreement is not None and copy.agreement >= agreement_min + AGREEMENT_MARGIN
    if named or agrees:
        return copy.model_copy(update={"unit_confirmed": True})
    updated = copy.model_copy(deep=True, update={"unit_confirmed": False})
    if copy.readable and (copy.agreement is None or copy.agreement >= agreement_min):   # else 内容不一致 says it
        note = finding("stamped.unit.unconfirmed")
        updated.reasons.append(note.message)
        updated.findings.append(note)
    return updated
