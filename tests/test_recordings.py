"""Recordings that are not what they seem, through the real command line: files that are not audio, truncated and
damaged recordings, a loudness target that cannot be met, and 8-channel and 96 kHz recordings built end to end.
Each case asserts its exact outcome: the exit code, one line naming the episode and file and what is wrong, and no
traceback."""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import cut_file, damage_file, ffmpeg_exe, kindcast, make_show, synth, write_episode


def tone_over_noise(path: Path, seconds: float, *codec: str) -> Path:
    return synth(path, "sine=f=220:sample_rate=44100,volume=0.3", seconds, "-filter_complex",
                 "anoisesrc=a=0.05:seed=1:sample_rate=44100[n];[0:a][n]amix=inputs=2:duration=shortest",
                 "-ac", "2", *codec)


def front(n: int, title: str, **more) -> dict:
    return {"title": title, "date": f"2026-01-{n:02d}", "number": n, "guid": f"rec-{n}", **more}


def test_check_names_each_unreadable_or_truncated_recording(tmp_path):
    root = make_show(tmp_path / "show")
    made = tmp_path / "made"
    made.mkdir()
    cases: dict[str, tuple[Path, str]] = {}
    for i, ext in enumerate(("mp3", "wav", "flac", "m4a"), start=1):
        noise = made / f"noise{i}" / f"recording.{ext}"
        noise.parent.mkdir()
        noise.write_bytes(random.Random(i).randbytes(150_000))
        cases[f"random-{ext}"] = (noise, r"recording\.%s: not a readable audio file \(.+\)" % ext)
    text = made / "notes.mp3"
    text.write_text("Notes for the episode, saved with the wrong name.\n" * 30)
    cases["text"] = (text, r"notes\.mp3: not a readable audio file \(Invalid data found when processing input: "
                           r"Failed to find two consecutive MPEG audio frames\)")
    empty = made / "empty.mp3"
    empty.write_bytes(b"")
    cases["empty"] = (empty, r"empty\.mp3: empty file \(0 bytes\)")
    for ext, codec in (("flac", ["-c:a", "flac"]), ("mp3", ["-c:a", "libmp3lame", "-b:a", "96k"])):
        whole = tone_over_noise(made / f"whole.{ext}", 40.0, *codec)
        cases[f"half-{ext}"] = (cut_file(whole, made / f"half.{ext}", 0.5),
                                r"half\.%s: truncated or damaged: it decodes to (1[89]|2[01])\.\d s of the 40\.0 s "
                                r"its header announces \(an incomplete copy or export\?\)" % ext)
    # chapters past a guessed duration must not be reported: the recording is the problem, and only it
    chapters = [{"start": 0, "title": "Start"}, {"start": "1:10", "title": "Later"}]
    for n, (slug, (path, _)) in enumerate(sorted(cases.items()), start=1):
        write_episode(root, slug, front(n, slug, chapters=chapters), path)
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(cases), proc.stderr  # one line per episode, nothing else
    for slug, (_, message) in cases.items():
        pattern = r"error: episodes/%s/episode\.md: audio: %s$" % (re.escape(slug), message)
        assert any(re.match(pattern, line) for line in errors), (slug, proc.stderr)
    assert "zero-length" not in proc.stderr and "chapters" not in proc.stderr


def test_build_fails_damaged_recordings_and_warns_of_a_glitch_and_a_missed_loudness(tmp_path):
    # a loudness the limiter cannot reach under this ceiling: the target is missed, and said
    root = make_show(tmp_path / "show", settings={"loudness": {"target_lufs": -5, "true_peak": -9},
                                                  "audiogram": {"sizes": ["square"]}})
    made = tmp_path / "made"
    made.mkdir()
    codecs = {"mp3": ["-c:a", "libmp3lame", "-b:a", "96k"], "flac": ["-c:a", "flac"],
              "m4a": ["-c:a", "aac", "-b:a", "64k"]}
    for n, (ext, codec) in enumerate(codecs.items(), start=1):
        clean = tone_over_noise(made / f"clean.{ext}", 40.0, *codec)
        bad = damage_file(clean, made / f"take-{n}.{ext}", at=0.5, nbytes=65536 if ext == "flac" else 16384, seed=n)
        write_episode(root, f"damaged-{ext}", front(n, f"Damaged {ext}"), bad)
    clean = tone_over_noise(made / "short.flac", 12.0, "-c:a", "flac")
    glitch = damage_file(clean, made / "glitch.flac", at=0.5, nbytes=8192, seed=3)
    write_episode(root, "glitch", front(9, "A small glitch"), glitch)

    proc = kindcast("build", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    for n, ext in enumerate(codecs, start=1):
        pattern = (r"failed: damaged-%s: master: damaged-%s: take-%d\.%s: damaged audio around 0:(1[789]|20)-0:(\d\d) "
                   r"\(\d+ decode errors?(, \d+\.\d s lost)?\); re-export the recording$" % (ext, ext, n, ext))
        assert sum(bool(re.match(pattern, line)) for line in lines) == 1, (ext, proc.stderr)
    assert "built: glitch:" in proc.stdout
    warnings = [line for line in lines if line.startswith("warning: glitch: ")]
    assert len(warnings) == 2, proc.stderr
    assert warnings[0] == ("warning: glitch: master: damaged audio around 0:05-0:07 (1 decode error, 0.1 s lost): "
                           "published as it decodes; listen there")
    assert re.match(r"warning: glitch: master: loudness -1\d\.\d LUFS, \d+\.\d LU from the target -5 after 3 "
                    r"attempts$", warnings[1]), warnings[1]
    assert (root / "feeds" / "episodes" / "glitch" / "glitch.mp3").is_file()
    for ext in codecs:
        assert not (root / "feeds" / "episodes" / f"damaged-{ext}" / f"damaged-{ext}.mp3").exists()

    # status reads the recorded results: the published file still carries both problems
    status = kindcast("status", "--root", root, "--episode", "glitch")
    assert status.returncode == 0 and "Traceback" not in status.stderr
    said = [re.sub(r"\s+", " ", line) for line in status.stdout.splitlines() if " warning: " in line]
    assert said == [re.sub(r"^warning: glitch: master: ", "glitch master warning: ", w) for w in warnings], status.stdout
    # and every build says it again while it holds, running nothing
    again = kindcast("build", "--root", root, "--episode", "glitch")
    assert again.returncode == 0 and "built: glitch" not in again.stdout, again.stdout
    assert [line for line in again.stderr.splitlines() if line.startswith("warning: glitch: ")] == warnings


def ebur128(path: Path) -> float:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                          "ebur128=framelog=quiet", "-f", "null", "-"], capture_output=True, text=True,
                         check=True).stderr
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", out[out.rindex("Summary:"):]).group(1))


TEXT = ("Welcome to the show. Today we talk with our neighbours about the coffee morning on Larch Row, and how a "
        "shared mural linked two schools across the town. People came to listen, and they stayed to help each "
        "other. Next week we visit the bus depot, where a rumour stopped and listening circles began.")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package)")
def test_eight_channels_and_96_khz_are_built_end_to_end(tmp_path):
    import av

    made = tmp_path / "made"
    made.mkdir()
    voice = made / "voice.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(voice), TEXT], check=True)
    ff = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(voice)]
    # a field recorder's 8-track file: the voice on track 4 only (which ffmpeg reads as the LFE channel of 7.1)
    eight = made / "tracks.wav"
    subprocess.run(ff + ["-filter_complex", "[0:a]aresample=96000,pan=8c|c3=c0[a]", "-map", "[a]",
                         "-c:a", "pcm_s24le", str(eight)], check=True)
    # a 96 kHz FLAC, shorter than any audiogram (15 s): the video path is the same for both, the master's is not
    hi = made / "interview.flac"
    subprocess.run(ff + ["-t", "11", "-af", "aresample=96000", "-ac", "2", "-c:a", "flac", str(hi)], check=True)
    with av.open(str(eight)) as c:
        assert (c.streams.audio[0].codec_context.channels, c.streams.audio[0].codec_context.sample_rate) == (8, 96000)
    root = make_show(tmp_path / "show", settings={"audiogram": {"sizes": ["square"]}})
    bite = [{"start": 0.5, "duration": 15, "title": "Hello"}]
    write_episode(root, "eight-tracks", front(1, "Eight tracks", soundbites=bite), eight)
    write_episode(root, "high-rate", front(2, "High rate"), hi)

    proc = kindcast("build", "--root", root)
    assert proc.returncode == 0 and "warning:" not in proc.stderr, proc.stderr + proc.stdout
    for slug in ("eight-tracks", "high-rate"):
        out = root / "feeds" / "episodes" / slug
        with av.open(str(out / f"{slug}.mp3")) as c:
            ctx = c.streams.audio[0].codec_context
            assert (ctx.channels, ctx.sample_rate) == (2, 44100)
        assert abs(ebur128(out / f"{slug}.mp3") + 16.0) <= 0.5  # the voice on track 4 was kept, at target
        words = (out / "transcript.txt").read_text().lower()
        assert "coffee" in words and "neighbo" in words, words
        assert len(json.loads((out / "transcript.json").read_text())["segments"]) > 15
    out = root / "feeds" / "episodes" / "eight-tracks"
    assert "listen" in (out / "transcript.txt").read_text().lower()
    with av.open(str(out / "audiograms" / "clip-1-square.mp4")) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.name, v.codec_context.width, v.codec_context.height) == ("h264", 1080, 1080)
        assert a.codec_context.name == "aac" and abs(c.duration / 1e6 - 15.0) < 0.2
    assert (out / "audiograms" / "clip-1.jpg").is_file()
    assert not list((root / "feeds" / "episodes" / "high-rate").glob("audiograms/*.mp4"))  # 11 s: no clip
