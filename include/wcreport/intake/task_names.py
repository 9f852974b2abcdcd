"""Tasks by the names units write: the programme's full names, its ``short_names``, and the
obvious short forms derived from them.

Offices rarely copy a task's full name: they write 两癌筛查 for
实施适龄妇女“两癌”免费筛查和救助行动, drop 实施/开展/推进 and 行动/工程/项目, or keep the
quoted core. ``match_task`` resolves a written name in three tiers and never guesses
between tasks:

1. exact: the name equals a full, short or derived name of exactly one task;
2. contained: the longest known names found inside the written name (or, for a short
   written name, the names that contain it) belong to exactly one task;
3. fuzzy: rapidfuzz's ratio reaches FUZZY_FLOOR and no other task scores within
   FUZZY_MARGIN of it.

A name that fits several tasks equally well is ``ambiguous`` and names its candidates; the
validation suite refuses such a row unless its 序号 decides it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from wcreport.core.programme import Programme, Task
from wcreport.core.text_keys import without_punctuation

FUZZY_FLOOR = 75.0          # rapidfuzz ratio (0-100); difflib's 0.75 before
FUZZY_MARGIN = 8.0          # the best task must lead the next by this much
MIN_DERIVED = 2             # a derived name shorter than this is not used
_PREFIXES = ("开展", "实施", "推进")
_SUFFIXES = ("工程", "行动", "项目")
_QUOTED = re.compile(r"[“\"「『《‘']([^”\"」』》’']{2,})[”\"」』》’']")
_COLON = re.compile(r"[:：]")

How = Literal["exact", "contained", "fuzzy", "ambiguous", "unknown", "empty"]


def name_key(text: str | None) -> str:
    """A name as compared: NFKC, without whitespace, punctuation, quotes or symbols."""
    return without_punctuation(unicodedata.normalize("NFKC", text or ""))


def derived_names(name: str) -> list[str]:
    """The short forms of a full task name an office writes, most specific first (conservative:
    the name without its 实施/开展/推进 prefix and 行动/工程/项目 suffix, the part before a
    colon, and a quoted core of two or more characters)."""
    found: list[str] = []
    head = _COLON.split(name, maxsplit=1)[0]
    for base in (name, head):
        stem = base.strip()
        for prefix in _PREFIXES:
            if stem.startswith(prefix):
                stem = stem[len(prefix):]
                break
        for suffix in _SUFFIXES:
            if stem.endswith(suffix):
                stem = stem[:-len(suffix)]
                break
        found += [base, stem]
    found += [m.group(1) for m in _QUOTED.finditer(name)]
    keys: list[str] = []
    for text in found:
        key = name_key(text)
        if len(key) >= MIN_DERIVED and key not in keys:
            keys.append(key)
    return keys


@dataclass(frozen=True)
class TaskMatch:
    """What a written task name resolves to."""

    seq: int | None
    how: How
    candidates: tuple[int, ...] = ()     # the tasks it may mean (one when resolved)


@dataclass
class TaskNames:
    """Every known name of every task of one programme (keys as ``name_key`` makes them)."""

    by_name: dict[str, tuple[int, ...]]                  # name key -> the tasks that have it
    names: dict[int, str]                                # seq -> full name, as written
    _memo: dict[str, TaskMatch] = field(default_factory=dict)

    @classmethod
    def of(cls, programme: Programme) -> TaskNames:
        by_name: dict[str, list[int]] = {}
        for task in programme.tasks:
            for key in task_name_keys(task):
                seqs = by_name.setdefault(key, [])
                if task.seq not in seqs:
                    seqs.append(task.seq)
        return cls({k: tuple(v) for k, v in by_name.items()}, {t.seq: t.name for t in programme.tasks})

    def match(self, written: str | None) -> TaskMatch:
        found = self._memo.get(written or "")
        if found is None:       # every unit writes the same few names: most are met before
            if len(self._memo) > 4096:
                self._memo.clear()
            found = self._memo[written or ""] = self._match(name_key(written))
        return found

    def _match(self, key: str) -> TaskMatch:
        if not key:
            return TaskMatch(None, "empty")
        exact = self.by_name.get(key)
        if exact:
            return _decided(exact, "exact")
        contained = self._contained(key)
        if contained:
            return _decided(contained, "contained")
        return self._fuzzy(key)

    def _contained(self, key: str) -> tuple[int, ...]:
        inside = [n for n in self.by_name if len(n) >= MIN_DERIVED and n in key]
        if inside:
            longest = max(len(n) for n in inside)
            return _seqs(self.by_name[n] for n in inside if len(n) == longest)
        if len(key) >= MIN_DERIVED:
            return _seqs(self.by_name[n] for n in self.by_name if key in n)
        return ()

    def _fuzzy(self, key: str) -> TaskMatch:
        from rapidfuzz import fuzz, process  # only for names the cheaper tiers did not place

        best: dict[int, float] = {}
        for name, score, _i in process.extract(key, list(self.by_name), scorer=fuzz.ratio,
                                               score_cutoff=FUZZY_FLOOR - FUZZY_MARGIN, limit=None):
            for seq in self.by_name[name]:
                best[seq] = max(best.get(seq, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))
        if not ranked or ranked[0][1] < FUZZY_FLOOR:
            return TaskMatch(None, "unknown", tuple(s for s, _ in ranked[:3]))
        close = tuple(s for s, score in ranked if ranked[0][1] - score < FUZZY_MARGIN)
        return _decided(close, "fuzzy")

    def fits(self, written: str | None, seq: int | None) -> bool:
        """The written name may mean task ``seq`` (its 序号 decides between candidates)."""
        found = self.match(written)
        return seq is not None and found.how != "unknown" and seq in found.candidates

    def describe(self, seqs: tuple[int, ...], limit: int = 5) -> str:
        """Candidates as a finding names them: 第5项「…」、第10项「…」."""
        listed = "、".join(f"第{s}项「{self.names[s]}」" for s in seqs[:limit] if s in self.names)
        return listed + (f"等 {len(seqs)} 项" if len(seqs) > limit else "")


def task_name_keys(task: Task) -> list[str]:
    """A task's name keys: full name, the programme's short names, then the derived ones."""
    keys: list[str] = []
    for text in (task.name, *task.short_names):
        for key in (name_key(text), *derived_names(text)):
            if len(key) >= MIN_DERIVED and key not in keys:
                keys.append(key)
    return keys


def _seqs(groups) -> tuple[int, ...]:
    out: list[int] = []
    for group in groups:
        out += [s for s in group if s not in out]
    return tuple(sorted(out))


def _decided(seqs: tuple[int, ...], how: How) -> TaskMatch:
    if len(seqs) == 1:
        return TaskMatch(seqs[0], how, seqs)
    return TaskMatch(None, "ambiguous", seqs)


_cache: tuple[Programme, TaskNames] | None = None


def task_names(programme: Programme) -> TaskNames:
    """The programme's task names, built once per (frozen) programme object."""
    global _cache
    if _cache is None or _cache[0] is not programme:
        _cache = (programme, TaskNames.of(programme))
    return _cache[1]


def match_task(written: str | None, programme: Programme) -> TaskMatch:
    return task_names(programme).match(written)
