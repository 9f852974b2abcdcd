"""The programme: tasks, units, targets and recipients, loaded from YAML.

A programme file (``include/programmes/<year>.yaml``) is the only place where the
facts of one year's notice are written down. This module validates it and gives
the rest of the package typed access to it.
"""
from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import os
import re
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator


class ProgrammeError(ValueError):
    """A programme file is missing or malformed; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# Validation context of a programme read back from our own cache (``_from_cache``): it passed
# every check when it was parsed from the same YAML by the same schema, so the checks that
# cost O(units) in Python are not run again; the types are still validated.
_ALREADY_CHECKED = "already_checked"


def _already_checked(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(_ALREADY_CHECKED))


class Recipient(_Strict):
    name: str
    email: str

    @field_validator("name")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if any(ch in value for ch in "\r\n\t\x00"):       # would break (or inject into) the mail's header
            raise ValueError(f"a recipient's name must be one line: {value!r}")
        return value

    @field_validator("email")
    @classmethod
    def _looks_like_email(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError(f"not an e-mail address (spaces or line breaks around it): {value!r}")
        return _check_address(value)


class Recipients(_Strict):
    to: list[Recipient] = Field(min_length=1)
    cc: list[Recipient] = []


class Notice(_Strict):
    number: str
    title: str
    issuer: str
    issued_on: dt.date


class ReportSettings(_Strict):
    title: str
    organiser: str
    phone: str = ""
    reminder_days: int = Field(default=5, ge=1, le=30)


_ADDRESS_RE = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\".]+$")


def normalise_address(address: str) -> str:
    """The form addresses are compared in: trimmed, lower case (mail systems ignore case)."""
    return address.strip().lower()


def _check_address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS_RE.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


class Unit(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    aliases: list[str] = []
    # ``email`` is a shorthand for a one-address ``emails``; both may be given and are merged.
    email: str | None = None
    emails: list[str] = []

    @field_validator("email")
    @classmethod
    def _email_is_address(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or _already_checked(info):
            return value
        return _check_address(value)

    @field_validator("emails")
    @classmethod
    def _emails_are_addresses(cls, values: list[str], info: ValidationInfo) -> list[str]:
        if _already_checked(info):
            return values
        return [_check_address(v) for v in values]

    @property
    def addresses(self) -> list[str]:
        """All the unit's addresses (``email`` first, then ``emails``), each once."""
        merged: dict[str, str] = {}
        for address in ([self.email] if self.email else []) + self.emails:
            merged.setdefault(normalise_address(address), address)
        return list(merged.values())


