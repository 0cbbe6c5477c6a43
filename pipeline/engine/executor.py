"""Where episodes run. An interface, so a distributed engine can replace the local pool without touching stages.

``Executor.run(fn, jobs, on_event)`` calls ``fn(job, emit)`` for every job and yields ``(job, result)`` as they
finish; ``emit(event)`` lets the job report progress, which reaches ``on_event`` in the calling process.
"""
from __future__ import annotations

import multiprocessing
import queue as queue_mod
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Iterable, Iterator

Event = tuple
Job = Any


class Executor:
    def run(self, fn: Callable[[Job, Callable[[Event], None]], Any], jobs: Iterable[Job],
            on_event: Callable[[Event], None]) -> Iterator[tuple[Job, Any]]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """In this process, one job after another (``--jobs 1``)."""

    def run(self, fn, jobs, on_event):
        for job in jobs:
            yield job, fn(job, on_event)


class _QueueEmit:
    def __init__(self, q):
        self.q = q

    def __call__(self, event: Event) -> None:
        self.q.put(event)


class LocalProcessExecutor(Executor):
    """A local process pool (``--jobs N``); progress events travel back through a managed queue."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def run(self, fn, jobs, on_event):
        jobs = list(jobs)
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as manager, ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
            events = manager.Queue()
            emit = _QueueEmit(events)
            pending = {pool.submit(fn, job, emit): job for job in jobs}
            while pending:
                done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                self._drain(events, on_event)
                for fut in done:
                    job = pending.pop(fut)
                    self._drain(events, on_event)
                    yield job, fut.result()
            self._drain(events, on_event)

    @staticmethod
    def _drain(events, on_event) -> None:
        while True:
            try:
                on_event(events.get_nowait())
            except queue_mod.Empty:
                return


def make_executor(jobs: int) -> Executor:
    return SerialExecutor() if jobs <= 1 else LocalProcessExecutor(jobs)
