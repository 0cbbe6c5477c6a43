"""Episodes as tasks on a Dask cluster: ``kindcast build --scheduler tcp://HOST:PORT`` (or ``DASK_SCHEDULER_ADDRESS``)
uses a running cluster; ``--executor dask --jobs N`` starts a local one of N worker processes for the build. Needs
the ``kindcast[dask]`` extra (``distributed``), imported only here and only when a cluster is used.

Each episode's stages are one task (:func:`pipeline.engine.build.run_episode`). Workers read and write the show at
the same path as the command (a shared filesystem): before the first task, one probe task per worker reads a token
the command wrote under ``.kindcast/tmp/`` and writes a file beside it, and reports the worker's kindcast code, so a
worker that cannot see the show, cannot write to it or runs other code is one line, not a hang or a wrong build.

- Progress: a task sends its build events with ``Worker.log_event`` to a topic of this build, which the command
  subscribes to (``Client.subscribe_topic``) and hands to the progress bar, in the calling thread.
- Only work goes to the cluster: an episode with nothing to run is settled by the command (a look at its files), so
  a build with nothing to do neither needs nor waits for the cluster; the others are submitted as they are found.
- Failures: an episode that fails returns its report like anywhere else. A task that raises is retried
  (``retries=``); a worker that dies has its task rescheduled by the scheduler, up to
  ``distributed.scheduler.allowed-failures`` (3) times; the new attempt goes on from the episode's staging folder,
  and the episode's report carries a warning naming the lost worker (or the attempt that failed, and why).
- Threads: a worker runs as many tasks at once as it has threads, so each task gets one thread; a worker started
  with ``--resources episodes=K`` runs K episodes at once, each with nthreads/K threads (the local cluster of
  ``--executor dask --jobs N`` gives each of its N workers ``episodes=1`` and the machine's cores / N threads).
- Stopping: when the command stops (Ctrl-C, an error, or its connection closing), its tasks are cancelled and a task
  still running notices at its next progress event and stops before publishing anything.
"""
from __future__ import annotations

import dataclasses
import logging
import numbers
import os
import queue
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from pipeline.engine.executor import Executor, JobLost, cores
from pipeline.errors import KindcastError

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
RESOURCE = "episodes"  # a worker's --resources episodes=K: at most K episodes at once, nthreads/K threads each
RETRIES = 2  # for a task that raises (a worker's filesystem hiccup); lost workers are the scheduler's business
_PROGRESS_EVERY = 0.25  # seconds between two progress events of one stage (start, done and failed always go)


