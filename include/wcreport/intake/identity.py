"""Which unit sent a file: explicit evidence first, weak evidence only where there is none.

Explicit evidence is the unit's own sub-folder (any folder on the file's path under the
quarter's inbox), the sender's address (mailbox intake) and the 「单位：」 line. When explicit
evidence names something that is not exactly one programme unit (an outside organisation,
several units, two sources that disagree) the file is refused with a Chinese reason that
quotes what it says; weak evidence (the 责任单位 column, the file name) is used only where no
explicit evidence exists. The rules, as a table, are in docs/identity.md.

Names are matched against the programme's unit names and aliases, and the everyday names
offices derive from them (教体局, 卫健委, 妇联: ``intake.unit_names``; one several units
share names none of them and is refused with the candidates): exactly, then by
containment (the longest alias found in the text), then fuzzily (difflib ratio above
FUZZY_THRESHOLD with a clear margin). Folder names are matched strictly (exact or
containment only): a folder named after no unit is no evidence.

A file name is matched without its noise: generic words (year, quarter, 报表, 最终版 ...)
and any run of two or more characters taken from the programme's notice or report
title, except where that run is part of a unit's name or alias.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from wcreport.core.findings_catalogue import message, part
from wcreport.core.model import ParsedReport
from wcreport.intake.cells import squeeze
from wcreport.intake.unit_names import UnitNames, derive_unit_names

FUZZY_THRESHOLD = 0.8
FUZZY_MARGIN = 0.08
CANDIDATE_THRESHOLD = 0.5
_NOISE_RE = re.compile(r"[(（]?(?:加盖)?(?:公章|盖章|签章)[)）]?|[\s\-_—·.,，、:：;；()（）\[\]【】《》\"“”'‘’]+")
_FILE_NOISE_RE = re.compile(
    r"\d{4}年?|第?[一二三四1-4１-４]季度|[Qq][1-4]|报表|进展情况|进度|工作|"
    r"情况|报送|上报|最终版|终版|修改版?|定稿|副本|copy|final|v\d+|\(\d+\)|（\d+）")
_SPLIT_RE = re.compile(r"[\n、,，;；/／|]+|\s{2,}")


@dataclass
class Identity:
    unit: str | None
    source: str | None            # folder, sender, unit_line (joined by "+" when several agree),
                                  # units_column, file_name
    candidates: list[str] = field(default_factory=list)   # unit keys
    reason: str | None = None     # Chinese, set whenever unit is None


@dataclass
class _Match:
    unit: str | None
    candidates: list[str]


def _clean(text: str) -> str:
    return _NOISE_RE.sub("", squeeze(text))


_alias_cache: tuple[object, dict[str, str], UnitNames] | None = None


def _names(programme) -> tuple[dict[str, str], UnitNames]:
    """Cleaned name/alias/everyday name -> unit key, and the everyday names several units share.
    Built once per (frozen) programme object: an inbox scan matches every file against it, and
    rebuilding it per file is O(units) each time."""
    global _alias_cache
    if _alias_cache is not None and _alias_cache[0] is programme:
        return _alias_cache[1], _alias_cache[2]
    table: dict[str, str] = {}
    for unit in programme.units:
        for alias in [unit.name, *unit.aliases]:
            table.setdefault(_clean(alias), unit.key)
    everyday = derive_unit_names(programme.units, table, _clean)
    table.update(everyday.unique)
    _alias_cache = (programme, table, everyday)
    return table, everyday


def clean_name(text: str) -> str:
    """``text`` as names are compared: squeezed, without 盖章 marks, spaces and punctuation."""
    return _clean(text)


def known_names(programme) -> list[str]:
    """Every cleaned name, alias and everyday name (also those several units share)."""
    return [*_aliases(programme), *_shared(programme)]


def _aliases(programme) -> dict[str, str]:
    """Cleaned name, alias or everyday name (教体局, 卫健委 …, ``intake.unit_names``) -> unit key."""
    return _names(programme)[0]


def _shared(programme) -> dict[str, tuple[str, ...]]:
    """Everyday names several units share -> their keys (such a name alone names no unit)."""
    return _names(programme)[1].ambiguous


def _inside(cleaned: str, programme) -> list[str]:
    """Keys of the units whose names are found in the text; a name inside a longer name also
    found in the text does not count on its own."""
    table, shared = _aliases(programme), _shared(programme)
    inside = [a for a in [*table, *shared] if len(a) >= 2 and a in cleaned]
    inside = [a for a in inside if not any(a != b and a in b for b in inside)]
    ordered = sorted(inside, key=lambda a: (-len(a), a))
    return _unique(k for a in ordered for k in ((table[a],) if a in table else shared[a]))


def match_unit(text: str, programme) -> _Match:
    """Match one piece of text to a unit key."""
    cleaned = _clean(text)
    if not cleaned:
        return _Match(None, [])
    table = _aliases(programme)
    if cleaned in table:
        return _Match(table[cleaned], [table[cleaned]])
    if cleaned in _shared(programme):
        return _Match(None, list(_shared(programme)[cleaned]))
    if cleaned in programme.units_by_key:
        return _Match(cleaned, [cleaned])
    # Containment: the text holds aliases (a unit name with a place prefix).
    keys = _inside(cleaned, programme)
    if len(keys) == 1:
        return _Match(keys[0], keys)
    if keys:
        return _Match(None, keys)
    # An alias holding the text (an abbreviation of it), if only one unit's does.
    holders = _unique(k for a, k in table.items() if len(cleaned) >= 2 and cleaned in a)
    if len(holders) == 1:
        return _Match(holders[0], holders)
    if len(holders) > 1 or len(cleaned) < 4:
        return _Match(None, holders[:5])
    scores: dict[str, float] = {}
    for alias, key in table.items():
        ratio = difflib.SequenceMatcher(None, cleaned, alias).ratio()
        scores[key] = max(scores.get(key, 0.0), ratio)
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
    best_key, best = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    if best >= FUZZY_THRESHOLD and best - second >= FUZZY_MARGIN:
        return _Match(best_key, [best_key])
    candidates = [k for k, s in ranked if s >= CANDIDATE_THRESHOLD][:3] or holders[:3]
    return _Match(None, candidates)


def _unique(items) -> list[str]:
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def _units_column(parsed: ParsedReport, programme) -> _Match:
    """The one unit every filled row names in its 责任单位 cell, if there is exactly one."""
    area = programme.area_group
    common: set[str] | None = None
    seen_any: list[str] = []
    for row in parsed.rows:
        if not row.units.strip():
            continue
        keys: set[str] = set()
        text = row.units
        if area and squeeze(area.label) in squeeze(text):
            keys.update(area.units)
            text = re.sub(r"\s*".join(map(re.escape, squeeze(area.label))), "\n", text)
        for piece in _SPLIT_RE.split(text):
            match = match_unit(piece, programme)
            if match.unit:
                keys.add(match.unit)
        if not keys:
            continue
        seen_any.extend(k for k in sorted(keys) if k not in seen_any)
        common = keys if common is None else common & keys
    if not common:
        return _Match(None, [])
    if len(common) == 1:
        return _Match(next(iter(common)), list(common))
    return _Match(None, [k for k in seen_any if k in common])


def _file_stem(file_name: str) -> str:
    stem = PurePath(file_name).name
    while "." in stem and len(stem.rsplit(".", 1)[1]) <= 5:
        stem = stem.rsplit(".", 1)[0]
    return stem


def _alias_positions(text: str, programme) -> set[int]:
    """Positions of ``text`` covered by some unit's name or alias."""
    covered: set[int] = set()
    for alias in _aliases(programme):
        start = text.find(alias) if len(alias) >= 2 else -1
        while start >= 0:
            covered.update(range(start, start + len(alias)))
            start = text.find(alias, start + 1)
    return covered


