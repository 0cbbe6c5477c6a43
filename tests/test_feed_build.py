"""The feed stage inside the real build engine: freshness, adding an episode, a scheduled episode going live.

The per-episode stage list is swapped for probe plus a small stand-in for mastering that really encodes the
recording to MP3 with ffmpeg and returns the master result contract, so these tests exercise the engine and the feed
stage together without waiting for the real mastering chain.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, ffmpeg_exe, make_show, synth, write_episode

import pipeline.engine.build as build_mod
from pipeline.engine.build import SHOW_UNIT, build
from pipeline.engine.stage import Stage
from pipeline.stages.feed import FeedStage
from pipeline.stages.probe import ProbeStage

RUNS: list[tuple[str, str]] = []


class EncodeStage(Stage):
    """Stand-in for mastering: the recording as a 32 kb/s MP3 in the published folder, with master's result keys."""

    name = "master"

    def inputs(self, ctx):
        return [ctx.episode.recording]

    def outputs(self, ctx):
        return [ctx.out_dir / f"{ctx.episode.slug}.mp3"]

    def run(self, ctx):
        from pipeline.fsutil import atomic_path
        from pipeline.media import probe_audio

        RUNS.append((ctx.episode.slug, self.name))
        out = ctx.out_dir / f"{ctx.episode.slug}.mp3"
        with atomic_path(out) as tmp:
            subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(ctx.episode.recording),
                            "-ac", "1", "-b:a", "32k", str(tmp)], check=True)
        duration = probe_audio(out).duration
        return {"file": out.name, "mime": "audio/mpeg", "bytes": out.stat().st_size, "duration": duration,
                "chapters": [], "timeline": {"segments": [[0.0, duration, 0.0]], "offset": 0.0}}


class CountingFeedStage(FeedStage):
    def run(self, ctx):
        RUNS.append(("show", self.name))
        return super().run(ctx)


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(build_mod, "episode_stages", lambda: [ProbeStage(), EncodeStage()])
    monkeypatch.setattr(build_mod, "show_stages", lambda: [CountingFeedStage()])
    RUNS.clear()
    return RUNS


def add(root: Path, slug: str, date: str, audio: Path, title: str | None = None) -> Path:
    return write_episode(root, slug, {"title": title or slug.title(), "date": date, "guid": f"guid-{slug}"}, audio)


def guids(root: Path) -> list[str]:
    from lxml import etree

    return [i.findtext("guid") for i in etree.parse(str(root / "feeds" / "feed.xml")).getroot().iter("item")]


def test_feed_in_the_engine(engine, tmp_path, monkeypatch):
    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "a.wav", "sine=f=300", 3)
    add(root, "first", "2026-01-05", audio)
    add(root, "later", "2099-06-01", audio)  # scheduled

    report = build(root)
    assert report.ok, report
    assert report.ran(SHOW_UNIT) == ["feed"]
    assert guids(root) == ["guid-first"]
    feed = root / "feeds" / "feed.xml"
    before = feed.stat().st_mtime_ns

    # nothing changed: nothing runs, the feed is not touched
    RUNS.clear()
    report = build(root)
    assert RUNS == [] and report.ran(SHOW_UNIT) == [] and report.ran("first") == []
    assert feed.stat().st_mtime_ns == before

    # adding an episode runs that episode's stages only, and the feed again
    add(root, "second", "2026-02-01", audio)
    RUNS.clear()
    report = build(root)
    assert report.ran("first") == [] and report.ran("later") == []
    assert report.ran("second") == ["probe", "master"]
    assert RUNS == [("second", "master"), ("show", "feed")]
    assert guids(root) == ["guid-second", "guid-first"]

    # the scheduled episode's date passes: the feed's params change, so the next build publishes it
    from datetime import datetime, timezone

    later = datetime(2099, 6, 2, tzinfo=timezone.utc)
    monkeypatch.setattr(build_mod, "show_stages", lambda: [CountingFeedStage(now=lambda: later)])
    RUNS.clear()
    report = build(root)
    assert RUNS == [("show", "feed")]
    assert guids(root) == ["guid-later", "guid-second", "guid-first"]


def test_renamed_folder_keeps_its_guid_through_the_engine(engine, tmp_path):
    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "a.wav", "sine=f=300", 3)
    folder = add(root, "old-name", "2026-01-05", audio, title="Old title")
    assert build(root).ok
    assert guids(root) == ["guid-old-name"]
    md = folder / "episode.md"
    md.write_text(md.read_text().replace("Old title", "New title"))
    folder.rename(root / "episodes" / "new-name")
    report = build(root)
    assert report.ok and report.pruned == ["old-name"]
    data = (root / "feeds" / "feed.xml").read_text()
    assert guids(root) == ["guid-old-name"]
    assert "New title" in data and "episodes/new-name/new-name.mp3" in data and "old-name.mp3" not in data
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "validate_feed.py"), str(root / "feeds/feed.xml"),
                           "--published", str(root / "feeds")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout
