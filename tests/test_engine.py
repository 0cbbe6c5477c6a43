"""The build engine with small real stages: skip what is fresh, say why, record only after success, isolate failures.

These tests swap the stage list (``pipeline.engine.build.episode_stages``) for small stages that really read and write files,
so they exercise the engine alone; the real stages are exercised by their own tests and by test_e2e.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import pipeline.engine.build as build_mod
from pipeline.engine.build import build, state_path
from pipeline.errors import KindcastError
from pipeline.fsutil import write_bytes, write_text
from pipeline.engine.stage import Stage
from pipeline.stages.probe import ProbeStage

from conftest import synth, write_episode

RUNS: list[tuple[str, str]] = []


class CopyStage(Stage):
    """Copies the recording into the published folder (reversed bytes, so it is real work), counting each run."""

    name = "copy"

    def inputs(self, ctx):
        return [ctx.episode.recording]

    def outputs(self, ctx):
        return [ctx.out_dir / "copy.bin"]

    def params(self, ctx):
        return {"title": ctx.episode.meta.title}

    def run(self, ctx):
        RUNS.append((ctx.episode.slug, self.name))
        if "explode" in ctx.episode.meta.title:
            raise KindcastError(f"{ctx.episode.slug}: title: this episode is set to fail")
        if "bug" in ctx.episode.meta.title:
            raise ZeroDivisionError("a bug")
        data = ctx.episode.recording.read_bytes()[::-1]
        write_bytes(ctx.out_dir / "copy.bin", data)
        return {"bytes": len(data), "duration": ctx.results["probe"]["duration"]}


class ListStage(Stage):
    """A show-level stage: lists every episode's copy size."""

    name = "list"

    def params(self, ctx):
        return {"episodes": [[r.episode.slug, r.results.get("copy", {}).get("bytes")] for r in ctx.episodes]}

    def outputs(self, ctx):
        return [ctx.out_dir / "list.txt"]

    def run(self, ctx):
        RUNS.append(("show", self.name))
        lines = [f"{r.episode.slug} {r.results['copy']['bytes']}" for r in ctx.episodes if "copy" in r.results]
        write_text(ctx.out_dir / "list.txt", "\n".join(lines) + "\n")
        return {"count": len(lines)}


@pytest.fixture
def engine(monkeypatch):
    monkeypatch.setattr(build_mod, "episode_stages", lambda: [ProbeStage(), CopyStage()])
    monkeypatch.setattr(build_mod, "show_stages", lambda: [ListStage()])
    RUNS.clear()
    return RUNS


def episode(root: Path, slug: str, tmp_path: Path, title: str = "Title", seconds: float = 2, freq: int = 300):
    audio = synth(tmp_path / f"{slug}.wav", f"sine=f={freq}", seconds)
    return write_episode(root, slug, {"title": title, "date": "2026-01-05", "guid": f"g-{slug}"}, audio)


def snapshot(folder: Path) -> dict:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_second_build_skips_everything_and_rewrites_nothing(engine, show_root, tmp_path):
    episode(show_root, "one", tmp_path)
    episode(show_root, "two", tmp_path, freq=400)
    first = build(show_root)
    assert first.ok and first.ran("one") == ["probe", "copy"] and first.ran("_show") == ["list"]
    before = snapshot(show_root / "feeds")
    engine.clear()
    second = build(show_root)
    assert second.ok and engine == []
    assert snapshot(show_root / "feeds") == before


def test_changes_rerun_only_what_depends_on_them(engine, show_root, tmp_path):
    folder = episode(show_root, "one", tmp_path)
    episode(show_root, "two", tmp_path, freq=400)
    build(show_root)
    engine.clear()
    # touched but unchanged: no run
    os.utime(folder / "one.wav", ns=(1, 1))
    assert build(show_root).ran("one") == [] and engine == []
    # new content: probe and copy run for that episode only, then the show stage
    synth(folder / "one.wav", "sine=f=500", 3)
    report = build(show_root)
    assert report.ran("one") == ["probe", "copy"] and report.ran("two") == [] and report.ran("_show") == ["list"]
    # metadata the stage depends on
    text = (folder / "episode.md").read_text().replace("title: Title", "title: Retitled")
    (folder / "episode.md").write_text(text)
    assert build(show_root).ran("one") == ["copy"]


def test_status_says_why(engine, show_root, tmp_path):
    episode(show_root, "one", tmp_path)
    report = build(show_root, dry=True)
    assert [r.reason for r in report.episodes["one"].runs] == ["never built", "never built"]
    build(show_root)
    (show_root / "feeds" / "episodes" / "one" / "copy.bin").unlink()
    runs = build(show_root, dry=True).episodes["one"].runs
    assert runs[0].reason is None
    assert runs[1].reason == "output missing: feeds/episodes/one/copy.bin"
    assert build(show_root).ran("one") == ["copy"]
    (show_root / "feeds" / "episodes" / "one" / "copy.bin").write_bytes(b"tampered")
    assert build(show_root, dry=True).episodes["one"].runs[1].reason.startswith("output changed")


