"""What building on a Dask cluster costs, to size one: the same episodes built with 1 and with 2 workers.

    .venv/bin/python scripts/bench_cluster.py [--episodes 4] [--threads 1] [--repeat 1]

Starts a ``dask scheduler`` and, for each run, N ``dask worker --no-nanny --nthreads T --resources episodes=1``
processes on 127.0.0.1 (each builds one episode at a time with T threads), builds a fresh copy of a show with
``kindcast build --scheduler``, then stops the workers and reads each one's resource use from the kernel (``wait4``:
CPU seconds of the worker and of the ffmpeg processes it ran, and its peak resident memory). The show is the sample
show in ``episodes/`` (three interviews of about 2 minutes, each with a soundbite rendered as three audiograms),
with its episodes repeated under new slugs until there are ``--episodes``.

Prints, per run, the build's wall time (the command's, connecting and checking the workers included), each worker's
CPU seconds and peak memory, and what an hour of audio costs a worker (CPU seconds per hour of audio). The ratio of
the two wall times is measured in the same run, so it stands even on a loaded machine; absolute times do not.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_show(where: Path, episodes: int) -> tuple[Path, float]:
    """A copy of the sample show with ``episodes`` episodes; returns it and its hours of audio."""
    from pipeline.media import probe_audio

    root = where / "show"
    shutil.copytree(REPO / "episodes", root / "episodes")
    if (REPO / "templates").is_dir():
        shutil.copytree(REPO / "templates", root / "templates")
    originals = sorted(p for p in (root / "episodes").iterdir() if (p / "episode.md").is_file())
    for i in range(len(originals), episodes):
        source = originals[i % len(originals)]
        copy = root / "episodes" / f"{source.name}-{i + 1}"
        shutil.copytree(source, copy)
        text = (copy / "episode.md").read_text(encoding="utf-8")
        text = re.sub(r"(?m)^guid: .*$", f"guid: {uuid.uuid4()}", text)
        text = re.sub(r"(?m)^number: .*$", f"number: {i + 1}", text)
        (copy / "episode.md").write_text(text, encoding="utf-8")
    for extra in sorted(p for p in (root / "episodes").iterdir() if (p / "episode.md").is_file())[episodes:]:
        shutil.rmtree(extra)
    seconds = 0.0
    for folder in (p for p in (root / "episodes").iterdir() if (p / "episode.md").is_file()):
        recording = next(f for f in folder.iterdir() if f.name.startswith("recording."))
        seconds += probe_audio(recording).duration
    return root, seconds / 3600


def start_scheduler(folder: Path) -> tuple[subprocess.Popen, str]:
    info = folder / "scheduler.json"
    proc = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                             "--no-dashboard", "--scheduler-file", str(info)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not info.exists():
        if proc.poll() is not None:
            raise SystemExit("dask scheduler did not start")
        time.sleep(0.1)
    time.sleep(0.3)
    return proc, json.loads(info.read_text())["address"]


def start_workers(address: str, n: int, threads: int) -> list[subprocess.Popen]:
    from distributed import Client

    workers = [subprocess.Popen([sys.executable, "-m", "dask", "worker", address, "--no-nanny", "--host", "127.0.0.1",
                                 "--nthreads", str(threads), "--resources", "episodes=1", "--no-dashboard"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    with Client(address, timeout=60) as client:
        client.wait_for_workers(n, timeout=120)
    return workers


def stop_workers(workers: list[subprocess.Popen]) -> list[tuple[float, float]]:
    """SIGTERM each worker and reap it: (CPU seconds, peak resident MB) of it and the processes it waited for."""
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    usage = []
    for proc in workers:
        _, _, rusage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped here, not by Popen
        usage.append((rusage.ru_utime + rusage.ru_stime, rusage.ru_maxrss / 1024))
    return usage


def run(address: str, workers_n: int, threads: int, episodes: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        root, hours = make_show(Path(tmp), episodes)
        workers = start_workers(address, workers_n, threads)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--scheduler", address, "--root", str(root)],
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        usage = stop_workers(workers)
        if proc.returncode != 0:
            raise SystemExit(f"build failed:\n{proc.stdout}\n{proc.stderr}")
        built = len(list((root / "feeds" / "episodes").iterdir()))
        stages: dict[str, float] = {}  # the build's own report: "built: slug: probe 0.5s, master 2.0s, ..."
        for line in proc.stdout.splitlines():
            if line.startswith("built: ") and not line.startswith("built: show:"):
                for name, seconds in re.findall(r"(\w+) ([\d.]+)s", line.split(": ", 2)[2]):
                    stages[name] = stages.get(name, 0.0) + float(seconds)
        return {"workers": workers_n, "wall": wall, "usage": usage, "hours": hours, "episodes": built,
                "stages": stages}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="threads of each worker (one episode at a time)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each size; medians are printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
        scheduler, address = start_scheduler(Path(tmp))
        try:
            results: dict[int, list[dict]] = {1: [], 2: []}
            for _ in range(args.repeat):
                for n in (1, 2):
                    results[n].append(run(address, n, args.threads, args.episodes))
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=30)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (shared: absolute "
          f"times vary, the ratio is measured in one run)")
    first = results[1][0]
    print(f"show: {first['episodes']} episodes, {first['hours'] * 60:.1f} min of audio; each worker "
          f"{args.threads} thread(s), one episode at a time")
    walls = {}
    for n, runs in results.items():
        walls[n] = statistics.median(r["wall"] for r in runs)
        cpu = [statistics.median(r["usage"][i][0] for r in runs) for i in range(n)]
        peak = [max(r["usage"][i][1] for r in runs) for i in range(n)]
        per_hour = sum(cpu) / first["hours"]
        print(f"{n} worker(s): wall {walls[n]:.1f} s; CPU s per worker: {', '.join(f'{c:.0f}' for c in cpu)}; "
              f"peak memory per worker: {', '.join(f'{p:.0f} MB' for p in peak)}; "
              f"an hour of audio costs {per_hour:.0f} CPU s ({per_hour / 3600:.2f} CPU h)")
    print(f"speed-up with 2 workers: {walls[1] / walls[2]:.2f}x")
    stages = results[1][0]["stages"]
    print("1 worker, seconds per stage summed over the episodes: "
          + ", ".join(f"{name} {seconds:.0f}" for name, seconds in stages.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
