"""Building on a Dask cluster, for real: ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (or the local
cluster that ``--executor dask`` starts), the real command line, real audio, real Whisper.

A show built on the cluster must be the show built locally, byte for byte (workers get the same CPU threads per
episode as ``--jobs 2`` gives locally, since Whisper's output can depend on them); a worker killed in the middle of
a build must change nothing in the result; a cluster that cannot build the show must say why in one line.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kindcast, make_show, synth, write_episode

pytest.importorskip("distributed", reason="needs the dask extra: pip install -e '.[dask]'")

from pipeline.engine.executor import cores  # noqa: E402

THREADS = max(1, cores() // 2)  # what `kindcast build --jobs 2` gives each of two episodes on this machine


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def dask(*args: str, env: dict | None = None, preexec: list[str] | None = None) -> subprocess.Popen:
    """A ``dask`` command (scheduler or worker) of this environment, in the background."""
    return subprocess.Popen([*(preexec or []), sys.executable, "-m", "dask", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)


def stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_scheduler(folder: Path) -> tuple[subprocess.Popen, str]:
    info = folder / "scheduler.json"
    proc = dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(info))
    deadline = time.monotonic() + 60
    while not info.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert info.exists(), "dask scheduler did not start"
    time.sleep(0.2)  # the file is written in one go, but let it land
    return proc, json.loads(info.read_text())["address"]


def wait_for_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(n, timeout=60)


@pytest.fixture(scope="module")
def show(tmp_path_factory) -> Path:
    """Two episodes: speech (so transcripts have words to compare) and a silent one that fails at mastering."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("needs espeak-ng (Debian package) for a recording with words")
    audio = tmp_path_factory.mktemp("audio")
    speech = audio / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(speech), "Welcome to the show. Today we talk about "
                    "neighbours who built a coffee morning, and what it taught them about listening."], check=True)
    root = make_show(tmp_path_factory.mktemp("src") / "show")
    write_episode(root, "talk", {"title": "Talk", "date": "2026-01-05", "guid": "g-talk", "number": 1}, speech)
    write_episode(root, "silent", {"title": "Silent", "date": "2026-01-07", "guid": "g-silent", "number": 3},
                  synth(audio / "silent.wav", "anullsrc=r=44100:cl=mono", 4))
    return root


def copy_of(root: Path, where: Path) -> Path:
    shutil.copytree(root, where / "show")
    return where / "show"


