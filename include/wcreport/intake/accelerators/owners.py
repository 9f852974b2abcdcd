"""Which unit's files may lie below a folder: what lets a unit's scan skip other units' folders."""
from __future__ import annotations

from wcreport.intake.identity import explicit_evidence

ANY_UNIT = ""       # ``folder_owner``: any unit's files may lie below the folder (not a unit key)


def folder_owner(folder: str, programme) -> str | None:
    """The only unit whose files may lie below ``folder``; None if no unit's may; ``ANY_UNIT``
    if any unit's may. Whatever a file below it holds or is named:

    - a hidden folder (``.x``, ``__MACOSX``): every file below it is ignored as hidden (None);
    - a folder whose path is explicit evidence (docs/identity.md) for one unit: a file below
      it is that unit's or refused, since a deeper folder or a 「单位：」 line naming another
      unit disagrees with it, disagreeing explicit evidence refuses the file, and weak
      evidence (the 责任单位 column, the file name) is never weighed against explicit evidence;
    - a folder whose path refuses every file below it (a folder naming several units,
      folders naming different units): None.
    """
    if any(part.startswith(".") or part == "__MACOSX" for part in folder.split("/")):
        return None
    found = explicit_evidence(None, f"{folder}/-", programme)
    return found[0].unit if found else ANY_UNIT