class Indicator(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    target: float = Field(ge=0)
    measure: str
    # at_least: "…以上"; about: "约…"; exact: a plain number.
    comparison: Literal["at_least", "about", "exact"] = "exact"
    # sum: counts add up over units; max: a rate or a single fact, reported by its lead unit.
    aggregate: Literal["sum", "max"] = "sum"
    reporters: list[str] | None = None
    # How progress is judged each quarter (the 判断依据 of the report):
    #   linear      even pace over the year: 25 % of the target after Q1, 50 % after Q2, ...
    #   milestones  ``milestones``: four cumulative values for the ends of Q1..Q4, numbers in
    #               ``measure`` or percents of the target written "30%"; the fourth is the target
    #   year_end    a level or rate to reach by year end: judged after Q4, "进行中" before
    #   events      a yearly number of events: at least one by mid-year, half by the end of Q3
    pace: Literal["linear", "milestones", "year_end", "events"] = "linear"
    milestones: list[float | str] | None = None

    @field_validator("milestones")
    @classmethod
    def _milestones_are_four_cumulative_values(cls, values: list[float | str] | None) -> list[float | str] | None:
        if values is None:
            return None
        if len(values) != 4:
            raise ValueError("milestones: need four cumulative values, for the ends of Q1, Q2, Q3 and Q4")
        for value in values:
            if isinstance(value, str) and not re.fullmatch(r"\s*\d+(\.\d+)?\s*%\s*", value):
                raise ValueError(f"milestones: {value!r} is neither a number nor a percent like '30%'")
            if not isinstance(value, str) and value < 0:
                raise ValueError(f"milestones: {value!r} is negative")
        return values

    @model_validator(mode="after")
    def _check_pace(self) -> "Indicator":
        if (self.pace == "milestones") != (self.milestones is not None):
            raise ValueError("milestones: give them exactly when pace is 'milestones'")
        if self.milestones is not None:
            values = [self.target * float(v.strip().rstrip("%").strip()) / 100 if isinstance(v, str) else float(v)
                      for v in self.milestones]
            if any(b < a for a, b in zip(values, values[1:])):
                raise ValueError(f"milestones: cumulative values must not decrease: {self.milestones}")
            if abs(values[-1] - self.target) > 1e-9 * max(1.0, self.target):
                raise ValueError(f"milestones: the Q4 value must be the target {self.target:g}, "
                                 f"not {self.milestones[-1]}")
        return self


class Task(_Strict):
    seq: int = Field(ge=1)
    name: str
    # Names offices write for the task besides its full name (两癌筛查); more short forms are
    # derived from the name (wcreport.intake.task_names). A short name belongs to one task.
    short_names: list[str] = []
    summary: str = ""
    units: list[str] = Field(min_length=1)
    indicators: list[Indicator] = []


class AreaGroup(_Strict):
    label: str
    units: list[str]


class Programme(_Strict):
    year: int = Field(ge=2000, le=2100)
    notice: Notice
    report: ReportSettings
    recipients: Recipients
    deadlines: dict[int, dt.date]
    area_group: AreaGroup | None = None
    units: list[Unit] = Field(min_length=1)
    tasks: list[Task] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_references(self, info: ValidationInfo) -> "Programme":
        if _already_checked(info):
            return self
        keys = [u.key for u in self.units]
        _reject_duplicates("units[].key", keys)
        _reject_duplicates("units[].name", [u.name for u in self.units])
        _reject_duplicates("tasks[].seq", [t.seq for t in self.tasks])
        _reject_duplicates("tasks[].name and tasks[].short_names (a name belongs to one task)",
                           [n for t in self.tasks for n in dict.fromkeys((t.name, *t.short_names))])
        _reject_duplicates("units[].aliases (names and aliases must be unique)",
                           [n for u in self.units for n in (u.name, *u.aliases)])
        _reject_duplicates("units[].emails (an address belongs to one unit only)",
                           [normalise_address(a) for u in self.units for a in u.addresses])
        known = set(keys)
        for task in self.tasks:
            _reject_unknown(f"tasks[seq={task.seq}].units", task.units, known)
            for ind in task.indicators:
                _reject_unknown(f"tasks[seq={task.seq}].indicators[{ind.key}].reporters",
                                ind.reporters or [], set(task.units))
        _reject_duplicates("tasks[].indicators[].key",
                           [i.key for t in self.tasks for i in t.indicators])
        if self.area_group:
            _reject_unknown("area_group.units", self.area_group.units, known)
        if sorted(self.deadlines) != [1, 2, 3, 4]:
            raise ValueError("deadlines: need exactly the quarters 1, 2, 3 and 4")
        return self

    # --- lookups ---------------------------------------------------------
    @cached_property
    def units_by_key(self) -> dict[str, Unit]:
        return {u.key: u for u in self.units}

    @cached_property
    def units_by_name(self) -> dict[str, Unit]:
        return {u.name: u for u in self.units}

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Programme:
        """A copy whose derived lookups (cached properties) are computed afresh.

        Pydantic copies the instance ``__dict__``, where ``cached_property`` keeps its values:
        without this, a copy with other units would answer with the original's lookups.
        """
        copy = super().model_copy(update=update, deep=deep)
        for name, value in vars(Programme).items():
            if isinstance(value, cached_property):
                copy.__dict__.pop(name, None)
        return copy

    @cached_property
    def units_by_address(self) -> dict[str, Unit]:
        """Normalised address -> unit, from every unit's ``email`` and ``emails``."""
        return {normalise_address(a): u for u in self.units for a in u.addresses}

    def unit_by_address(self, address: str | None) -> Unit | None:
        """The unit an e-mail address belongs to, or None (unknown or empty address)."""
        return self.units_by_address.get(normalise_address(address)) if address else None

    @cached_property
    def tasks_by_seq(self) -> dict[int, Task]:
        return {t.seq: t for t in self.tasks}

    @cached_property
    def units_by_alias(self) -> dict[str, Unit]:
        return {alias: u for u in self.units for alias in u.aliases}

    def unit(self, key_or_name: str) -> Unit:
        """A unit by key, official name or alias."""
        found = (self.units_by_key.get(key_or_name) or self.units_by_name.get(key_or_name)
                 or self.units_by_alias.get(key_or_name))
        if found is None:
            raise KeyError(f"unknown unit {key_or_name!r}")
        return found

    def tasks_of(self, unit_key: str) -> list[Task]:
        return list(self.tasks_by_unit.get(unit_key, ()))

    def indicators_of(self, unit_key: str) -> list[tuple[Task, Indicator]]:
        return list(self.indicators_by_unit.get(unit_key, ()))

    @cached_property
    def tasks_by_unit(self) -> dict[str, tuple[Task, ...]]:
        """unit key -> its tasks in programme order (one pass: a province has thousands of units)."""
        found: dict[str, list[Task]] = {}
        for task in self.tasks:
            for key in dict.fromkeys(task.units):
                found.setdefault(key, []).append(task)
        return {key: tuple(tasks) for key, tasks in found.items()}

    @cached_property
    def indicators_by_unit(self) -> dict[str, tuple[tuple[Task, Indicator], ...]]:
        """unit key -> the (task, indicator) pairs it reports: its tasks' indicators whose
        reporters (all of the task's units when none are named) include it."""
        found: dict[str, list[tuple[Task, Indicator]]] = {}
        for task in self.tasks:
            responsible = set(task.units)
            for indicator in task.indicators:
                for key in dict.fromkeys(indicator.reporters or task.units):
                    if key in responsible:
                        found.setdefault(key, []).append((task, indicator))
        order = {t.seq: n for n, t in enumerate(self.tasks)}
        return {key: tuple(sorted(pairs, key=lambda pair: order[pair[0].seq]))
                for key, pairs in found.items()}

    def units_label_for_form(self, task: Task) -> list[str]:
        """Responsible units as the attached form writes them (area units grouped)."""
        area = self.area_group
        if area and self.area_unit_keys <= set(task.units):
            others = [self.units_by_key[k].name for k in task.units if k not in self.area_unit_keys]
            return others + [area.label]
        return [self.units_by_key[k].name for k in task.units]

    @cached_property
    def area_unit_keys(self) -> frozenset[str]:
        """The area group's unit keys as a set (a province's group has thousands)."""
        return frozenset(self.area_group.units) if self.area_group else frozenset()

    def deadline(self, quarter: int) -> dt.date:
        return self.deadlines[quarter]


def _reject_duplicates(field: str, values: list) -> None:
    seen: set[object] = set()
    repeated: set[str] = set()
    for value in values:
        if value in seen:
            repeated.add(str(value))
        seen.add(value)
    dupes = sorted(repeated)
    if dupes:
        raise ValueError(f"{field}: duplicate value(s) {dupes}")


def _reject_unknown(field: str, values: list[str], known: set[str]) -> None:
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValueError(f"{field}: unknown unit key(s) {unknown}")


# libyaml's parser when PyYAML was built with it: a province's programme (thousands of units)
# is parsed by every task process, and the C parser is much faster than the pure-Python one.
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):
    """YAML as written, with dates kept as text: the schema parses them and names the field of a bad one."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def load_programme(path: str | os.PathLike) -> Programme:
    """Load and validate a programme file; raise ProgrammeError naming the bad field.

    A process loads each content once: the same bytes at the same path give the same
    (frozen) Programme object, so what is derived from it (lookups, fingerprints) is
    computed once too. A changed file is read again.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProgrammeError(f"programme file not found: {path}") from None
    digest = hashlib.sha256(raw + _schema_digest()).hexdigest()
    loaded = _loaded.get(str(path))
    if loaded is not None and loaded[0] == digest:
        return loaded[1]
    programme = _from_cache(raw, digest) or _parse(path, raw, digest)
    _loaded[str(path)] = (digest, programme)
    return programme


