"""Where episodes run. An interface, so a distributed engine can replace the local processes without touching stages.

``Executor.run(fn, jobs, on_event)`` calls ``fn(job, emit)`` for every job and yields ``(job, result)`` as they
finish; ``emit(event)`` lets the job report progress, which reaches ``on_event`` in the calling process. A job whose
process dies (killed, out of memory) or raises yields a :class:`JobLost` as its result; the others go on.

The local executor runs each job in a process of its own (spawned, so nothing is shared by accident), at most
``workers`` at once. Its processes die with the build (see :mod:`pipeline.procs`); Ctrl-C or an error in the
calling process stops them within a second or two.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

Event = tuple
Job = Any


@dataclass
class JobLost:
    """What a job gives when it could not finish: its process died or it raised (a bug)."""

    reason: str  # one line
    trace: str | None = None


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Executor:
    def run(self, fn: Callable[[Job, Callable[[Event], None]], Any], jobs: Iterable[Job],
            on_event: Callable[[Event], None]) -> Iterator[tuple[Job, Any]]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """In this process, one job after another (``--jobs 1``)."""

    def run(self, fn, jobs, on_event):
        for job in jobs:
            yield job, fn(job, on_event)


def _child(fn, job, conn) -> None:
    from pipeline.procs import die_with_parent, ignores_ctrl_c

    die_with_parent()
    if not ignores_ctrl_c():
        # Ctrl-C ends the worker at once; the build reports it. A build started in the background inherits SIGINT
        # ignored (an ignored signal stays ignored across exec), and its workers keep it so.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        result = fn(job, lambda event: conn.send(("event", event)))
    except Exception as exc:  # a bug: the build reports it for this job and goes on
        conn.send(("lost", JobLost(f"internal error: {exc!r}", traceback.format_exc())))
    else:
        conn.send(("done", result))
    conn.close()


def _died(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"its worker process was killed by {name}{hint}; nothing of it was published"
    return f"its worker process ended unexpectedly (exit code {code}); nothing of it was published"


class LocalProcessExecutor(Executor):
    """``--jobs N``: each job in a process of its own, at most ``workers`` at a time. Each worker talks to the build
    through a pipe of its own (a queue shared by all would stay locked for the others if one were killed while
    writing to it)."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def run(self, fn, jobs, on_event):
        from multiprocessing.connection import wait

        ctx = multiprocessing.get_context("spawn")
        pending = list(jobs)
        running: dict = {}  # the build's end of a worker's pipe -> (job, process)
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.pop(0)
                    reader, writer = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_child, args=(fn, job, writer), daemon=True)
                    proc.start()
                    writer.close()  # the worker holds the only writing end: its death closes the pipe
                    running[reader] = (job, proc)
                for reader in wait(list(running), timeout=1.0):
                    job, proc = running[reader]
                    outcome = self._read(reader, on_event)
                    if outcome is None:
                        continue  # only progress events so far
                    del running[reader]
                    reader.close()
                    proc.join(timeout=5)
                    if outcome is _GONE:
                        proc.join()
                        outcome = JobLost(_died(proc.exitcode))
                    yield job, outcome
        finally:
            self._stop([proc for _, proc in running.values()])

    @staticmethod
    def _read(reader, on_event):
        """Events up to the job's end: its result, ``_GONE`` when the worker died without one, or None for now."""
        try:
            while reader.poll():
                kind, payload = reader.recv()
                if kind == "event":
                    on_event(payload)
                else:
                    return payload
        except (EOFError, OSError):
            return _GONE
        return None

    @staticmethod
    def _stop(procs) -> None:
        """Stop what still runs (after Ctrl-C or an error here): SIGTERM, then SIGKILL after two seconds."""
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2)


_GONE = object()


def make_executor(jobs: int) -> Executor:
    return SerialExecutor() if jobs <= 1 else LocalProcessExecutor(jobs)
