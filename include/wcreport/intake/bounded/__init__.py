"""Untrusted parses within a time and a memory budget: the intake's one call for them.

``run_bounded`` runs a picklable, module-level function in a child process (the mechanism is
``bounded.child``): a fresh child per call on the plain path. With accelerators on, a warm
child kept per process (``bounded.warm``) runs it first; a failure other than a
timeout there (out of memory, a crash) is run again in a fresh child, so that what the budget
decides about a file is the plain path's verdict, never a tired child's.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from wcreport.core.settings import accelerators_on
from wcreport.intake.bounded import warm
from wcreport.intake.bounded.child import MIB, Budget, Done, Failed, run_in_fresh_child
from wcreport.intake.reader import UnreadableFile, WorkbookGrid

__all__ = ["Budget", "Done", "Failed", "read_grid", "run_bounded"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def run_bounded(function: Callable[..., T], *args: Any, budget: Budget) -> Done[T] | Failed:
    """``function(*args)`` in a child process within ``budget``; re-raises what it raises."""
    if accelerators_on():
        outcome = warm.run(function, *args, budget=budget)
        if not isinstance(outcome, Failed) or outcome.kind == "timeout":
            return outcome
        log.info("the warm child failed (%s): %s run again in a fresh child", outcome.kind,
                 getattr(function, "__name__", "the parse"))
    return run_in_fresh_child(function, *args, budget=budget)


def read_grid(read: Callable[[Path], WorkbookGrid], path: Path, budget: Budget | None = None) -> WorkbookGrid:
    """A registered reader's ``read(path)`` (a module-level function, so that it pickles) within
    the parse budget; UnreadableFile with its Chinese reason when the budget is exceeded."""
    budget = budget or Budget.from_settings()
    outcome = run_bounded(read, path, budget=budget)
    if isinstance(outcome, Done):
        return outcome.value
    if outcome.kind == "timeout":
        raise UnreadableFile.of("file.parse_timeout", seconds=budget.seconds)
    if outcome.kind == "memory":
        raise UnreadableFile.of("file.too_complex", limit_mb=budget.memory_bytes // MIB)
    raise UnreadableFile.of("file.parse_crashed")