class BuildStopped(Exception):
    """Raised inside a task whose build has stopped: the task ends without publishing anything."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


class DaskExecutor(Executor):
    """Runs jobs as tasks on a Dask cluster. Use as a context manager: leaving it stops this build's tasks and the
    local cluster, if it started one."""

    def __init__(self, address: str | None = None, workers: int = 1, timeout: float = 30.0):
        self.address = address  # None: start a local cluster of ``workers`` processes
        self.workers = max(1, workers)
        self.timeout = timeout
        self.client = None
        self.cluster = None
        self._futures: list = []
        self._marker: Path | None = None
        self._topic = ""
        self._exclusive = False

    def __enter__(self) -> "DaskExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the cluster ------------------------------------------------------------------------------------------------

    def _connect(self):
        try:
            import distributed
        except ImportError:
            raise KindcastError("building on a Dask cluster needs the dask extra: pip install 'kindcast[dask]'") \
                from None
        # Dask's own log (lost connections, restarted workers) is not the producer's business: each episode's
        # outcome is reported in one line, and a lost worker as a warning on its episode. The local workers log at
        # CRITICAL too: a worker still beating when the scheduler closes logs a traceback at ERROR.
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        if self.address is None:
            per_worker = max(1, cores() // self.workers)
            self.cluster = distributed.LocalCluster(n_workers=self.workers, threads_per_worker=per_worker,
                                                    processes=True, resources={RESOURCE: 1}, host="127.0.0.1",
                                                    dashboard_address=":0", silence_logs=logging.CRITICAL)
            self.client = distributed.Client(self.cluster, set_as_default=False)
            return self.client
        try:
            self.client = distributed.Client(self.address, timeout=self.timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise KindcastError(f"cannot reach the Dask scheduler at {self.address} ({_one_line(exc)}); is "
                                f"`dask scheduler` running there?") from None
        return self.client

    def _where(self) -> str:
        return self.address or "the local cluster"

    def _check_workers(self, client, root: Path) -> list[dict]:
        """Wait for workers, then check each one sees and can write the show at ``root`` and runs this code."""
        import distributed

        try:
            client.wait_for_workers(1, timeout=self.timeout)
        except (TimeoutError, distributed.TimeoutError):
            raise KindcastError(f"no Dask workers joined the scheduler at {self._where()} within {self.timeout:g} s; "
                                f"start some with `dask worker {self.address or 'ADDRESS'}`") from None
        token = uuid.uuid4().hex
        from pipeline.engine.build import state_dir

        self._marker = state_dir(root) / "tmp" / "cluster" / token
        self._marker.parent.mkdir(parents=True, exist_ok=True)
        self._marker.write_text(token, encoding="utf-8")
        addresses = sorted(client.scheduler_info()["workers"])
        probes = [client.submit(_probe, str(self._marker), token, key=f"kindcast-probe-{token[:8]}-{i}",
                                workers=[address], allow_other_workers=False, pure=False)
                  for i, address in enumerate(addresses)]
        deadline = time.monotonic() + self.timeout
        while not all(f.done() for f in probes) and time.monotonic() < deadline:
            time.sleep(0.05)
        slow = [a for a, f in zip(addresses, probes) if not f.done()]
        if slow:
            raise KindcastError(f"Dask worker {slow[0]} did not answer within {self.timeout:g} s (busy with other "
                                f"work, or stuck?); {len(slow)} of {len(addresses)} workers did not")
        mine = _code_identity()
        answers = []
        for address, future in zip(addresses, probes):
            if future.status != "finished":
                exc = future.exception()
                hint = "; install kindcast[dask] there" if isinstance(exc, ImportError) else ""
                raise KindcastError(f"Dask worker {address} cannot run kindcast ({_one_line(exc)}){hint}")
            answer = future.result()
            where = f"Dask worker {address} on {answer['host']}"
            if answer["problem"]:
                raise KindcastError(f"{where} {answer['problem']}: every worker must read and write the show "
                                    f"folder {root} at that same path (a shared filesystem)")
            if answer["code"] != mine:
                raise KindcastError(f"{where} runs other kindcast code than this command (version "
                                    f"{answer['version']}); install the same kindcast on every worker")
            answers.append(answer)
        return answers

    # --- the build --------------------------------------------------------------------------------------------------

    def run(self, fn, jobs, on_event):
        """Each job goes to the cluster as soon as it is seen to have work; a job with nothing to run is settled here
        (a look at its files), so a build with nothing to do neither needs nor waits for the cluster."""
        self._inbox: queue.Queue = queue.Queue()
        self._jobs: dict[str, Any] = {}  # task key -> job
        self._attempts: dict[str, list[tuple[str, str | None]]] = {}  # slug -> (worker, why it failed), in order
        for job in jobs:
            if _has_work(fn, job):
                self._submit(fn, job)
            else:
                yield job, fn(job, on_event)
            yield from self._collect(on_event, wait=False)
        yield from self._collect(on_event, wait=True)

    def _submit(self, fn, job) -> None:
        if self._marker is None:  # the first job with work: connect and check the workers
            client = self.client or self._connect()
            workers = self._check_workers(client, job.show.root)
            self._exclusive = all(RESOURCE in w["resources"] for w in workers)
            self._topic = f"kindcast-{self._marker.name}"
            client.subscribe_topic(self._topic, lambda event: self._inbox.put(("event", event[1])))
        key = f"kindcast-{job.episode.slug}-{self._marker.name[:8]}-{len(self._futures)}"
        future = self.client.submit(_task, fn, job, self._topic, str(self._marker), self._exclusive, key=key,
                                    pure=False, retries=RETRIES, resources={RESOURCE: 1} if self._exclusive else None)
        self._jobs[key] = job
        self._futures.append(future)
        future.add_done_callback(lambda f: self._inbox.put(("finished", f)))

    def _collect(self, on_event, wait: bool):
        """Hand on the workers' events; yield the jobs whose tasks finished (all of them, with ``wait``)."""
        while self._jobs if wait else not self._inbox.empty():
            try:
                kind, payload = self._inbox.get(timeout=0.5)
            except queue.Empty:
                continue
            if kind == "event":
                event = tuple(payload)
                if event[0] == "attempt":
                    self._attempts.setdefault(event[1], []).append((event[2], None))
                elif event[0] == "attempt-failed":
                    self._attempts.setdefault(event[1], [("?", None)])[-1] = (event[2], event[3])
                else:
                    on_event(event)
                continue
            job = self._jobs.pop(payload.key)
            outcome = self._outcome(payload)
            attempts = self._attempts.get(job.episode.slug, [])
            if len(attempts) > 1 and not isinstance(outcome, JobLost):
                earlier = "; ".join(f"its worker {w} was lost while building it" if why is None else
                                    f"an attempt on {w} failed ({why})" for w, why in attempts[:-1])
                outcome.warnings.append(f"cluster: {earlier}; it was built again on {attempts[-1][0]}")
            yield job, outcome

    def _outcome(self, future):
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            return JobLost("the connection to the Dask scheduler was lost (or the scheduler cancelled its task); "
                           "nothing of it was published")
        exc = future.exception()
        from distributed import KilledWorker

        if isinstance(exc, KilledWorker):
            return JobLost("its Dask worker died every time it was tried (killed, or out of memory?); nothing of it "
                           "was published")
        if isinstance(exc, KindcastError):
            return JobLost(str(exc))
        import traceback

        trace = "".join(traceback.format_exception(type(exc), exc, future.traceback()))
        return JobLost(f"internal error: {exc!r}", trace)

    def close(self) -> None:
        """Cancel what still runs, unsubscribe, close the client and the local cluster, remove the token."""
        try:
            if self.client is not None:
                pending = [f for f in self._futures if not f.done()]
                if pending:
                    self.client.cancel(pending)
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()
        finally:
            self.client = self.cluster = None
            self._futures = []
            if self._marker is not None:
                self._marker.unlink(missing_ok=True)
                self._marker = None