# path -> (digest of its content and of the schema, the programme): one entry per file
_loaded: dict[str, tuple[str, Programme]] = {}


def _decode(path: Path, raw: bytes) -> str:
    """The file's text; a file saved as UTF-16 or GBK (Notepad, WPS) gets an error naming it."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) \
            or b"\0" in raw[:4096]:
        raise ProgrammeError(f"{path}: saved as UTF-16/UTF-32 (Unicode), not UTF-8; "
                             "请另存为 UTF-8 (save it again as UTF-8), then clear the task")
    try:
        return raw.decode("utf-8-sig")      # a BOM (Notepad's "UTF-8 with BOM") is harmless
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        guess = " (it looks like GBK/GB18030)" if _is_gb18030(raw) else ""
        raise ProgrammeError(f"{path}: line {line}: not UTF-8{guess}; "
                             "请另存为 UTF-8 (save it again as UTF-8), then clear the task") from None


def _is_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _parse(path: Path, raw: bytes, digest: str) -> Programme:
    text = _decode(path, raw)
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise ProgrammeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ProgrammeError(f"{path}: expected a mapping at the top level")
    try:
        programme = Programme.model_validate(data)
    except ValidationError as exc:
        raise ProgrammeError(f"{path}: {_describe(exc)}") from None
    _to_cache(raw, digest, programme)
    return programme


# Parsing a province's programme (thousands of units) from YAML is paid by every task process;
# its validated JSON loads much faster (docs/benchmarks.md). Small programmes are not cached.
CACHE_FROM_BYTES = 64 * 1024


def _cache_path(raw: bytes, digest: str) -> Path | None:
    if len(raw) < CACHE_FROM_BYTES:
        return None
    from wcreport.core.settings import settings

    return settings().output_root / "cache" / "programmes" / f"{digest}.json"


def _schema_digest(_memo: list = []) -> bytes:  # noqa: B006 - a per-process memo
    """This module's source: a change of the schema invalidates every cached programme."""
    if not _memo:
        _memo.append(hashlib.sha256(Path(__file__).read_bytes()).digest())
    return _memo[0]


