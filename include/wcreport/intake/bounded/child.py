"""A function run in a child process within a time and a memory budget (the mechanism
behind ``intake.bounded``).

A unit's file can make a parser loop for minutes (a 215 KB PDF kept pypdf busy for 155 s)
or allocate gigabytes. ``run_in_fresh_child`` runs a picklable function in a child process
whose address space is capped (``RLIMIT_AS``) and kills it when its time is up; what went
wrong comes back as a ``Failed`` value the caller turns into a finding. Exceptions the
function raises come back as themselves: callers keep their ``except`` clauses.

Children come from multiprocessing's *forkserver*: the server is a fresh interpreter
(started once per process), so a child never inherits an Airflow task runner's threads or
locks as a bare ``fork`` would, and forking it costs milliseconds where *spawn* would
start and import a new interpreter for every file. The parsers are imported in the server
(``PRELOAD``), so each child starts with them loaded.
"""
from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from multiprocessing.connection import Connection
from multiprocessing.process import AuthenticationString
from typing import Any, Generic, Literal, TypeVar

from wcreport.core.settings import Settings, child_process_environment, settings, use_environment

log = logging.getLogger(__name__)

MIB = 1024 * 1024
T = TypeVar("T")
FailureKind = Literal["timeout", "memory", "crashed"]
# What a child's standard error says when an allocation failed in a library that aborts on it.
_OUT_OF_MEMORY = ("memory allocation of", "MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
# Imported once in the fork server, so that no child imports them again.
PRELOAD = ("pypdf", "python_calamine", "defusedxml.ElementTree", "docx",
           "wcreport.intake.formats", "wcreport.intake.stamped.pages")


@dataclass(frozen=True)
class Budget:
    """What one parse may use: wall-clock seconds and bytes of address space."""

    seconds: float
    memory_bytes: int

    @classmethod
    def from_settings(cls, config: Settings | None = None) -> Budget:
        config = config or settings()
        return cls(config.parse_timeout_seconds, config.parse_memory_bytes)


@dataclass(frozen=True)
class Done(Generic[T]):
    """The function returned ``value``."""

    value: T
    seconds: float


@dataclass(frozen=True)
class Failed:
    """The function did not finish: out of time, out of memory, or the child died."""

    kind: FailureKind
    detail: str
    seconds: float


@dataclass(frozen=True)
class Raised:
    """An exception from the child, carried as its type, args and attributes: exceptions whose
    ``__init__`` takes other arguments than ``args`` (ours do) do not survive plain pickling."""

    kind: type[BaseException]
    args: tuple[Any, ...]
    state: dict[str, Any]

    def rebuild(self) -> BaseException:
        exc = self.kind.__new__(self.kind)
        exc.args = self.args
        exc.__dict__.update(self.state)
        return exc


@dataclass(frozen=True)
class Job:
    """What the child is asked to do, and the caller's environment and budget to do it in."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    memory_bytes: int
    environ: dict[str, str]
    stderr: str = os.devnull    # a file the child's standard error goes to


def run_in_fresh_child(function: Callable[..., T], *args: Any, budget: Budget) -> Done[T] | Failed:
    """``function(*args)`` in a new child process within ``budget``; re-raises what it raises."""
    context = forkserver()
    with tempfile.NamedTemporaryFile(prefix="wcreport-bounded-", suffix=".stderr") as stderr:
        job = Job(function, args, budget.memory_bytes, child_process_environment(), stderr.name)
        receiver, sender = context.Pipe(duplex=False)
        started = time.monotonic()
        with main_script_hidden(), children_allowed():
            child = context.Process(target=_child, args=(sender, job), daemon=True,
                                    name=f"bounded-{getattr(function, '__name__', 'parse')}")
            child.start()
        sender.close()
        try:
            answer = receive(receiver, budget.seconds)
        finally:
            end_child(child)
            receiver.close()
        if isinstance(answer, Stopped) and answer.kind == "crashed":
            answer = _crash_cause(stderr.read(64 * 1024).decode("utf-8", "replace"), answer.detail)
    return outcome_of(answer, time.monotonic() - started, child.name)


def outcome_of(answer: Answer, seconds: float, name: str) -> Done | Failed:
    """What the child answered, as the caller sees it: its value, its exception raised, or a failure."""
    seconds = round(seconds, 3)
    if isinstance(answer, Raised):
        raise answer.rebuild()
    if isinstance(answer, Stopped):
        log.warning("bounded parse %s: %s after %.1fs (%s)", name, answer.kind, seconds, answer.detail)
        return Failed(answer.kind, answer.detail, seconds)
    return Done(answer.value, seconds)


@dataclass(frozen=True)
class Value:
    """The child's answer when the function returned."""

    value: Any


@dataclass(frozen=True)
class Stopped:
    """The child's (or the waiting caller's) answer when the function did not finish."""

    kind: FailureKind
    detail: str


Answer = Value | Raised | Stopped


def receive(receiver: Connection, seconds: float) -> Answer:
    if not receiver.poll(seconds):
        return Stopped("timeout", f"no answer within {seconds:g}s")
    try:
        return receiver.recv()
    except (EOFError, OSError):       # the child died without answering: killed, or crashed
        return Stopped("crashed", "the child process ended without an answer")


def _crash_cause(stderr: str, detail: str) -> Stopped:
    """A child that died: of memory when its last words say so (a Rust or C library aborts on a
    failed allocation instead of raising MemoryError), else crashed."""
    lines = stderr.strip().splitlines()
    said = next((line for line in lines if any(sign in line for sign in _OUT_OF_MEMORY)), None)
    if said is not None:
        return Stopped("memory", said.strip())
    return Stopped("crashed", lines[0].strip() if lines else detail)


def end_child(child: multiprocessing.process.BaseProcess) -> None:
    if child.is_alive():
        child.kill()
    child.join()
    if child.exitcode not in (0, None):
        log.info("bounded parse %s ended with exit code %s", child.name, child.exitcode)
    child.close()


def _child(sender: Connection, job: Job) -> None:
    with open(job.stderr, "wb") as stderr:
        os.dup2(stderr.fileno(), 2)
    try:
        send_answer(sender, answer_of(job, hard_limit=True))
    finally:
        sender.close()


def answer_of(job: Job, *, hard_limit: bool) -> Answer:
    """Run ``job`` in this (child) process: the caller's environment, the address space capped
    (the hard limit too in a one-job child; a reused child keeps the hard limit to raise it for
    the next job's own)."""
    use_environment(job.environ)
    hard = job.memory_bytes if hard_limit else resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (job.memory_bytes, hard))
    try:
        return Value(job.function(*job.args))
    except MemoryError:
        return Stopped("memory", f"address space above {job.memory_bytes // MIB} MiB")
    except BaseException as exc:   # every exception goes back to the caller
        return Raised(type(exc), exc.args, dict(getattr(exc, "__dict__", {})))