def _strip_title_words(stem: str, programme) -> str:
    """The stem without runs of 2+ characters found in the programme's titles (unit names kept)."""
    text = squeeze(stem)
    titles = (squeeze(programme.notice.title), squeeze(programme.report.title))
    kept = _alias_positions(text, programme)
    out: list[str] = []
    i = 0
    while i < len(text):
        end = i
        while end < len(text) and end not in kept and any(text[i:end + 1] in title for title in titles):
            end += 1
        if end - i >= 2:
            out.append(" ")
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _match_file_name(file_name: str, programme) -> _Match:
    """The unit named in the file name without its noise, else in the whole name."""
    stem = _file_stem(file_name)
    name_part = _FILE_NOISE_RE.sub(" ", _strip_title_words(stem, programme))
    match = match_unit(name_part, programme) if _clean(name_part) else _Match(None, [])
    if match.unit is None and _clean(name_part) != _clean(stem):
        whole = match_unit(stem, programme)
        if whole.unit:
            return whole
    return match


def _unknown(tried: list[str], candidates: list[str], programme) -> str:
    names = [programme.units_by_key[c].name for c in candidates if c in programme.units_by_key]
    if names:
        return message("unit.unknown", cause="candidates", tried="；".join(tried), candidates="、".join(names))
    return message("unit.unknown", tried="；".join(tried))


