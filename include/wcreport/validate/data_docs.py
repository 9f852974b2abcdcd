"""The quarter's Data Docs: GX's pages of a run, our offline page, the quarter's index.

GX's pages need CDNs to show; our offline page (``offline_docs``) carries the same results
and the Chinese findings and is what the manifest links. GX always writes its site index
as index.html: it is kept as gx-index.html, and index.html is the offline index.

GX's UpdateDataDocsAction would rebuild the site index after every run, reading every
stored result of the quarter: O(units) per unit, O(units²) per quarter. So a run builds
only its own pages (and the index when there is none); ``build_data_docs_index``
rebuilds the index once per quarter (at merge).
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from wcreport.core.model import Finding
from wcreport.core.programme import Programme
from wcreport.core.quarter import Quarter
from wcreport.core.settings import expectations_root
from wcreport.validate import offline_docs
from wcreport.validate.gx_project import TABLES, GxProject, ProjectOpener, open_project

log = logging.getLogger(__name__)


def offline_page(docs_dir: Path, quarter: Quarter, unit_key: str, programme: Programme,
                 results: dict[str, dict], findings: list[Finding], gx_pages: list[str], *,
                 render_page: bool = True) -> Path:
    """This run's offline page (and the quarter's offline index when there is none yet);
    ``results`` are the suites' results in GX's JSON form. ``render_page=False``: only the
    page's summary (see ``offline_docs.write_unit_page``)."""
    page = offline_docs.write_unit_page(
        docs_dir, quarter=quarter, unit_key=unit_key, unit_name=programme.unit(unit_key).name,
        results=results, findings=findings, gx_pages=gx_pages, validated_at=dt.datetime.now(dt.UTC),
        render_page=render_page)
    if not (docs_dir / offline_docs.INDEX).exists():
        offline_docs.write_index(docs_dir, quarter)
    return page


def build_run_pages(project: GxProject, result_keys: list[Any]) -> list[str]:
    """GX's pages of one run (its results and its suites); the site index only when missing."""
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    site_dir = Path(project.site_dir)
    suites = [ExpectationSuiteIdentifier(name=project.definitions[t].suite.name) for t in TABLES]
    project.context.build_data_docs(resource_identifiers=[*result_keys, *suites],
                                    build_index=not (site_dir / offline_docs.GX_INDEX).exists())
    keep_gx_index(site_dir)
    pages: list[str] = []
    for key in result_keys:
        pages += _page_paths(project.context, key)
    return pages


def keep_gx_index(site_dir: Path) -> None:
    """GX always writes its index as index.html: keep it as gx-index.html (it needs CDNs);
    index.html is the offline index (``offline_docs.write_index``)."""
    written = site_dir / offline_docs.INDEX
    if written.exists() and b"greatexpectations" in written.read_bytes()[:200_000].lower():
        written.replace(site_dir / offline_docs.GX_INDEX)


def build_data_docs_index(data_docs_dir: Path, open_gx: ProjectOpener = open_project) -> str | None:
    """Rebuild the quarter's Data Docs index over all its results (once per quarter).

    GX's own index only when GX stored results here (files validated on their own); a
    quarter validated in one batch has only the offline pages, and this needs no GX."""
    docs_dir = Path(data_docs_dir)
    if any((docs_dir / "results").rglob("*.json")):
        from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

        project = open_gx(expectations_root(), docs_dir)
        project.context.build_data_docs(
            resource_identifiers=[ExpectationSuiteIdentifier(name=project.definitions[TABLES[0]].suite.name)],
            build_index=True)
        keep_gx_index(docs_dir)
    return str(offline_docs.write_index(docs_dir))


def _page_paths(context, key) -> list[str]:
    try:
        sites = context.get_docs_sites_urls(resource_identifier=key, only_if_exists=True)
    except Exception:
        log.warning("no Data Docs page for %s", key, exc_info=True)
        return []
    from urllib.parse import urlparse
    from urllib.request import url2pathname
    return [url2pathname(urlparse(url).path) for site in sites if (url := site.get("site_url"))]
