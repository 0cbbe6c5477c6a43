"""How long a `kindcast build` with nothing to do takes, and whether it rewrites anything under feeds/.

    .venv/bin/python scripts/bench_noop_build.py [--root DIR] [--runs 5]

Run it after a full build. Prints each run's wall time (process start included), the median, and the files under
feeds/ whose modification time changed (there should be none).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    before = snapshot(args.root / "feeds")
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(args.root)],
                              capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr)
            return 1
    after = snapshot(args.root / "feeds")
    changed = sorted(p for p in after if before.get(p) != after[p])
    print("runs (s):", " ".join(f"{t:.2f}" for t in times))
    print(f"median: {statistics.median(times):.2f} s; files rewritten under feeds/: {len(changed)}")
    for p in changed:
        print("  rewritten:", p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