def _names_of(keys, programme) -> str:
    return "、".join(programme.units_by_key[k].name for k in keys if k in programme.units_by_key)


def closest_units(text: str, programme, n: int = 3) -> list[str]:
    """The ``n`` units whose name or alias reads most like ``text`` (for a refusal's hint)."""
    cleaned = _clean(text)
    scores: dict[str, float] = {}
    for alias, key in _aliases(programme).items():
        scores[key] = max(scores.get(key, 0.0), difflib.SequenceMatcher(None, cleaned, alias).ratio())
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def match_strict(text: str, programme) -> _Match:
    """Exact name/alias or containment only (for folder names): no guessing."""
    cleaned = _clean(text)
    table = _aliases(programme)
    if not cleaned:
        return _Match(None, [])
    if cleaned in table:
        return _Match(table[cleaned], [table[cleaned]])
    keys = _inside(cleaned, programme)
    return _Match(keys[0] if len(keys) == 1 else None, keys)


@dataclass
class _Evidence:
    source: str                   # folder, sender, unit_line
    unit: str | None
    says: str                     # Chinese phrase quoting the evidence
    refusal: str | None = None    # set when this evidence alone refuses the file
    candidates: list[str] = field(default_factory=list)


def _folder_evidence(rel_path: str, programme) -> _Evidence | None:
    found: list[tuple[str, str]] = []
    for folder in PurePath(rel_path).parts[:-1]:
        match = match_strict(folder, programme)
        shared = _shared(programme).get(_clean(folder))
        if shared:
            return _Evidence("folder", None, folder, message(
                "unit.conflict", cause="folder_vague", folder=folder, names=_names_of(shared, programme)),
                list(shared))
        if len(match.candidates) > 1:
            return _Evidence("folder", None, folder, message(
                "unit.conflict", cause="folder_several", folder=folder, names=_names_of(match.candidates, programme)),
                match.candidates)
        if match.unit:
            found.append((folder, match.unit))
    if not found:
        return None
    if len({unit for _, unit in found}) > 1:
        (f1, u1), (f2, u2) = found[0], next(x for x in found if x[1] != found[0][1])
        return _Evidence("folder", None, f1, message(
            "unit.conflict", cause="disagree",
            first=part("unit.conflict", "folder", folder=f1, unit=programme.units_by_key[u1].name),
            second=part("unit.conflict", "folder", folder=f2, unit=programme.units_by_key[u2].name)))
    folder, unit = found[-1]
    return _Evidence("folder", unit, part("unit.conflict", "folder", folder=folder,
                                          unit=programme.units_by_key[unit].name))