def test_one_failing_episode_does_not_stop_the_others(engine, show_root, tmp_path):
    episode(show_root, "good", tmp_path)
    episode(show_root, "bad", tmp_path, title="explode please")
    episode(show_root, "buggy", tmp_path, title="a bug here")
    report = build(show_root)
    assert not report.ok
    assert report.episodes["good"].ran == ["probe", "copy"]
    assert report.episodes["bad"].error == "copy: bad: title: this episode is set to fail"
    assert report.episodes["bad"].trace is None
    assert "ZeroDivisionError" in report.episodes["buggy"].trace
    # nothing recorded for the failed stage, so the next build tries it again
    engine.clear()
    build(show_root)
    assert ("bad", "copy") in engine and ("good", "copy") not in engine


def test_failed_stage_records_nothing_and_next_build_repairs(engine, show_root, tmp_path, monkeypatch):
    episode(show_root, "one", tmp_path)

    def interrupted(self, ctx):
        (ctx.out_dir).mkdir(parents=True, exist_ok=True)
        (ctx.out_dir / ".copy.tmp123.bin").write_bytes(b"half")  # what a killed writer leaves at most
        raise KeyboardInterrupt

    monkeypatch.setattr(CopyStage, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(show_root)
    monkeypatch.undo()
    monkeypatch.setattr(build_mod, "episode_stages", lambda: [ProbeStage(), CopyStage()])
    monkeypatch.setattr(build_mod, "show_stages", lambda: [ListStage()])
    import json

    # nothing was published; the staged attempt remembers what it finished
    assert not state_path(show_root, "one").exists() and not (show_root / "feeds" / "episodes" / "one").exists()
    staged = json.loads((show_root / ".kindcast" / "stage" / "one" / "state.json").read_text())["stages"]
    assert "probe" in staged and "copy" not in staged
    report = build(show_root)
    assert report.ran("one") == ["copy"] and report.ok
    assert (show_root / "feeds" / "episodes" / "one" / "copy.bin").is_file()
    assert not (show_root / ".kindcast" / "stage" / "one").exists()
    assert not list((show_root / "feeds").rglob(".*tmp*"))


def test_invalid_episode_is_reported_and_others_build(engine, show_root, tmp_path):
    episode(show_root, "good", tmp_path)
    write_episode(show_root, "broken", {"date": "2026-01-01"})
    report = build(show_root)
    assert "broken" in report.invalid and report.ran("good") == ["probe", "copy"] and not report.ok


def test_renamed_folder_prunes_old_outputs(engine, show_root, tmp_path):
    folder = episode(show_root, "old-name", tmp_path)
    build(show_root)
    folder.rename(folder.parent / "new-name")
    report = build(show_root)
    assert report.pruned == ["old-name"]
    assert not (show_root / "feeds" / "episodes" / "old-name").exists()
    assert (show_root / "feeds" / "episodes" / "new-name" / "copy.bin").is_file()


def test_a_published_episode_that_fails_is_held_and_the_rest_of_the_show_updates(engine, show_root, tmp_path):
    folder = episode(show_root, "one", tmp_path)
    two = episode(show_root, "two", tmp_path, freq=400)
    build(show_root)
    published_one = (show_root / "feeds" / "episodes" / "one" / "copy.bin").read_bytes()
    (folder / "episode.md").write_text((folder / "episode.md").read_text().replace("title: Title", "title: explode"))
    synth(folder / "one.wav", "sine=f=700", 3)  # a new recording: the failing rebuild must not publish it
    synth(two / "two.wav", "sine=f=500", 3)  # the other episode changes too, and that must reach the feed
    report = build(show_root)
    assert report.episodes["one"].failed and "one" in report.held and not report.ok
    assert (show_root / "feeds" / "episodes" / "one" / "copy.bin").read_bytes() == published_one
    two_bytes = (show_root / "feeds" / "episodes" / "two" / "copy.bin").stat().st_size
    assert (show_root / "feeds" / "list.txt").read_text() == f"one {len(published_one)}\ntwo {two_bytes}\n"
    # a new episode that fails is not held: it is simply not listed yet
    new = episode(show_root, "three", tmp_path, title="explode")
    report = build(show_root)
    assert report.episodes["three"].failed and "three" not in report.held
    assert "three" not in (show_root / "feeds" / "list.txt").read_text()
    assert new.is_dir()


class UnsortedResultStage(Stage):
    """Returns a result whose keys are not in sorted order (the state file stores them sorted)."""

    name = "unsorted"

    def run(self, ctx):
        return {"square": 1, "vertical": 2, "landscape": 3}


class OrderDependentStage(Stage):
    """Its params follow the order of an upstream result's keys, as templates iterating over a dict do."""

    name = "ordered"

    def params(self, ctx):
        return {"order": list(ctx.results["unsorted"])}

    def run(self, ctx):
        RUNS.append((ctx.episode.slug, self.name))
        return {}


def test_downstream_params_are_the_same_whether_upstream_ran_now_or_before(monkeypatch, show_root, tmp_path):
    monkeypatch.setattr(build_mod, "episode_stages", lambda: [UnsortedResultStage(), OrderDependentStage()])
    monkeypatch.setattr(build_mod, "show_stages", lambda: [])
    RUNS.clear()
    episode(show_root, "one", tmp_path)
    assert build(show_root).ran("one") == ["unsorted", "ordered"]
    assert build(show_root).ran("one") == []


def test_a_stage_reruns_when_its_code_changes_but_not_for_comments_or_docstrings(tmp_path, monkeypatch):
    """Fingerprints follow the code: a stage's ``code`` modules are digested without comments and docstrings."""
    import sys

    from pipeline.engine.stage import code_digest, use_code_cache

    package = tmp_path / "pkgs" / "kc_fake"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A family."""\n')
    module = package / "work.py"
    module.write_text('"""Does the work."""\n\ndef gain():\n    return 3  # a comment\n')
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    use_code_cache(tmp_path / "code.json")
    first = code_digest(("kc_fake",))
    module.write_text('"""Does the work, said better."""\n\n\ndef gain():\n    # why three\n    return 3\n')
    code_digest.cache_clear()
    assert code_digest(("kc_fake",)) == first
    module.write_text('"""Does the work."""\n\ndef gain():\n    return 4\n')
    os.utime(module, (module.stat().st_mtime + 2,) * 2)
    code_digest.cache_clear()
    assert code_digest(("kc_fake",)) != first
    sys.modules.pop("kc_fake", None)


class CodedStage(CopyStage):
    name = "coded"
    code = ("kc_fake2",)


def test_the_engine_reruns_a_stage_whose_code_changed(show_root, tmp_path, monkeypatch):
    package = tmp_path / "pkgs" / "kc_fake2"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    monkeypatch.setattr(build_mod, "episode_stages", lambda: [ProbeStage(), CodedStage()])
    monkeypatch.setattr(build_mod, "show_stages", lambda: [])
    episode(show_root, "one", tmp_path)
    assert build(show_root).ran("one") == ["probe", "coded"]
    assert build(show_root).ran("one") == []
    (package / "__init__.py").write_text("VALUE = 2\n")
    later = (package / "__init__.py").stat().st_mtime + 2
    os.utime(package / "__init__.py", (later, later))  # same size: make sure the stat moves on a coarse clock
    report = build(show_root)
    assert report.ran("one") == ["coded"]
    status = build(show_root, dry=True)
    assert status.episodes["one"].runs[1].reason is None


# --- a build with nothing to do, answered from .kindcast/unchanged.json (pipeline/engine/unchanged.py) ---------------

def test_a_build_that_ran_nothing_vouches_for_the_next_until_anything_moves(show_root, tmp_path, engine, monkeypatch):
    from datetime import datetime, timedelta, timezone

    from pipeline.engine import unchanged

    one = episode(show_root, "one", tmp_path)
    assert build(show_root).ran("one") == ["probe", "copy"]
    assert unchanged.answer(show_root) is None  # that build did work: it vouches for nothing
    report = build(show_root)
    assert report.ran("one") == [] and report.ok
    lines = unchanged.answer(show_root)
    assert lines is not None and lines[-1] == (False, "0 episodes built, 1 up to date, 0 failed")

    def moved(change) -> None:
        change()
        assert unchanged.answer(show_root) is None, change
        build(show_root)  # the full check (re-running what the change asks for), then vouching again
        build(show_root)
        assert unchanged.answer(show_root) is not None, change

    md = one / "episode.md"
    moved(lambda: os.utime(md, ns=(md.stat().st_atime_ns, md.stat().st_mtime_ns + 10**9)))  # touched, same text
    moved(lambda: (one / "notes.txt").write_text("a file dropped in"))  # the folder changed
    moved(lambda: (show_root / "feeds" / "episodes" / "one" / "copy.bin").unlink())  # an output deleted
    moved(lambda: (show_root / "feeds" / "list.txt").write_text("edited by hand\n"))
    moved(lambda: (show_root / "templates").mkdir())  # the show's templates appear
    monkeypatch.setenv("KINDCAST_SOMETHING", "1")
    assert unchanged.answer(show_root) is None  # the environment that steers a build changed
    build(show_root)
    assert unchanged.answer(show_root) is not None
    # forced or partial builds run in full and leave nothing to vouch with
    build(show_root, force=True)
    assert unchanged.answer(show_root) is None
    build(show_root)
    build(show_root, only="one")
    assert unchanged.answer(show_root) is None
    # a scheduled episode: the answer holds only until it falls due
    build(show_root)
    soon = datetime.now(timezone.utc) + timedelta(seconds=3)
    audio = synth(tmp_path / "later.wav", "sine=f=500", 2)
    write_episode(show_root, "later", {"title": "Later", "date": soon.isoformat(), "guid": "g-later"}, audio)
    build(show_root)
    build(show_root)
    assert unchanged.answer(show_root) is not None
    import time

    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    assert unchanged.answer(show_root) is None


def test_a_failed_build_vouches_for_nothing(show_root, tmp_path, engine):
    from pipeline.engine import unchanged

    episode(show_root, "one", tmp_path, title="explode now")
    build(show_root)
    assert not build(show_root).ok
    assert unchanged.answer(show_root) is None
