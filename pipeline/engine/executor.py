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
import queue as queue_mod
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


def _child(fn, job, index: int, results) -> None:
    from pipeline.procs import die_with_parent

    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the worker at once; the build reports it
    try:
        result = fn(job, lambda event: results.put(("event", index, event)))
    except Exception as exc:  # a bug: the build reports it for this job and goes on
        results.put(("lost", index, JobLost(f"internal error: {exc!r}", traceback.format_exc())))
    else:
        results.put(("done", index, result))
    results.close()
    results.join_thread()


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
    """``--jobs N``: each job in a process of its own, at most ``workers`` at a time."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def run(self, fn, jobs, on_event):
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        pending = list(enumerate(jobs))
        running: dict[int, tuple[Job, Any]] = {}
        finished: dict[int, Any] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    index, job = pending.pop(0)
                    proc = ctx.Process(target=_child, args=(fn, job, index, results), daemon=True)
                    proc.start()
                    running[index] = (job, proc)
                self._read(results, on_event, finished, timeout=0.2)
                for index in list(running):
                    job, proc = running[index]
                    if index not in finished and proc.exitcode is not None:
                        self._read(results, on_event, finished, timeout=0.5)  # its last words may still be queued
                        if index not in finished:
                            finished[index] = JobLost(_died(proc.exitcode))
                    if index in finished:
                        proc.join()
                        del running[index]
                        yield job, finished.pop(index)
        finally:
            self._stop([proc for _, proc in running.values()])
            results.close()
            results.cancel_join_thread()

    @staticmethod
    def _read(results, on_event, finished: dict, timeout: float) -> None:
        try:
            message = results.get(timeout=timeout)
        except queue_mod.Empty:
            return
        while True:
            kind, index, payload = message
            if kind == "event":
                on_event(payload)
            else:
                finished[index] = payload
            try:
                message = results.get_nowait()
            except queue_mod.Empty:
                return

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


def make_executor(jobs: int) -> Executor:
    return SerialExecutor() if jobs <= 1 else LocalProcessExecutor(jobs)