def _unit_line_evidence(line: str, programme) -> _Evidence:
    says = part("unit.conflict", "unit_line", text=line)
    match = match_unit(line, programme)
    if match.unit:
        return _Evidence("unit_line", match.unit, says)
    shared = _shared(programme).get(_clean(line))
    if shared:
        return _Evidence("unit_line", None, says, message(
            "unit.conflict", cause="vague", text=line, names=_names_of(shared, programme)), list(shared))
    strict = match_strict(line, programme)
    if len(strict.candidates) > 1:
        return _Evidence("unit_line", None, says, message(
            "unit.conflict", cause="several", text=line, names=_names_of(strict.candidates, programme)),
            strict.candidates)
    if match.candidates and len(_clean(line)) < 4:
        return _Evidence("unit_line", None, says, message(
            "unit.conflict", cause="vague", text=line, names=_names_of(match.candidates, programme)),
            match.candidates)
    closest = match.candidates or closest_units(line, programme)
    return _Evidence("unit_line", None, says, message(
        "unit.conflict", text=line, closest=_names_of(closest, programme)), closest)


def _sender_evidence(sender: str, sender_unit: str, programme) -> _Evidence:
    return _Evidence("sender", sender_unit, part("unit.conflict", "sender", sender=sender,
                                                 unit=programme.units_by_key[sender_unit].name))


def explicit_evidence(parsed: ParsedReport | None, rel_path: str, programme, *,
                      sender: tuple[str, str] | None = None) -> list[_Evidence]:
    """Folder, sender and 「单位：」 line evidence of one file, in that order."""
    found = []
    folder = _folder_evidence(rel_path, programme)
    if folder is not None:
        found.append(folder)
    if sender is not None and sender[1] in programme.units_by_key:
        found.append(_sender_evidence(sender[0], sender[1], programme))
    if parsed is not None and parsed.unit_line:
        found.append(_unit_line_evidence(parsed.unit_line, programme))
    return found


def _decide_explicit(found: list[_Evidence], programme) -> Identity | None:
    """The unit all explicit evidence agrees on; a refusal on any conflict; None without evidence."""
    if not found:
        return None
    refused = next((e for e in found if e.refusal), None)
    if refused is not None:
        return Identity(None, None, refused.candidates, refused.refusal)
    first = found[0]
    other = next((e for e in found if e.unit != first.unit), None)
    if other is not None:
        return Identity(None, None, [first.unit, other.unit],
                        message("unit.conflict", cause="disagree", first=first.says, second=other.says))
    return Identity(first.unit, "+".join(e.source for e in found), [first.unit])


def identify_unit(parsed: ParsedReport | None, file_name: str, programme, *,
                  sender: tuple[str, str] | None = None) -> Identity:
    """Identify the sending unit of the file at ``file_name`` (inbox-relative path).

    ``sender`` is (address, unit key) for a file that came from a known unit's address.
    None with a Chinese reason when the evidence conflicts or names no single unit.
    """
    decided = _decide_explicit(explicit_evidence(parsed, file_name, programme, sender=sender), programme)
    if decided is not None:
        return decided
    tried: list[str] = []
    candidates: list[str] = []
    if parsed is not None and parsed.sheet:
        tried.append(part("unit.unknown", "no_unit_line"))
    if parsed is not None and parsed.rows:
        match = _units_column(parsed, programme)
        if match.unit:
            return Identity(match.unit, "units_column", [match.unit])
        candidates += [c for c in match.candidates if c not in candidates]
        tried.append(part("unit.unknown", "units_column"))
    match = _match_file_name(file_name, programme)
    if match.unit:
        return Identity(match.unit, "file_name", [match.unit])
    candidates += [c for c in match.candidates if c not in candidates]
    tried.append(part("unit.unknown", "file_name", name=PurePath(file_name).name))
    return Identity(None, None, candidates, _unknown(tried, candidates, programme))
