"""Data Docs that open offline: our own HTML pages of each unit's validation results.

GX's Data Docs pages load Bootstrap, jQuery, Font Awesome and Vega from CDNs and carry an
English newsletter link; on an office network without internet they show unstyled, and
GX's index lists the results only through that JavaScript. The pages written here carry
the same results (every expectation of both suites: outcome, counts, unexpected values)
and the unit's findings in Chinese as self-contained HTML: inline CSS, no script, no
external address, autoescaped (the values come from the unit's file).

Under ``<quarter>/data_docs/``:

- ``index.html``            the quarter's units (this module; the manifest links it)
- ``units/<run>.html``      one unit's run (the unit's ``data_docs`` in the manifest)
- ``units/<run>.json``      that page's summary, read to build the index
- ``gx-index.html`` and ``validations/``: GX's own pages, linked as online-only

No Great Expectations import here: ``validate.suites`` passes the results as plain dicts.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from wcreport.core.io import write_text_atomic
from wcreport.core.model import Finding
from wcreport.core.quarter import Quarter
from wcreport.core.templating import render

UNITS_DIR = "units"
INDEX = "index.html"
GX_INDEX = "gx-index.html"
BEIJING = ZoneInfo("Asia/Shanghai")
SUITE_ZH = {"progress_rows": "进展情况各行", "indicators": "数量指标"}
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_SHOWN_VALUES = 20


@dataclass
class ExpectationRow:
    rule: str            # the Chinese message of the rule, placeholders elided
    code: str
    kind: str            # GX expectation type
    column: str
    outcome: str         # passed / failed / error
    checked: int | None
    unexpected: int | None
    values: list[str]    # some unexpected values or rows


def beijing_time(moment: dt.datetime | str | None) -> str:
    """'2023-03-31 17:05（北京时间）'; '' when unknown."""
    if not moment:
        return ""
    if isinstance(moment, str):
        try:
            moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
        except ValueError:
            return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") + "（北京时间）"


def expectation_rows(result: dict) -> list[ExpectationRow]:
    """One row per expectation of a suite's validation result (GX's JSON form)."""
    rows = []
    for item in result.get("results", []):
        config = item.get("expectation_config") or {}
        kwargs, meta = config.get("kwargs") or {}, config.get("meta") or {}
        outcome = item.get("result") or {}
        raised = (item.get("exception_info") or {}).get("raised_exception")
        rows.append(ExpectationRow(
            rule=_PLACEHOLDER.sub("…", str(meta.get("message_zh") or "")),
            code=str(meta.get("code") or ""),
            kind=str(config.get("type") or ""),
            column=str(kwargs.get("column") or ", ".join(map(str, kwargs.get("column_list") or []))),
            outcome="error" if raised else "passed" if item.get("success") else "failed",
            checked=outcome.get("element_count"),
            unexpected=outcome.get("unexpected_count"),
            values=_unexpected_values(outcome)))
    return rows


def _unexpected_values(outcome: dict) -> list[str]:
    indexed = outcome.get("unexpected_index_list") or []
    if indexed and isinstance(indexed[0], dict):
        shown = [", ".join(f"{k}={v}" for k, v in entry.items()) for entry in indexed[:_SHOWN_VALUES]]
    else:
        shown = [str(v) for v in (outcome.get("partial_unexpected_list") or [])[:_SHOWN_VALUES]]
    total = outcome.get("unexpected_count") or 0
    if total > len(shown) and shown:
        shown.append(f"……共 {total} 处")
    return shown


def write_unit_page(docs_dir: Path, *, quarter: Quarter, unit_key: str, unit_name: str,
                    results: dict[str, dict], findings: list[Finding], gx_pages: list[str],
                    validated_at: dt.datetime) -> Path:
    """Write units/<quarter>-<unit>.html and its summary; return the page's path."""
    run_name = f"{quarter}-{unit_key}"
    folder = Path(docs_dir) / UNITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{run_name}.html"
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" for f in findings)
    suites = [{"name": name, "name_zh": SUITE_ZH.get(name, name), "success": bool(result.get("success")),
               "statistics": result.get("statistics") or {}, "rows": expectation_rows(result)}
              for name, result in results.items()]
    gx_links = [{"name": _suite_of(p, results), "href": _relative(Path(p), folder)} for p in gx_pages]
    write_text_atomic(page, render(__package__, "data_docs_unit.html.j2", quarter_label=quarter.label_zh,
                                   run_name=run_name, unit_name=unit_name, suites=suites,
                                   findings=findings, errors=errors, warnings=warnings,
                                   validated_at=beijing_time(validated_at), gx_links=gx_links,
                                   index_href=f"../{INDEX}"))
    summary = {"run_name": run_name, "unit": unit_key, "unit_name": unit_name, "quarter": str(quarter),
               "errors": errors, "warnings": warnings, "validated_at": validated_at.isoformat(),
               "page": f"{UNITS_DIR}/{page.name}"}
    write_text_atomic(page.with_suffix(".json"), json.dumps(summary, ensure_ascii=False, indent=1))
    return page


def write_index(docs_dir: Path, quarter: Quarter | None = None) -> Path:
    """Write the quarter's index.html over every unit page's summary."""
    docs_dir = Path(docs_dir)
    units = []
    for path in sorted((docs_dir / UNITS_DIR).glob("*.json")):
        try:
            units.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue
    for unit in units:
        unit["validated_at_zh"] = beijing_time(unit.get("validated_at"))
    if quarter is None and units:
        quarter = Quarter.parse(units[0]["quarter"])
    index = docs_dir / INDEX
    write_text_atomic(index, render(__package__, "data_docs_index.html.j2",
                                    quarter_label=quarter.label_zh if quarter else "",
                                    units=units, gx_index=GX_INDEX if (docs_dir / GX_INDEX).exists() else None))
    return index


def _relative(target: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(target, start)).as_posix()


def _suite_of(page: str, results: dict[str, dict]) -> str:
    for name in results:
        if f"/{name}/" in Path(page).as_posix():
            return SUITE_ZH.get(name, name)
    return Path(page).stem