def _has_work(fn, job) -> bool:
    """Would any stage of this job run? An episode never published has work (no need to read its recording here);
    otherwise ``fn`` judges it with ``dry``, as ``kindcast status`` does."""
    from pipeline.engine.build import state_path

    if job.dry:
        return False
    if job.force or not state_path(job.show.root, job.episode.slug).is_file():
        return True
    report = fn(dataclasses.replace(job, dry=True), lambda event: None)
    return report.failed or any(run.reason is not None for run in report.runs)


# --- on the workers ---------------------------------------------------------------------------------------------------

def _code_identity() -> list[str]:
    """What a worker must share with the command: the version of every episode stage (its code's digest)."""
    from pipeline.engine.stage import stage_version
    from pipeline.stages import episode_stages

    return [stage_version(stage) for stage in episode_stages()]


def _probe(marker: str, token: str) -> dict:
    """On one worker: can it read the command's token and write beside it? What does it run, with what?"""
    from distributed import get_worker

    from pipeline import __version__

    worker = get_worker()
    answer = {"host": socket.gethostname(), "nthreads": worker.state.nthreads,
              "resources": dict(worker.state.total_resources), "version": __version__, "code": _code_identity(),
              "problem": None}
    path = Path(marker)
    try:
        seen = path.read_text(encoding="utf-8")
    except OSError as exc:
        answer["problem"] = f"cannot see the show ({exc.strerror}: {path})"
        return answer
    if seen != token:
        answer["problem"] = f"sees another folder at the show's path ({path} holds another build's token)"
        return answer
    mine = path.with_name(f"{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        mine.write_text(token, encoding="utf-8")
        mine.unlink()
    except OSError as exc:
        answer["problem"] = f"cannot write in the show ({exc.strerror}: {path.parent})"
    return answer


def _task(fn, job, topic: str, marker: str, exclusive: bool):
    """One episode on a worker, with the CPU threads that are this task's share of the worker's."""
    from distributed import get_worker

    worker = get_worker()
    key = worker.get_current_task()
    if not os.path.isfile(marker):  # a worker that joined after the check, without the shared folder
        raise KindcastError(f"Dask worker {worker.address} on {socket.gethostname()} cannot see the show at "
                            f"{job.show.root} (a shared filesystem at the same path is needed)")
    slots = min(int(worker.state.total_resources.get(RESOURCE, 0)), worker.state.nthreads) if exclusive else 0
    threads = max(1, worker.state.nthreads // slots) if slots else 1
    worker.log_event(topic, ["attempt", job.episode.slug, worker.address])
    try:
        return fn(dataclasses.replace(job, threads=threads), _Emitter(worker, key, topic))
    except BuildStopped:
        raise
    except Exception as exc:  # Dask tries it again (retries=): say why this attempt failed
        worker.log_event(topic, ["attempt-failed", job.episode.slug, worker.address, _one_line(exc)])
        raise


class _Emitter:
    """A task's ``emit``: build events to the command's topic (progress at most every quarter second per stage),
    and the place where a task learns that its build has stopped."""

    def __init__(self, worker, key, topic: str):
        self.worker, self.key, self.topic = worker, key, topic
        self.last: dict[tuple, float] = {}

    def __call__(self, event: tuple) -> None:
        task = self.worker.state.tasks.get(self.key)
        if task is None or task.state in ("cancelled", "released", "forgotten"):
            raise BuildStopped("the build that started this task has stopped")
        if event[0] == "progress":
            now = time.monotonic()
            if now - self.last.get(event[1:3], 0.0) < _PROGRESS_EVERY and event[3] < 1:
                return
            self.last[event[1:3]] = now
        self.worker.log_event(self.topic, [_plain(value) for value in event])


def _plain(value):
    """An event's value as Dask's messages carry it: exact built-in types (a numpy float becomes a float)."""
    if value is None or type(value) in (str, bool, int, float):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return str(value)