# Dask's nanny starts its workers with numpy's BLAS on one thread (distributed.nanny.pre-spawn-environ); Whisper's
# feature extraction goes through it, so word times differ in the last digit unless the local build does the same.
ONE_BLAS_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def local(show, tmp_path_factory) -> Path:
    """The show built locally, two episodes at once."""
    root = copy_of(show, tmp_path_factory.mktemp("local"))
    proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--jobs", "2", "--root", str(root)],
                          env={**os.environ, **ONE_BLAS_THREAD}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "failed: silent: master:" in proc.stderr, proc.stderr
    return root


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers, each building one episode at a time with THREADS threads (as --jobs 2)."""
    scheduler, address = start_scheduler(tmp_path_factory.mktemp("cluster"))
    workers = [dask("worker", address, "--host", "127.0.0.1", "--nthreads", str(THREADS), "--resources",
                    "episodes=1", "--no-dashboard") for _ in range(2)]
    try:
        wait_for_workers(address, 2)
        yield address
    finally:
        stop(*workers, scheduler)


@pytest.mark.slow
def test_a_show_built_on_a_cluster_is_the_show_built_locally(show, local, cluster, tmp_path):
    root = copy_of(show, tmp_path)
    proc = kindcast("build", "--scheduler", cluster, "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].startswith("failed: silent: master: "), proc.stderr  # its one line
    assert "1 episodes built, 0 up to date, 1 failed" in proc.stdout
    assert "talk: transcribe (never built)" in proc.stderr  # progress from the workers reached the command
    assert (root / "feeds" / "feed.xml").read_bytes() == (local / "feeds" / "feed.xml").read_bytes()
    assert tree(root / "feeds") == tree(local / "feeds")  # every file, transcripts included
    assert "coffee" in (root / "feeds" / "episodes" / "talk" / "transcript.txt").read_text().lower()

    # Nothing to do: settled without the cluster (there is none at this address), as fast as a local build.
    shutil.rmtree(root / "episodes" / "silent")
    env = {**os.environ, "DASK_SCHEDULER_ADDRESS": "tcp://127.0.0.1:9"}
    again = subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(root)], env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "0 episodes built, 1 up to date, 0 failed" in again.stdout, again.stderr
    # status only judges, locally, whatever cluster is configured
    status = subprocess.run([sys.executable, "-m", "pipeline", "status", "--root", str(root)], env=env,
                            capture_output=True, text=True, timeout=120)
    assert status.returncode == 0 and status.stdout == kindcast("status", "--root", root).stdout


@pytest.mark.slow
def test_a_worker_killed_mid_build_changes_nothing_in_the_result(show, local, tmp_path):
    """``--executor dask --jobs 2``: a local cluster of two worker processes; the one that starts transcribing is
    killed (SIGKILL, as an out-of-memory killer would); its episode is built again and the tree is the same."""
    root = copy_of(show, tmp_path)
    killed = tmp_path / "killed-one"
    env = {**os.environ, "KINDCAST_KILL_AT": "transcribe:start", "KINDCAST_KILL_ONCE": str(killed)}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--executor", "dask", "--jobs", "2", "--root",
                           str(root)], env=env, capture_output=True, text=True, timeout=600)
    assert killed.exists(), "no worker was killed"
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "1 episodes built, 0 up to date, 1 failed" in proc.stdout, proc.stdout + proc.stderr
    lost = [line for line in proc.stderr.splitlines() if "was lost while building it" in line]
    assert len(lost) == 1 and lost[0].startswith("warning: talk: cluster: its worker tcp://127.0.0.1:"), proc.stderr
    assert tree(root / "feeds") == tree(local / "feeds")
    assert not (root / ".kindcast" / "stage" / "talk").exists()  # committed; only the failed one stays staged


@pytest.mark.slow
def test_no_workers_is_one_line_after_the_timeout(tmp_path):
    root = make_show(tmp_path / "show")
    write_episode(root, "one", {"title": "One", "date": "2026-01-05", "guid": "g-one"},
                  synth(tmp_path / "a.wav", "sine=f=440", 3))
    scheduler, address = start_scheduler(tmp_path)
    try:
        started = time.monotonic()
        proc = kindcast("build", "--scheduler", address, "--cluster-timeout", "2", "--root", root, timeout=120)
        assert time.monotonic() - started < 60
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == (
            f"kindcast: error: no Dask workers joined the scheduler at {address} within 2 s; start some with "
            f"`dask worker {address}`")
    finally:
        stop(scheduler)
    gone = kindcast("build", "--scheduler", address, "--cluster-timeout", "2", "--root", root, timeout=120)
    assert gone.returncode == 1 and "Traceback" not in gone.stderr
    assert gone.stderr.strip().splitlines()[-1].startswith(f"kindcast: error: cannot reach the Dask scheduler at "
                                                            f"{address} (")
    assert not (root / "feeds" / "episodes").exists()


def _can_hide_folders() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _can_hide_folders(), reason="needs unshare -m (root): a worker that cannot see the show")
def test_a_worker_that_cannot_see_the_show_is_one_line(tmp_path):
    """A worker whose machine has no shared folder (here: a mount namespace with an empty tmpfs over the show)."""
    hidden = tmp_path / "shared"
    root = make_show(hidden / "show")
    write_episode(root, "one", {"title": "One", "date": "2026-01-05", "guid": "g-one"},
                  synth(tmp_path / "a.wav", "sine=f=440", 3))
    scheduler, address = start_scheduler(tmp_path)
    worker = dask("worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-dashboard",
                  preexec=["unshare", "-m", "--propagation", "private", "sh", "-c",
                           f'mount -t tmpfs none "{hidden}" && exec "$0" "$@"'])
    try:
        wait_for_workers(address, 1)
        proc = kindcast("build", "--scheduler", address, "--cluster-timeout", "20", "--root", root, timeout=120)
    finally:
        stop(worker, scheduler)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("kindcast: error: Dask worker tcp://127.0.0.1:") and "cannot see the show" in last, last
    assert f"the show folder {root} at that same path (a shared filesystem)" in last
    assert not (root / "feeds" / "episodes").exists()


def test_kindcast_imports_no_dask_unless_asked():
    code = ("import sys, pipeline.cli, pipeline.engine.build\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
