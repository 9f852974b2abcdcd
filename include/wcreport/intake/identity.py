"""Which unit sent a file: the 单位 line, else the 责任单位 column, else the file name.

Names are matched against the programme's unit names and aliases: exactly, then by
containment (the longest alias found in the text), then fuzzily (difflib ratio above
FUZZY_THRESHOLD with a clear margin). Ambiguous or unknown text gives no unit and
a Chinese reason naming the candidates.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from wcreport.core.model import ParsedReport
from wcreport.intake.cells import squeeze

FUZZY_THRESHOLD = 0.8
FUZZY_MARGIN = 0.08
CANDIDATE_THRESHOLD = 0.5
_NOISE_RE = re.compile(r"[(（]?(?:加盖)?(?:公章|盖章|签章)[)）]?|[\s\-_—·.,，、:：;；()（）\[\]【】《》\"“”'‘’]+")
_FILE_NOISE_RE = re.compile(
    r"\d{4}年?|第?[一二三四1-4１-４]季度|[Qq][1-4]|报表|进展情况|进度|工作|为高新区妇女儿童办实事|妇女儿童|办实事|"
    r"情况|报送|上报|最终版|终版|修改版?|定稿|副本|copy|final|v\d+|\(\d+\)|（\d+）")
_SPLIT_RE = re.compile(r"[\n、,，;；/／|]+|\s{2,}")


@dataclass
class Identity:
    unit: str | None
    source: str | None            # unit_line, units_column, file_name
    candidates: list[str] = field(default_factory=list)   # unit keys
    reason: str | None = None     # Chinese, when unit is None


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
    # Containment: the text holds aliases ("淄博高新区教体中心"); an alias inside a longer
    # one found too ("检察院" in "高新区检察院") does not count on its own.
    inside = [a for a in table if len(a) >= 2 and a in cleaned]
    inside = [a for a in inside if not any(a != b and a in b for b in inside)]
    keys = _unique(table[a] for a in sorted(inside, key=lambda a: (-len(a), a)))
    if len(keys) == 1:
        return _Match(keys[0], keys)
    if keys:
        return _Match(None, keys)
    # An alias holding the text ("教体" in "教体中心"), if only one unit's does.
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
        for part in _SPLIT_RE.split(text):
            match = match_unit(part, programme)
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


def identify_unit(parsed: ParsedReport | None, file_name: str, programme) -> Identity:
    """Identify the sending unit; None with a Chinese reason naming candidates when unsure."""
    tried: list[str] = []
    candidates: list[str] = []
    if parsed is not None and parsed.unit_line:
        match = match_unit(parsed.unit_line, programme)
        if match.unit:
            return Identity(match.unit, "unit_line", [match.unit])
        candidates += match.candidates
        tried.append(f"「单位：」行写的是「{parsed.unit_line}」")
    elif parsed is not None and parsed.sheet:
        tried.append("「单位：」行未填写")
    if parsed is not None and parsed.rows:
        match = _units_column(parsed, programme)
        if match.unit:
            return Identity(match.unit, "units_column", [match.unit])
        candidates += [c for c in match.candidates if c not in candidates]
        tried.append("「责任单位」列不能确定唯一单位")
    stem = _file_stem(file_name)
    name_part = _FILE_NOISE_RE.sub(" ", stem)
    match = match_unit(name_part, programme) if _clean(name_part) else _Match(None, [])
    if match.unit is None and _clean(name_part) != _clean(stem):
        whole = match_unit(stem, programme)
        if whole.unit:
            match = whole
    if match.unit:
        return Identity(match.unit, "file_name", [match.unit])
    candidates += [c for c in match.candidates if c not in candidates]
    tried.append(f"文件名「{PurePath(file_name).name}」")
    names = [programme.units_by_key[c].name for c in candidates if c in programme.units_by_key]
    if names:
        reason = (f"无法确定报送单位：{'；'.join(tried)}，可能是{'、'.join(names)}中的一个。"
                  "请在表格第2行「单位：」后填写本单位全称（与通知中的责任单位名称一致）后重新报送。")
    else:
        reason = (f"无法确定报送单位：{'；'.join(tried)}，与通知中的责任单位都对应不上。"
                  "请在表格第2行「单位：」后填写本单位全称（与通知中的责任单位名称一致）后重新报送。")
    return Identity(None, None, candidates, reason)
