#!/usr/bin/env python3
"""How long the feed stage takes for a show of N episodes: its params (paid on every build, even a no-op one) and
a full run (render + write). Prints medians of several runs.

    python scripts/bench_feed.py [--episodes 300] [--repeat 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from conftest import make_show, synth, write_episode

    from pipeline.show import load_project
    from pipeline.engine.stage import EpisodeRecord, ShowContext
    from pipeline.stages.feed import FeedStage

    with tempfile.TemporaryDirectory() as tmp:
        root = make_show(Path(tmp) / "show")
        raw = synth(Path(tmp) / "raw.wav", "sine=f=300", 1)
        mp3 = synth(Path(tmp) / "a.mp3", "sine=f=300", 1, "-b:a", "32k")
        started = time.perf_counter()
        for n in range(args.episodes):
            write_episode(root, f"ep-{n:04d}", {"title": f"Episode {n}", "date": f"2026-01-{1 + n % 28:02d}",
                                                "guid": f"g-{n}", "number": n + 1}, raw)
        project = load_project(root)
        load_seconds = time.perf_counter() - started
        records = []
        for ep in project.episodes:
            out = root / "feeds" / "episodes" / ep.slug
            out.mkdir(parents=True, exist_ok=True)
            data = mp3.read_bytes()
            (out / f"{ep.slug}.mp3").write_bytes(data)
            for ext in ("vtt", "srt", "json"):
                (out / f"transcript.{ext}").write_text("x")
            records.append(EpisodeRecord(ep, {
                "master": {"file": f"{ep.slug}.mp3", "mime": "audio/mpeg", "bytes": len(data), "duration": 1.0,
                           "chapters": []},
                "transcribe": {"language": "en", "files": {e: f"transcript.{e}" for e in ("vtt", "srt", "json")}},
                "notes": {"description_html": f"<p>Notes for <strong>{ep.meta.title}</strong>.</p>"}}))
        ctx = ShowContext(show=project.show, episodes=records)
        stage = FeedStage()
        params, runs = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            stage.params(ctx)
            params.append(time.perf_counter() - t)
            (root / "feeds" / "feed.xml").unlink(missing_ok=True)
            t = time.perf_counter()
            stage.run(ctx)
            runs.append(time.perf_counter() - t)
        size = (root / "feeds" / "feed.xml").stat().st_size
    print(f"{args.episodes} episodes (setup + load_project {load_seconds:.1f} s); feed.xml {size / 1024:.0f} KiB")
    print(f"params (every build): median {statistics.median(params) * 1000:.1f} ms")
    print(f"run (model + render + write): median {statistics.median(runs) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
