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
- ``versions/<run>-<sha>.html`` one file version's page, naming its file and version, when the
  unit has more than one; the unit's page is its accepted (else newest validated) version's
  and links the others
- ``gx-index.html`` and ``validations/``: GX's own pages, linked as online-only

No Great Expectations import here: ``validate.suites`` passes the results as plain dicts.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, fields
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import Markup

from wcreport.core.io import write_text_atomic
from wcreport.core.labels import FILE_STATUS_ZH
from wcreport.core.model import Finding
from wcreport.core.quarter import Quarter
from wcreport.core.templating import render

UNITS_DIR = "units"
VERSIONS_DIR = "versions"
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
                    validated_at: dt.datetime, render_page: bool = True) -> Path:
    """Write units/<quarter>-<unit>.html and its summary; return the page's path.

    The summary keeps the page's content (``context``) so that ``keep_version`` can file it
    as one file version's page once the caller knows which file was validated. A caller that
    renders the unit's pages itself right after (``write_version_pages``) passes
    ``render_page=False``: only the summary is written."""
    run_name = f"{quarter}-{unit_key}"
    folder = Path(docs_dir) / UNITS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{run_name}.html"
    context = PageContent(
        run_name=run_name, unit_name=unit_name, quarter_label=quarter.label_zh,
        errors=sum(f.severity == "error" for f in findings),
        warnings=sum(f.severity == "warning" for f in findings),
        validated_at=validated_at.isoformat(),
        findings=[f.model_dump(mode="json") for f in findings],
        suites=[{"name": name, "name_zh": SUITE_ZH.get(name, name), "success": bool(result.get("success")),
                 "statistics": result.get("statistics") or {},
                 "rows": [_fields_of(row) for row in expectation_rows(result)]}
                for name, result in results.items()],
        gx_links=[{"name": _suite_of(p, results), "href": _relative(Path(p), folder)} for p in gx_pages])
    if render_page:
        _write_page(page, _render_page(context))
    _write_page(page.with_suffix(".json"), _summary_json(
        _summary(context, unit_key, quarter, f"{UNITS_DIR}/{page.name}")))
    return page


@dataclass
class PageContent:
    """What one validation's page shows (JSON-able: kept in the page's summary)."""

    run_name: str
    unit_name: str
    quarter_label: str
    errors: int
    warnings: int
    validated_at: str                # ISO
    findings: list[dict]
    suites: list[dict]
    gx_links: list[dict]


@dataclass
class DocsVersion:
    """One of a unit's file versions (one content) as the Data Docs pages name it."""

    path: str                        # the file, relative to the quarter's inbox folder
    sha256: str
    received: float                  # when it arrived (mtime, epoch seconds)
    status: str                      # FileStatus of this run: accepted, rejected, superseded, ...

    def page_name(self, quarter: Quarter | str, unit_key: str) -> str:
        return f"{quarter}-{unit_key}-{self.sha256[:12]}"


