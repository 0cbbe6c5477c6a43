"""How long a `kindcast build` with nothing to do takes, and whether it rewrites anything under feeds/.

    .venv/bin/python scripts/bench_noop_build.py [--root DIR] [--runs 5]
    .venv/bin/python scripts/bench_noop_build.py --root COPY --grow 200   # a show of 200 episodes

Run it after a full build. Prints each run's wall time (process start included), the median, and the files under
feeds/ whose modification time changed (there should be none). ``--grow N`` first turns the show (a copy: it is
changed) into one of N episodes by cloning its first built episode - folder, published files and state - under new
slugs and GUIDs, then builds once (the feed and site take the new episodes), then times the builds with nothing to do.
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


def grow(root: Path, total: int) -> None:
    """Clone the first built episode until the show has ``total`` episodes (folders, published files, state)."""
    import re
    import shutil
    import uuid

    episodes = sorted(p for p in (root / "episodes").iterdir() if (p / "episode.md").is_file())
    source = episodes[0]
    slug = source.name
    text = (source / "episode.md").read_text()
    state = (root / ".kindcast" / "state" / f"{slug}.json").read_text()
    for i in range(len(episodes), total):
        new = f"clone-{i:04d}"
        shutil.copytree(source, root / "episodes" / new)
        md = re.sub(r"(?m)^guid: .*$", f"guid: {uuid.uuid4()}", text)
        md = re.sub(r"(?m)^number: .*$", f"number: {1000 + i}", md)
        (root / "episodes" / new / "episode.md").write_text(md)
        shutil.copytree(root / "feeds" / "episodes" / slug, root / "feeds" / "episodes" / new)
        for kept in ("work", "reports"):
            if (root / ".kindcast" / kept / slug).is_dir():
                shutil.copytree(root / ".kindcast" / kept / slug, root / ".kindcast" / kept / new)
        for f in (root / "feeds" / "episodes" / new).rglob(f"{slug}.*"):
            f.rename(f.with_name(f.name.replace(slug, new)))
        (root / ".kindcast" / "state" / f"{new}.json").write_text(state.replace(slug, new))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--grow", type=int, default=0, metavar="N", help="clone episodes until the show has N")
    args = parser.parse_args()
    if args.grow:
        grow(args.root, args.grow)
        subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(args.root)], capture_output=True)
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
