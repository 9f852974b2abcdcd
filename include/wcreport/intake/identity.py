"""Which unit sent a file: the 单位 line, else the 责任单位 column, else the file name.

Names are matched against the programme's unit names and aliases: exactly, then by
containment (the longest alias found in the text), then fuzzily (difflib ratio above
FUZZY_THRESHOLD with a clear margin). Ambiguous or unknown text gives no unit and
a Chinese reason naming the candidates.

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
    source: str | None            # unit_line, units_column, file_name
    candidates: list[str] = field(default_factory=list)   # unit keys
    reason: str | None = None     # Chinese, set whenever unit is None


@dataclass
class _Match:
    unit: str | None
    candidates: list[str]


def _clean(text: str) -> str:
    return _NOISE_RE.sub("", squeeze(text))


_alias_cache: tuple[object, dict[str, str]] | None = None


def _aliases(programme) -> dict[str, str]:
    """Cleaned name/alias -> unit key. Built once per (frozen) programme object: an inbox
    scan matches every file against it, and rebuilding it per file is O(units) each time."""
    global _alias_cache
    if _alias_cache is not None and _alias_cache[0] is programme:
        return _alias_cache[1]
    table: dict[str, str] = {}
    for unit in programme.units:
        for alias in [unit.name, *unit.aliases]:
            table.setdefault(_clean(alias), unit.key)
    _alias_cache = (programme, table)
    return table


def match_unit(text: str, programme) -> _Match:
    """Match one piece of text to a unit key."""
    cleaned = _clean(text)
    if not cleaned:
        return _Match(None, [])
    table = _aliases(programme)
    if cleaned in table:
        return _Match(table[cleaned], [table[cleaned]])
    if cleaned in programme.units_by_key:
        return _Match(cleaned, [cleaned])
    # Containment: the text holds aliases (a unit name with a place prefix); an alias
    # inside a longer alias also found in the text does not count on its own.
    inside = [a for a in table if len(a) >= 2 and a in cleaned]
    inside = [a for a in inside if not any(a != b and a in b for b in inside)]
    keys = _unique(table[a] for a in sorted(inside, key=lambda a: (-len(a), a)))
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


def identify_unit(parsed: ParsedReport | None, file_name: str, programme) -> Identity:
    """Identify the sending unit; None with a Chinese reason naming candidates when unsure."""
    tried: list[str] = []
    candidates: list[str] = []
    if parsed is not None and parsed.unit_line:
        match = match_unit(parsed.unit_line, programme)
        if match.unit:
            return Identity(match.unit, "unit_line", [match.unit])
        candidates += match.candidates
        tried.append(part("unit.unknown", "unit_line", text=parsed.unit_line))
    elif parsed is not None and parsed.sheet:
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