def send_answer(sender: Connection, answer: Answer) -> None:
    try:
        sender.send(answer)
    except MemoryError:
        sender.send(Stopped("memory", "the result is too large to send back"))
    except Exception as exc:   # an unpicklable value or exception: our bug, not the file's
        sender.send(Stopped("crashed", f"the answer could not be sent back: {exc.__class__.__name__}: {exc}"))


@contextlib.contextmanager
def main_script_hidden() -> Iterator[None]:
    """multiprocessing runs the caller's main script again in every forkserver child (Python
    3.11 never hands it to the server to preload): in an Airflow task that imports Airflow
    again for each file, ~0.5-2 s. The parse functions live in modules, never in a script,
    so the child is started without it."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


@contextlib.contextmanager
def children_allowed() -> Iterator[None]:
    """The calling process as multiprocessing needs it to start a child, for the start only.

    Celery's prefork workers are daemonic (multiprocessing refuses children to a daemonic
    process, lest they outlive it: a fresh child is killed and joined before its call returns,
    and the warm one ends when its caller's end of the pipe closes, at the latest with the caller),
    and carry billiard's authentication key, which multiprocessing cannot pickle to the fork
    server: under the CeleryExecutor every parse would fail without this."""
    config = multiprocessing.current_process()._config     # what Process.start() reads
    saved = dict(config)
    config["daemon"] = False
    key = config.get("authkey")
    if not isinstance(key, AuthenticationString):
        config["authkey"] = AuthenticationString(bytes(key) if key else os.urandom(32))
    try:
        yield
    finally:
        config.clear()
        config.update(saved)


@cache
def forkserver() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context
