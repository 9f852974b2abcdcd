"""GX projects kept open per process, per (project, Data Docs folder).

Opening the project reads and parses its configuration, suites and definitions; a worker
that validates many files (the quarter's batch, consecutive ingests) opens it once. The
Data Docs template cache (``jinja_cache``) is installed with the first project.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from wcreport.validate.accelerators import jinja_cache
from wcreport.validate.gx_project import GxProject, ProjectPaths, open_project

CACHE_SIZE = 8

_projects: OrderedDict[tuple[str, str], GxProject] = OrderedDict()
_lock = threading.Lock()


def cached_project(root: Path, docs_dir: Path | None) -> GxProject:
    """``gx_project.open_project``, opened once per process and (project, Data Docs folder)."""
    paths = ProjectPaths.of(root, docs_dir)
    key = (str(root.resolve()), str(paths.site_dir.resolve()))
    with _lock:
        if key in _projects:
            _projects.move_to_end(key)
            return _projects[key]
        project = open_project(root, docs_dir)
        jinja_cache.install()
        _projects[key] = project
        while len(_projects) > CACHE_SIZE:
            _projects.popitem(last=False)
        return project


def clear() -> None:
    """Forget every kept project (tests)."""
    with _lock:
        _projects.clear()
