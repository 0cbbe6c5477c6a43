#!/usr/bin/env python3
"""What the notes and site stages cost: notes params for one episode and the site's params for a show of N episodes
(both paid on every build, even a no-op one), then a full site run and an unchanged re-run. Medians of several runs.

    python scripts/bench_site.py [--episodes 300] [--repeat 5]
    python scripts/bench_site.py --search 100 [--minutes 60]

``--search N`` measures the search index instead: N episodes with a transcript of ``--minutes`` of speech each
(about 150 words a minute, sentences drawn at random from the English passages in tests/data/conditions/): how long
building the index takes, its size on disk, and what one query fetches (the largest shard, one episode's paragraphs).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--search", type=int, default=0, metavar="N")
    parser.add_argument("--minutes", type=float, default=60)
    args = parser.parse_args()
    if args.search:
        bench_search(args.search, args.minutes)
        return

    from conftest import make_show, synth, write_episode
    from test_notes import NOTES, upstream_results

    from pipeline.show import load_project
    from pipeline.engine.stage import EpisodeContext, EpisodeRecord, ShowContext
    from pipeline.stages.notes import NotesStage
    from pipeline.stages.site import SiteStage

    with tempfile.TemporaryDirectory() as tmp:
        root = make_show(Path(tmp) / "show")
        raw = synth(Path(tmp) / "raw.wav", "sine=f=300", 1)
        write_episode(root, "ep", {"title": "T", "date": "2026-10-01", "guid": "g"}, raw, notes=NOTES * 3)
        project = load_project(root)
        template = project.episodes[0]
        records = []
        for n in range(args.episodes):  # the same episode under N names: loading N recordings is not measured here
            ep = replace(template, slug=f"ep-{n:04d}",
                         meta=template.meta.model_copy(update={"title": f"Episode {n}", "number": n + 1}))
            records.append(EpisodeRecord(ep, upstream_results(ep.slug)))

        notes = NotesStage()
        nctx = EpisodeContext(show=project.show, episode=records[0].episode, results=records[0].results)
        print(f"notes params (one episode):      {1000 * median_seconds(lambda: notes.params(nctx), args.repeat * 4):7.1f} ms")
        print(f"notes run (one episode):         {1000 * median_seconds(lambda: notes.run(nctx), args.repeat):7.1f} ms")
        for rec in records:
            rec.results["notes"] = {"summary": "A summary.", "description_html": "<p>A summary.</p>"}
        site = SiteStage()
        ctx = ShowContext(show=project.show, episodes=records)
        print(f"site params ({args.episodes} episodes):     {1000 * median_seconds(lambda: site.params(ctx), args.repeat):7.1f} ms")
        print(f"site inputs (template lookup):   {1000 * median_seconds(lambda: site.inputs(ctx), args.repeat):7.1f} ms")
        started = time.perf_counter()
        first = site.run(ctx)
        print(f"site first run:                  {1000 * (time.perf_counter() - started):7.1f} ms, {first['written']} pages written")
        again = []
        print(f"site unchanged re-run:           {1000 * median_seconds(lambda: again.append(site.run(ctx)), args.repeat):7.1f} ms, "
              f"{again[-1]['written']} pages written")
        size = (ctx.out_dir / "index.html").stat().st_size
        print(f"index.html:                      {size / 1024:7.1f} KiB")


def bench_search(episodes: int, minutes: float) -> None:
    import random
    import re

    import yaml

    from pipeline.speech.transcript import Word, paragraphs
    from pipeline.web.pages import PAGE_PARAGRAPH_CHARS, PAGE_PARAGRAPH_GAP
    from pipeline.web.search import build_index

    sentences = []
    for path in sorted((REPO / "tests" / "data" / "conditions").glob("*.yaml")):
        for text in re.findall(r"[A-Z][^.!?]{20,}[.!?]", yaml.safe_dump(yaml.safe_load(path.read_text()))):
            sentences.append(" ".join(text.split()))
    rng = random.Random(16)
    data = []
    for n in range(episodes):
        words, t = [], 0.0
        while t < minutes * 60:
            for token in rng.choice(sentences).split():
                words.append(Word(t, t + 0.3, token))
                t += 0.4
            t += rng.choice([0.3, 0.6, 3.0])
        paras = [{"start": p.start, "speaker": None, "text": p.text}
                 for p in paragraphs(words, PAGE_PARAGRAPH_CHARS, PAGE_PARAGRAPH_GAP)]
        data.append({"slug": f"ep-{n:04d}", "title": f"Episode {n}", "date": "2026-01-01",
                     "notes": ["Some notes."], "transcript": paras, "words": len(words)})
    started = time.perf_counter()
    files = build_index(data)
    seconds = time.perf_counter() - started
    shards = {k: v for k, v in files.items() if "/index/" in k}
    docs = [v for k, v in files.items() if "/docs/" in k]
    total_words = sum(d["words"] for d in data)
    print(f"{episodes} episodes x {minutes:g} min ({total_words} words, {len(sentences)} source sentences)")
    print(f"index build:      {seconds:7.2f} s")
    print(f"all files:        {sum(map(len, files.values())) / 2**20:7.1f} MiB in {len(files)} files")
    print(f"shards:           {sum(map(len, shards.values())) / 2**20:7.1f} MiB in {len(shards)} files, "
          f"largest {max(map(len, shards.values())) / 2**10:.0f} KiB, median "
          f"{statistics.median(map(len, shards.values())) / 2**10:.1f} KiB")
    print(f"one episode's paragraphs: {statistics.median(map(len, docs)) / 2**10:.0f} KiB (median)")
    print(f"episodes.json:    {len(files['search/episodes.json']) / 2**10:7.1f} KiB")


if __name__ == "__main__":
    main()
