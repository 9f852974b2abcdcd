"""The Great Expectations project: the reviewed suites in ``expectations/`` as a GX file context.

Great Expectations is imported here, inside ``open_project``, never at import time: DAG
parsing must not pay for it. The project's paths for one run (where results are kept,
where Data Docs are written) are given to GX through its runtime environment.

``open_project`` opens the project afresh on each call; the accelerators keep opened
projects per process (``accelerators.context_cache``).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TABLES = ("progress_rows", "indicators")   # checkpoint = validation definition = suite names
DEFAULT_RESULT_FORMAT = {"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]}


@dataclass
class GxProject:
    """An opened GX project and what a run takes from it."""

    context: Any                    # GX FileDataContext
    checkpoints: dict[str, Any]     # per table; only their result format is used
    definitions: dict[str, Any]     # per table: the validation definition (suite + data asset)
    result_format: dict[str, Any]
    site_dir: str = ""              # where Data Docs are written


@dataclass(frozen=True)
class ProjectPaths:
    """Where one run's results and Data Docs go: the quarter's Data Docs folder when given,
    else GX's own uncommitted folders of the project."""

    root: Path
    results_dir: Path
    site_dir: Path

    @classmethod
    def of(cls, root: Path, docs_dir: Path | None) -> ProjectPaths:
        if docs_dir:
            return cls(root, docs_dir / "results", docs_dir)
        uncommitted = root / "gx" / "uncommitted"
        return cls(root, uncommitted / "validations", uncommitted / "data_docs" / "local_site")


# How a caller gets an opened project for (project root, Data Docs folder).
ProjectOpener = Callable[[Path, Path | None], GxProject]


def open_project(root: Path, docs_dir: Path | None) -> GxProject:
    """Open the GX project at ``root`` with its results and Data Docs under ``docs_dir``."""
    paths = ProjectPaths.of(root, docs_dir)
    gx = import_gx()
    context = gx.get_context(mode="file", project_root_dir=str(root), runtime_environment={
        "WCREPORT_RESULTS_DIR": str(paths.results_dir.resolve()),
        "WCREPORT_DATA_DOCS_DIR": str(paths.site_dir.resolve()) + os.sep})
    checkpoints = {t: context.checkpoints.get(t) for t in TABLES}
    definitions = {t: context.validation_definitions.get(t) for t in TABLES}
    result_format = checkpoints[TABLES[0]].result_format
    if not isinstance(result_format, dict):
        result_format = dict(DEFAULT_RESULT_FORMAT)
    log.info("GX project %s opened (results %s)", root, paths.results_dir)
    return GxProject(context, checkpoints, definitions, result_format, str(paths.site_dir))


def import_gx():
    """Great Expectations, imported quietly: no analytics, and none of the INFO lines GX logs
    while importing ("Skipping registering function ...") and building Data Docs, which
    would be noise at the top of every task log. Its warnings and errors still show."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")   # GX's own switch, set before import
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx  # slow the first time in a process (docs/benchmarks.md)

    return gx
