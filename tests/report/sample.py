"""Hand-made unit results and manifests over the real 2023 programme (shared by report and mail tests)."""
from __future__ import annotations

import hashlib

from wcreport.core.model import FileRecord, IndicatorValue, Manifest, ManifestUnit, ProgressRow, UnitResult
from wcreport.core.programme import Programme, programme_for_year

QUARTER = "2023Q1"


def programme() -> Programme:
    return programme_for_year(2023)


def unit_text(prog: Programme, unit_key: str, seq: int, version: int = 1) -> str:
    name = prog.units_by_key[unit_key].name
    return f"{name}第{seq}项：本季度完成第{version}版措施，推进顺利。"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_case(prog: Programme | None = None, quarter: str = QUARTER, *,
              missing: tuple[str, ...] = ("housing_fund", "procuratorate"),
              rejected: dict[str, str] | None = None, late: tuple[str, ...] = (),
              texts: dict[tuple[str, int], str] | None = None,
              indicators: dict[str, dict[str, float]] | None = None,
              version: dict[str, int] | None = None) -> tuple[list[UnitResult], Manifest]:
    """Every programme unit submits a row per task, except ``missing`` and ``rejected``.

    ``texts[(unit, seq)]`` overrides a text; ``indicators[unit][key]`` gives values;
    ``version[unit]`` changes a unit's texts and file hash (a corrected file).
    """
    prog = prog or programme()
    rejected = rejected or {"civil_culture": "未找到“本季度具体措施及任务进度情况”列"}
    texts = texts or {}
    indicators = indicators if indicators is not None else default_indicators()
    version = version or {}
    results, units, files = [], [], []
    for unit in prog.units:
        v = version.get(unit.key, 1)
        file_name = f"{unit.name}-{quarter}-v{v}.xlsx"
        digest = sha(f"{unit.key}:{quarter}:{v}")
        if unit.key in missing:
            units.append(ManifestUnit(unit=unit.key, unit_name=unit.name, status="missing"))
            continue
        if unit.key in rejected:
            reason = rejected[unit.key]
            files.append(FileRecord(path=file_name, size=1000, mtime=1.0, sha256=digest, unit=unit.key,
                                    status="rejected", reasons=[reason]))
            units.append(ManifestUnit(unit=unit.key, unit_name=unit.name, status="rejected",
                                      files=[file_name], reasons=[reason]))
            results.append(UnitResult(quarter=quarter, unit=unit.key, unit_name=unit.name,
                                      status="rejected"))
            continue
        rows = []
        for i, task in enumerate(prog.tasks_of(unit.key)):
            text = texts.get((unit.key, task.seq), unit_text(prog, unit.key, task.seq, v))
            rows.append(ProgressRow(seq=task.seq, task_name=task.name, units=unit.name, progress=text,
                                    deadline="2023年12月底", sheet="Sheet1", row=4 + i))
        ivals = [IndicatorValue(key=k, name=k, raw=str(val), value=val, sheet="Sheet1", cell=f"F{j + 4}")
                 for j, (k, val) in enumerate(indicators.get(unit.key, {}).items())]
        files.append(FileRecord(path=file_name, size=1000, mtime=1.0, sha256=digest, unit=unit.key,
                                status="accepted"))
        units.append(ManifestUnit(unit=unit.key, unit_name=unit.name, status="submitted",
                                  late=unit.key in late, files=[file_name], accepted_file=file_name,
                                  accepted_sha256=digest, received_at="2023-03-30T10:15:00+08:00",
                                  warnings=["完成时限格式不规范（建议写为“2023年12月底”）"] if unit.key == "zhongbu" else []))
        results.append(UnitResult(quarter=quarter, unit=unit.key, unit_name=unit.name, status="submitted",
                                  accepted_sha256=digest, rows=rows, indicators=ivals))
    manifest = Manifest(quarter=quarter, programme_year=prog.year, generated_at="2023-03-31T17:00:00+08:00",
                        inbox=f"inbox/{quarter}", files=files, units=units)
    return results, manifest


def default_indicators() -> dict[str, dict[str, float]]:
    return {
        "edu_sports": {"new_kindergartens": 1, "school_places": 300},
        "sibaoshan": {"school_places": 200, "mother_rooms": 1, "free_screenings": 1500},
        "zhongbu": {"school_places": 100, "free_screenings": 1200},
        "health": {"childcare_places_per_1000": 3.1, "psych_hotline": 1, "screening_rate": 40,
                   "fitness_monitoring": 60},
        "org_personnel": {"beautiful_homes_rate": 20, "family_education_lectures": 30,
                          "housekeeping_training": 10},
    }


_ACTIONS = ["召开专题推进会", "制定工作方案并明确责任分工", "建立工作台账，实行周调度", "深入基层开展调研走访",
            "联合相关部门开展督导检查", "通过微信公众号等渠道广泛宣传"]


def realistic_texts(prog: Programme) -> dict[tuple[str, int], str]:
    """Progress texts that read like the real thing (varying length, numbered points)."""
    texts = {}
    for u_index, unit in enumerate(prog.units):
        for task in prog.tasks_of(unit.key):
            clauses = [c for c in task.summary.replace("。", "，").split("，") if c]
            n = 1 + (u_index + task.seq) % 3
            points = []
            for k in range(n):
                clause = clauses[(u_index + k) % len(clauses)]
                action = _ACTIONS[(u_index * 3 + task.seq + k) % len(_ACTIONS)]
                points.append(f"{'一二三'[k]}是{action}，{clause}，本季度累计开展相关活动{(u_index + 2) * (k + 1)}次")
            texts[(unit.key, task.seq)] = "；".join(points) + "。"
    return texts