def keep_version(docs_dir: Path, unit_page: Path | str, version: DocsVersion, quarter: Quarter | str,
                 unit_key: str) -> Path | None:
    """File the page validation just wrote (``unit_page``) as ``version``'s content; its
    page is rendered by ``write_version_pages``. None when the page kept no content."""
    try:
        summary = json.loads(Path(unit_page).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if "context" not in summary:
        return None
    folder = Path(docs_dir) / VERSIONS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"{version.page_name(quarter, unit_key)}.json"
    _write_page(kept, _summary_json(summary))
    return kept.with_suffix(".html")


def write_version_pages(docs_dir: Path, *, quarter: Quarter, unit_key: str,
                        versions: list[DocsVersion], chosen_sha256: str | None) -> Path | None:
    """The unit's page (units/<quarter>-<unit>.html): the chosen version's (the accepted one,
    else the newest validated), naming its file and version and listing the others with links;
    and, when there are others, one page per validated version, each naming its file and version.
    A unit's only version has no page of its own: nothing would link it, and the unit's page shows
    it. None when no version was validated."""
    docs_dir = Path(docs_dir)
    ordered = sorted(versions, key=lambda v: (v.received, v.path), reverse=True)
    kept = {v.sha256: content for v in ordered if (content := _kept_content(docs_dir, quarter, unit_key, v))}
    if not kept:
        return None
    chosen = next((v for v in ordered if v.sha256 == chosen_sha256 and v.sha256 in kept),
                  next(v for v in ordered if v.sha256 in kept))
    unit_page = docs_dir / UNITS_DIR / f"{quarter}-{unit_key}.html"
    results = {sha: _render_results(content) for sha, content in kept.items()}
    own_pages = [v for v in ordered if v.sha256 in kept] if len(kept) > 1 else []   # one: the unit's page
    for version in own_pages:
        page = docs_dir / VERSIONS_DIR / f"{version.page_name(quarter, unit_key)}.html"
        _write_page(page, _render_page(
            kept[version.sha256], results[version.sha256], version=_version_view(version),
            others=_others(ordered, version, kept, quarter, unit_key, "", chosen),
            unit_href=f"../{UNITS_DIR}/{unit_page.name}"))
    unit_page.parent.mkdir(parents=True, exist_ok=True)
    _write_page(unit_page, _render_page(
        kept[chosen.sha256], results[chosen.sha256], version=_version_view(chosen),
        others=_others(ordered, chosen, kept, quarter, unit_key, f"../{VERSIONS_DIR}/", chosen)))
    summary = _summary(kept[chosen.sha256], unit_key, quarter, f"{UNITS_DIR}/{unit_page.name}")
    summary["file"] = chosen.path
    _write_page(unit_page.with_suffix(".json"), _summary_json(summary))
    return unit_page


def _write_page(path: Path, text: str) -> None:
    """A page or summary, replaced atomically but not fsync'd: every file here is derived (from
    the archived file's validation) and written again by the unit's next ingest, so a crash
    costs at most a page the next run rewrites, while an fsync per page made each unit's
    ingest wait for the disk five more times."""
    write_text_atomic(path, text, durable=False)


def _summary_json(summary: dict) -> str:
    """A page's summary as compact JSON: it is read by the pipeline and the dashboard, not by
    people, and without ``indent`` the json module's C encoder writes it (an indented dump took
    nearly half of a unit's ingest)."""
    return json.dumps(summary, ensure_ascii=False)


def _kept_content(docs_dir: Path, quarter: Quarter, unit_key: str, version: DocsVersion) -> PageContent | None:
    path = docs_dir / VERSIONS_DIR / f"{version.page_name(quarter, unit_key)}.json"
    try:
        return PageContent(**json.loads(path.read_text(encoding="utf-8"))["context"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _version_view(version: DocsVersion) -> dict:
    return {"path": version.path, "sha12": version.sha256[:12], "received": beijing_time(
        dt.datetime.fromtimestamp(version.received, dt.UTC)), "status": FILE_STATUS_ZH.get(version.status, version.status)}


def _others(ordered: list[DocsVersion], this: DocsVersion, kept: dict[str, PageContent], quarter: Quarter,
            unit_key: str, prefix: str, chosen: DocsVersion) -> list[dict]:
    """The unit's other versions, newest first, each with a link to its page when it has one."""
    return [{**_version_view(v), "chosen": v is chosen,
             "href": f"{prefix}{v.page_name(quarter, unit_key)}.html" if v.sha256 in kept else None}
            for v in ordered if v is not this]


def _render_results(content: PageContent) -> Markup:
    """The findings and the suites' tables of a page: the bulk of it, the same on every page that
    shows this content (a version's own page and the unit's page), so rendered once per content.
    Autoescaped by its template: Markup only keeps the page from escaping it a second time."""
    return Markup(render(__package__, "data_docs_results.html.j2", findings=content.findings,
                         suites=content.suites))


def _render_page(content: PageContent, results: Markup | None = None, **extra: object) -> str:
    return render(__package__, "data_docs_unit.html.j2", **{
        **_fields_of(content), "validated_at": beijing_time(content.validated_at),
        "results_html": results if results is not None else _render_results(content),
        "index_href": f"../{INDEX}", "version": None, "others": [], "unit_href": None, **extra})


def _summary(content: PageContent, unit_key: str, quarter: Quarter, page: str) -> dict:
    return {"run_name": content.run_name, "unit": unit_key, "unit_name": content.unit_name,
            "quarter": str(quarter), "errors": content.errors, "warnings": content.warnings,
            "validated_at": content.validated_at, "page": page, "context": _fields_of(content)}


def _fields_of(content: PageContent | ExpectationRow) -> dict:
    """The fields of a page or a row, not copied: they are plain JSON values already (``asdict``
    would deep-copy every finding and expectation row, several times per unit)."""
    return {field.name: getattr(content, field.name) for field in fields(content)}


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
    write_text_atomic(index, render(__package__, "data_docs_index.html.j2",   # once a run: kept durable
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
