#!/usr/bin/env python3
"""What a publish costs for a show of N episodes, to a local folder: the first publish (everything), a publish with
nothing changed (hash cache warm, and cold: every file hashed again), and how many bytes the manifest writes cost
next to the files sent. The tree is synthetic (random "audio", small text files, a feed naming them all), so no
build is needed. Prints medians of several runs.

    python scripts/bench_publish.py [--episodes 100] [--mb 5] [--repeat 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

SMALL = {"transcript.vtt": 6000, "transcript.srt": 6000, "transcript.json": 40000, "transcript.txt": 4000,
         "notes.html": 7000, "notes.md": 1500, "chapters.json": 800, "conditions.json": 300}


def make_tree(out: Path, episodes: int, mb: float) -> int:
    base = "https://example.org/podcast/"
    items = []
    total = 0
    for n in range(episodes):
        slug = f"ep-{n:04d}"
        folder = out / "episodes" / slug
        folder.mkdir(parents=True)
        size = int(mb * 1024 * 1024)
        (folder / f"{slug}.mp3").write_bytes(os.urandom(size))
        total += size
        for name, length in SMALL.items():
            (folder / name).write_bytes(os.urandom(length // 2).hex().encode())
            total += length
        items.append(f'<item><title>{slug}</title><link>{base}episodes/{slug}/notes.html</link>'
                     f'<enclosure url="{base}episodes/{slug}/{slug}.mp3" length="{size}" type="audio/mpeg"/>'
                     f'<podcast:transcript url="{base}episodes/{slug}/transcript.vtt" type="text/vtt"/></item>')
    (out / "index.html").write_text("<html></html>")
    (out / "feed.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:podcast="https://podcastindex.org/namespace/1.0"><channel><title>Bench</title>'
        f'<atom:link href="{base}feed.xml" rel="self"/>' + "".join(items) + "</channel></rss>")
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--mb", type=float, default=5.0, help="size of each episode's audio")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from conftest import make_show

    from pipeline.publish.destinations import FolderDestination
    from pipeline.publish.publisher import publish
    from pipeline.publish.tree import MANIFEST
    from pipeline.show import load_show

    class CountingFolder(FolderDestination):
        manifest_bytes = 0
        manifest_writes = 0

        def write(self, rel, data, content_type, cache_control):
            if rel == MANIFEST:
                CountingFolder.manifest_bytes += len(data)
                CountingFolder.manifest_writes += 1
            super().write(rel, data, content_type, cache_control)

    with tempfile.TemporaryDirectory() as tmp:
        root = make_show(Path(tmp) / "show")
        total = make_tree(root / "feeds", args.episodes, args.mb)
        show, problems = load_show(root)
        assert show is not None, problems
        files = sum(1 for p in (root / "feeds").rglob("*") if p.is_file())
        print(f"tree: {args.episodes} episodes, {files} files, {total / 2**20:.0f} MB")
        cache = root / ".kindcast" / "publish" / "hashes.json"

        first, sent = [], 0
        for _ in range(args.repeat):
            dest_dir = Path(tmp) / "www"
            shutil.rmtree(dest_dir, ignore_errors=True)
            cache.unlink(missing_ok=True)
            CountingFolder.manifest_bytes = CountingFolder.manifest_writes = 0
            started = time.perf_counter()
            report = publish(show, CountingFolder(dest_dir), notify=False)
            first.append(time.perf_counter() - started)
            sent = report.uploaded_bytes
        print(f"first publish: {statistics.median(first):.2f} s (median of {args.repeat}), {sent / 2**20:.0f} MB "
              f"sent; manifest: {CountingFolder.manifest_writes} writes, {CountingFolder.manifest_bytes / 2**20:.2f} MB"
              f" ({100 * CountingFolder.manifest_bytes / max(sent, 1):.1f}% of the bytes sent)")

        for label, cold in (("nothing changed, hashes cached", False), ("nothing changed, every file hashed", True)):
            runs = []
            for _ in range(args.repeat):
                if cold:
                    cache.unlink(missing_ok=True)
                started = time.perf_counter()
                report = publish(show, CountingFolder(Path(tmp) / "www"), notify=False)
                runs.append(time.perf_counter() - started)
                assert not report.uploads and not report.deletions
            print(f"{label}: {statistics.median(runs):.2f} s (median of {args.repeat}), 0 files sent")


if __name__ == "__main__":
    main()