def _from_cache(raw: bytes, digest: str) -> Programme | None:
    """The programme as we cached it: the file is named by the YAML's and the schema's digest,
    and its first line is the digest of the JSON that follows, so a damaged entry is a miss
    and only what this code validated in full is read back without the O(units) checks."""
    path = _cache_path(raw, digest)
    if path is None:
        return None
    try:
        stored, _, body = path.read_bytes().partition(b"\n")
        if stored.decode("ascii") != hashlib.sha256(body).hexdigest():
            return None
        return Programme.model_validate_json(body, context={_ALREADY_CHECKED: True})
    except (OSError, ValueError):
        return None


def _to_cache(raw: bytes, digest: str, programme: Programme) -> None:
    path = _cache_path(raw, digest)
    if path is None:
        return
    from wcreport.core.faults import OperationsFault
    from wcreport.core.io import write_atomic

    body = programme.model_dump_json().encode("utf-8")
    try:
        write_atomic(path, hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body, durable=False)
    except OperationsFault:      # no writable cache folder: parse the YAML every time
        pass


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        given = f" (given: {err['input']!r})" if isinstance(err.get("input"), (str, int, float)) else ""
        parts.append(f"{where}: {err['msg']}{given}")
    return "; ".join(parts)


def programme_path_for(year: int) -> Path:
    from wcreport.core.settings import settings

    return settings().programmes_dir / f"{year}.yaml"


def programme_for_year(year: int) -> Programme:
    return load_programme(programme_path_for(year))
