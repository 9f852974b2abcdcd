"""Units by their everyday names: the short forms Chinese offices use, derived by rule from
the programme's unit names and aliases (no unit is named here).

A body's name is a core and a kind: 卫生健康 + 委员会, 教育和体育 + 局, 妇女 + 联合会.
Offices call it by its core (or the core's abbreviation: the first character of each
two-character word, 卫生健康 → 卫健, 教育和体育 → 教体) followed by the everyday word for
a government body (局, 中心, 委, 办), and a 联合会 by its first character and 联 (妇联);
行政 is dropped from a long core (综合行政执法局 → 综合执法局).
So a 教育和体育局 is also 教体局 and 教体委, a 卫生健康委员会 卫健局 and 卫健委,
a 综合执法中心 综合执法局.

Conservative: only cores of two to six characters that do not name a place (街道, 镇, 园 …)
or a branch (分中心); a derived name that is some unit's own name or alias is left to it,
and a derived name two units share belongs to neither (``UnitNames.ambiguous``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# Kinds of body a name ends with, longest first; what offices call each kind.
_GOVERNMENT = ("局", "中心", "委", "办")
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("事业发展中心", _GOVERNMENT), ("事业服务中心", _GOVERNMENT), ("事业中心", _GOVERNMENT),
    ("发展中心", _GOVERNMENT), ("服务中心", _GOVERNMENT), ("中心", _GOVERNMENT),
    ("委员会", _GOVERNMENT), ("办公室", _GOVERNMENT), ("大队", _GOVERNMENT),
    ("局", _GOVERNMENT), ("委", _GOVERNMENT), ("办", _GOVERNMENT),
)
_ASSOCIATION = "联合会"
_PLACE_PREFIX = re.compile(r"^(?:高新技术产业开发区|高新区|开发区|区|市|县)")
_NOT_A_CORE = re.compile(r"(街道|镇|乡|村|社区|园|区|县|市|分|管理|服务|产业)$")
_CONNECTORS = re.compile(r"[和及与、]")
MIN_CORE, MAX_CORE = 2, 6


def _abbreviation(core: str) -> str | None:
    """卫生健康 → 卫健, 教育和体育 → 教体: the first character of each two-character word,
    when the core is made of two-character words (one or more connectors allowed)."""
    words = [w for w in _CONNECTORS.split(core) if w]
    if not words or any(len(w) % 2 for w in words):
        return None
    short = "".join(w[i] for w in words for i in range(0, len(w), 2))
    return short if len(short) >= 2 and short != core else None


def everyday_names(name: str, abbreviate: bool = True) -> list[str]:
    """The everyday names of one unit name or alias (not including itself). ``abbreviate``
    only for official names: an alias's core is often an abbreviation already (工信商务),
    and abbreviating it again names another body (工商)."""
    name = re.sub(r"\s+", "", name)
    found: list[str] = []
    if name.endswith(_ASSOCIATION):
        core = _PLACE_PREFIX.sub("", name[:-len(_ASSOCIATION)])
        if MIN_CORE <= len(core) <= MAX_CORE:
            short = _abbreviation(core) if abbreviate else None
            found += [core[0] + "联", *([short + "联"] if short else [])]
        return [f for f in dict.fromkeys(found) if f != name]
    for kind, everyday in _KINDS:
        if not name.endswith(kind):
            continue
        core = _PLACE_PREFIX.sub("", name[:-len(kind)])
        if MIN_CORE <= len(core) <= MAX_CORE and not _NOT_A_CORE.search(core):
            plain = core.replace("行政", "") if len(core) > 4 else core     # 综合行政执法 → 综合执法
            for stem in dict.fromkeys((core, plain, _abbreviation(plain) if abbreviate else None)):
                if stem:
                    found += [stem + word for word in everyday]
        break
    return [f for f in dict.fromkeys(found) if f != name]


@dataclass(frozen=True)
class UnitNames:
    """Everyday names of a programme's units, as cleaned text -> unit key(s)."""

    unique: dict[str, str]                   # an everyday name one unit has
    ambiguous: dict[str, tuple[str, ...]]    # an everyday name several units share


def derive_unit_names(units, known: dict[str, str], clean) -> UnitNames:
    """The everyday names of ``units`` (programme units) that are not in ``known`` (cleaned
    official names and aliases -> key); ``clean`` is how identity cleans a name."""
    owners: dict[str, list[str]] = {}
    for unit in units:
        for written, official in ((unit.name, True), *((a, False) for a in unit.aliases)):
            for derived in everyday_names(written, abbreviate=official):
                key = clean(derived)
                if len(key) < 2 or key in known:
                    continue
                keys = owners.setdefault(key, [])
                if unit.key not in keys:
                    keys.append(unit.key)
    return UnitNames({n: ks[0] for n, ks in owners.items() if len(ks) == 1},
                     {n: tuple(ks) for n, ks in owners.items() if len(ks) > 1})
