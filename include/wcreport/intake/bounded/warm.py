"""A warm child for bounded parses: one child process per calling process, reused.

A fresh child per file (``bounded.child.run_in_fresh_child``) costs a fork-server fork, a
pipe and a temporary file per file: most of ``gather``'s own time for a quarter of small
workbooks. The warm child takes job after job over one pipe, each within its time budget
and under its memory limit (``RLIMIT_AS``, the soft limit: each job sets its own). It is
killed when a job runs out of time or fails, and replaced after ``JOBS_PER_CHILD`` jobs, so
that what parses leave behind in its heap cannot add up; ``intake.bounded`` runs any
failure but a timeout again in a fresh child.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar

from wcreport.core.settings import child_process_environment
from wcreport.intake.bounded.child import (
    Budget,
    Done,
    Failed,
    Job,
    Stopped,
    answer_of,
    children_allowed,
    end_child,
    forkserver,
    main_script_hidden,
    outcome_of,
    receive,
    send_answer,
)

T = TypeVar("T")
JOBS_PER_CHILD = 200


@dataclass
class _Warm:
    process: BaseProcess
    connection: Connection
    jobs: int = 0


class _Keeper:
    """This process's warm child, started when first needed; one job at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.warm: _Warm | None = None
        self.owner_pid = 0

    def child(self) -> _Warm:
        if self.warm is None or self.owner_pid != os.getpid() or not self.warm.process.is_alive():
            self.retire()
            self.warm, self.owner_pid = _start(), os.getpid()
        return self.warm

    def retire(self) -> None:
        warm, self.warm = self.warm, None
        if warm is not None and self.owner_pid == os.getpid():    # a forked copy does not own it
            warm.connection.close()
            end_child(warm.process)


_KEEPER = _Keeper()


def run(function: Callable[..., T], *args: Any, budget: Budget) -> Done[T] | Failed:
    """``function(*args)`` in this process's warm child within ``budget``; re-raises what it raises."""
    job = Job(function, args, budget.memory_bytes, child_process_environment())
    with _KEEPER.lock:
        warm = _KEEPER.child()
        started = time.monotonic()
        try:
            warm.connection.send(job)
        except OSError:                 # it died since its last job: one new child, once
            _KEEPER.retire()
            warm = _KEEPER.child()
            warm.connection.send(job)
        answer = receive(warm.connection, budget.seconds)
        warm.jobs += 1
        if isinstance(answer, Stopped) or warm.jobs >= JOBS_PER_CHILD:
            _KEEPER.retire()
    return outcome_of(answer, time.monotonic() - started, "warm")


def stop() -> None:
    """End this process's warm child (the next job starts another)."""
    with _KEEPER.lock:
        _KEEPER.retire()


def _start() -> _Warm:
    context = forkserver()
    ours, theirs = context.Pipe(duplex=True)
    with main_script_hidden(), children_allowed():
        process = context.Process(target=_serve, args=(theirs,), daemon=True, name="bounded-warm")
        process.start()
    theirs.close()
    return _Warm(process, ours)


def _serve(connection: Connection) -> None:
    """The child: job after job until its caller closes the pipe (or is gone)."""
    with open(os.devnull, "wb") as quiet:
        os.dup2(quiet.fileno(), 2)      # a failed job is run again in a fresh child, which reports it
    while True:
        try:
            job = connection.recv()
        except (EOFError, OSError):
            return
        send_answer(connection, answer_of(job, hard_limit=False))
