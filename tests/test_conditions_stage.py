"""The tag stage: manual tags win, suggestions above the threshold with timed evidence, evidence for the manual tags
too (weighed double by the audiogram's clip picker), framing kept out, conditions.json written."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import kindcast, synth, write_episode
from pipeline.show import load_project
from pipeline.engine.stage import EpisodeContext
from pipeline.stages.tag import TagStage

RUMOUR = [
    ("Hana Host", "Welcome back to Test Show everyone, it's good to be here."),
    ("Guest", "Last spring a rumour spread on social media that the families in the new flats were getting free cars."),
    ("Guest", "It was completely false, so we asked the imam, the vicar and the chemist to record short videos with "
              "the real facts."),
    ("Hana Host", "And on Saturdays the football club puts kids from both estates on the same team, which breaks down "
                  "a lot of barriers between them."),
]


def write_transcript(path: Path, lines, start: float = 0.0) -> Path:
    segments, t = [], start
    for speaker, text in lines:
        for word in text.split():
            segments.append({"startTime": round(t, 2), "endTime": round(t + 0.3, 2), "body": word, "speaker": speaker})
            t += 0.4
        t += 0.5
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": "1.0.0", "segments": segments}))
    return path


def context(root: Path, slug: str) -> EpisodeContext:
    project = load_project(root)
    assert not project.problems, project.problems
    episode = next(e for e in project.episodes if e.slug == slug)
    return EpisodeContext(project.show, episode)


@pytest.fixture
def tone(tmp_path) -> Path:
    return synth(tmp_path / "src" / "tone.wav", "sine=f=300", 2)


def test_manual_tags_win_and_suggestions_carry_timed_evidence(show_root, tone):
    write_episode(show_root, "ep1", {"title": "One", "date": "2026-03-01", "conditions": ["social-mixing"]}, audio=tone)
    ctx = context(show_root, "ep1")
    stage = TagStage()
    write_transcript(ctx.out_dir / "transcript.json", RUMOUR, start=12.0)
    assert stage.inputs(ctx) == [ctx.out_dir / "transcript.json"]
    result = stage.run(ctx)
    assert result["manual"] == [2]
    ids = [s["id"] for s in result["suggested"]]
    assert ids and ids[0] == 4, result
    assert 2 not in ids, "a manual tag is never repeated as a suggestion"
    assert len(ids) <= 3 and all(s["score"] >= 0.5 for s in result["suggested"])
    ev = result["suggested"][0]["evidence"]
    assert any("rumour" in e["text"] for e in ev)
    assert all(isinstance(e["start"], float) and 12.0 <= e["start"] < e["end"] for e in ev)
    assert not any("Test Show" in e["text"] for s in result["suggested"] for e in s["evidence"])
    doc = json.loads((ctx.out_dir / "conditions.json").read_text())
    assert doc["manual"][0]["slug"] == "social-mixing" and doc["suggested"] == result["suggested"]
    assert len(doc["ranking"]) == 10 and doc["threshold"] == 0.5
    assert doc["read"] == {"sentences": 3, "of": 3, "framing": 1}, "the whole transcript was read, the intro set aside"
    # the producer's own tag carries the suggester's evidence for it, and the clip picker weighs it double
    (mine,) = result["manual_evidence"]
    assert mine["id"] == 2 and doc["manual"][0]["evidence"] == mine["evidence"]
    assert any("same team" in e["text"] and e["start"] >= 12.0 for e in mine["evidence"]), mine
    from pipeline.video.clips import tag_evidence

    spans = tag_evidence(result)
    assert all((e["start"], e["end"], 2.0) in spans for e in mine["evidence"])
    assert all((e["start"], e["end"], s["score"]) in spans for s in result["suggested"] for e in s["evidence"])
    assert len(spans) == len(mine["evidence"]) + sum(len(s["evidence"]) for s in result["suggested"])


def test_threshold_and_max_suggestions_come_from_settings(tmp_path, tone):
    from conftest import make_show

    root = make_show(tmp_path / "show", settings={"conditions": {"suggest_threshold": 0.0, "max_suggestions": 2}})
    write_episode(root, "ep1", {"title": "One", "date": "2026-03-01", "conditions": [4]}, audio=tone)
    ctx = context(root, "ep1")
    write_transcript(ctx.out_dir / "transcript.json", RUMOUR)
    result = TagStage().run(ctx)
    assert result["manual"] == [4]
    assert len(result["suggested"]) == 2 and 4 not in [s["id"] for s in result["suggested"]]

    root2 = make_show(tmp_path / "show2", settings={"conditions": {"suggest_threshold": 1.0}})
    write_episode(root2, "ep1", {"title": "One", "date": "2026-03-01"}, audio=tone)
    ctx2 = context(root2, "ep1")
    write_transcript(ctx2.out_dir / "transcript.json", RUMOUR)
    assert TagStage().run(ctx2) == {"manual": [], "suggested": [], "manual_evidence": []}
    assert TagStage().params(ctx) != TagStage().params(ctx2)


def test_without_a_transcript_only_manual_tags_are_recorded(show_root, tone):
    write_episode(show_root, "ep1", {"title": "One", "date": "2026-03-01", "conditions": [9, 1]}, audio=tone)
    ctx = context(show_root, "ep1")
    result = TagStage().run(ctx)
    assert result == {"manual": [9, 1], "suggested": [], "manual_evidence": []}
    assert json.loads((ctx.out_dir / "conditions.json").read_text())["transcript"] is None


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")
def test_build_tags_a_spoken_episode(show_root, tmp_path):
    """The whole pipeline: espeak-ng speech -> master -> transcribe (real Whisper) -> tag -> conditions.json."""
    wav = tmp_path / "src" / "talk.wav"
    wav.parent.mkdir(parents=True)
    text = ("A rumour spread on social media that the new families were getting free cars. "
            "It was false, so the imam and the vicar recorded videos with the real facts, "
            "to stop the misinformation about our neighbours.")
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(wav), text], check=True)
    write_episode(show_root, "talk", {"title": "Talk", "date": "2026-03-01", "conditions": ["kind-policy"]}, audio=wav)
    proc = kindcast("--root", show_root, "build", "--episode", "talk")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((show_root / "feeds" / "episodes" / "talk" / "conditions.json").read_text())
    assert [m["id"] for m in doc["manual"]] == [10]
    assert doc["suggested"] and doc["suggested"][0]["id"] == 4, doc
    assert doc["suggested"][0]["evidence"][0]["start"] is not None
    again = kindcast("--root", show_root, "status", "--episode", "talk")
    assert any(line.split()[1:] == ["tag", "up", "to", "date"] for line in again.stdout.splitlines()), again.stdout
