"""ffmpeg runs and probing: PyAV (which probes) and the ffmpeg binary (which processes) are two builds of FFmpeg, so
they must agree on what they both read: a recording's duration and channels, in every format kindcast accepts."""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cut_file, damage_file, synth
from pipeline.audio.measure import decode_problem, decode_warning, measure
from pipeline.errors import KindcastError
from pipeline.media import ffmpeg_output, probe_audio, run_ffmpeg

FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "mp3-vbr": ["-c:a", "libmp3lame", "-q:a", "5"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "3"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],
}


@pytest.mark.parametrize("kind", sorted(FORMATS))
@pytest.mark.parametrize("channels", [1, 2])
def test_probe_and_processing_agree_on_duration(tmp_path, kind, channels):
    ext = kind.split("-")[0]
    path = synth(tmp_path / f"a.{ext}", "sine=f=330:sample_rate=44100", 7.3, "-ac", str(channels), *FORMATS[kind])
    info = probe_audio(path)
    m = measure(path, channels=channels, threshold_db=-60, min_silence=1, blocks=False)
    decoded = m.duration
    assert info.channels == channels
    assert abs(info.duration - decoded) < 0.06, (kind, info.duration, decoded)
    assert abs(decoded - 7.3) < 0.06
    # a clean file logs no decoding error, and decodes to what its header says
    assert m.errors == 0 and decode_problem(m) is None and decode_warning(m) is None
    assert m.decoded == pytest.approx(7.3, abs=0.06) and not info.estimated


def test_a_failed_run_names_what_failed_in_one_line(tmp_path):
    with pytest.raises(KindcastError, match=r"^reading x: ffmpeg failed: .*No such file") as err:
        run_ffmpeg(["-i", str(tmp_path / "missing.wav"), "-f", "null", "-"], what="reading x")
    assert "\n" not in str(err.value)
    with pytest.raises(KindcastError, match=r"^clip: ffmpeg failed"):
        ffmpeg_output(["-i", str(tmp_path / "missing.wav"), "-f", "s16le", "pipe:1"], what="clip")


def test_progress_is_reported_and_kept_out_of_the_text(tmp_path):
    path = synth(tmp_path / "a.wav", "sine=f=440", 3.0)
    seen: list[float] = []
    text = run_ffmpeg(["-i", str(path), "-af", "volumedetect", "-f", "null", "-"], duration=3.0,
                      progress=seen.append)
    assert seen and seen[-1] == pytest.approx(1.0, abs=0.05) and seen == sorted(seen)
    assert "mean_volume" in text and "out_time" not in text


# --- recordings that are not what they seem ------------------------------------------------------------------------

def tone_over_noise(path, seconds: float, *codec: str, rate: int = 44100, channels: int = 2):
    """Steady content (a tone over noise), so that a byte offset is a time offset in any codec."""
    return synth(path, f"sine=f=220:sample_rate={rate},volume=0.3", seconds, "-filter_complex",
                 f"anoisesrc=a=0.05:seed=1:sample_rate={rate}[n];[0:a][n]amix=inputs=2:duration=shortest",
                 "-ac", str(channels), *codec)


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_clean_long_files_measured_as_two_halves_log_no_error(tmp_path, kind):
    ext = kind.split("-")[0]
    path = tone_over_noise(tmp_path / f"a.{ext}", 61.0, *FORMATS[kind])
    m = measure(path, channels=2, threshold_db=-45, min_silence=0.5, duration_hint=probe_audio(path).duration)
    assert m.integrated is None  # really measured as two halves
    assert m.errors == 0 and m.error_times == [] and decode_problem(m) is None and decode_warning(m) is None


@pytest.mark.parametrize("ext", ["mp3", "wav", "flac", "m4a"])
def test_random_bytes_are_not_a_readable_audio_file(tmp_path, ext):
    path = tmp_path / f"noise.{ext}"
    path.write_bytes(random.Random(ext).randbytes(200_000))
    with pytest.raises(KindcastError) as err:
        probe_audio(path)
    assert str(err.value).startswith(f"{path}: not a readable audio file (")
    assert "\n" not in str(err.value) and "zero-length" not in str(err.value)


def test_a_text_file_and_an_empty_file(tmp_path):
    text = tmp_path / "notes.mp3"
    text.write_text("These are my notes for the episode, not audio.\n" * 40)
    with pytest.raises(KindcastError, match=re.escape(f"{text}: not a readable audio file (Invalid data found "
                                                      "when processing input: Failed to find two consecutive MPEG "
                                                      "audio frames)")):
        probe_audio(text)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(KindcastError, match=re.escape(f"{empty}: empty file (0 bytes)")):
        probe_audio(empty)


TRUNCATED = re.compile(r": truncated or damaged: it decodes to (\d+\.\d) s of the (\d+\.\d) s its header announces")


@pytest.mark.parametrize("kind", ["flac", "mp3", "m4a"])
def test_a_recording_cut_to_half_its_length_is_truncated(tmp_path, kind):
    codec = {"flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
             "m4a": ["-c:a", "aac", "-b:a", "96k", "-movflags", "+faststart"]}[kind]
    whole = tone_over_noise(tmp_path / f"whole.{kind}", 30.0, *codec)
    half = cut_file(whole, tmp_path / f"half.{kind}", 0.5)
    with pytest.raises(KindcastError) as err:
        probe_audio(half)
    match = TRUNCATED.search(str(err.value))
    assert str(err.value).startswith(f"{half}: truncated or damaged") and match, str(err.value)
    assert float(match.group(2)) == 30.0 and 13.0 <= float(match.group(1)) <= 16.0
    # the measure pass, which decodes all of it, tells the same (for a file that reaches it some other way)
    m = measure(half, channels=2, threshold_db=-45, min_silence=0.5, duration_hint=30.0)
    assert TRUNCATED.search(": " + decode_problem(m)), decode_problem(m)


def test_an_m4a_cut_before_its_index_is_not_readable(tmp_path):
    whole = tone_over_noise(tmp_path / "whole.m4a", 20.0, "-c:a", "aac")  # the index (moov) at the end
    half = cut_file(whole, tmp_path / "half.m4a", 0.5)
    with pytest.raises(KindcastError, match=re.escape(f"{half}: not a readable audio file (Invalid data found "
                                                      "when processing input: moov atom not found)")):
        probe_audio(half)


DAMAGED = re.compile(r"^damaged audio around (\d+):(\d\d)-(\d+):(\d\d) \((\d+) decode errors?(?:, (\d+\.\d) s lost)?\)"
                     r"; re-export the recording$")


@pytest.mark.parametrize("kind", ["mp3", "flac", "m4a", "ogg"])
def test_damage_in_the_middle_is_found_and_placed(tmp_path, kind):
    codec = {"mp3": ["-c:a", "libmp3lame", "-b:a", "96k"], "flac": ["-c:a", "flac"],
             "m4a": ["-c:a", "aac", "-b:a", "64k"], "ogg": ["-c:a", "libvorbis"]}[kind]
    clean = tone_over_noise(tmp_path / f"clean.{kind}", 40.0, *codec)
    # 64 KB of FLAC is 0.6 s of audio; 16 KB of the others 1.4-2 s (64 KB stops an Ogg stream: "truncated")
    bad = damage_file(clean, tmp_path / f"bad.{kind}", at=0.5, nbytes=65536 if kind == "flac" else 16384, seed=3)
    assert probe_audio(bad).duration == pytest.approx(40.0, abs=0.1)  # the header is intact: only decoding tells
    for hint in (0.0, 40.0):  # one pass, and two halves at once
        m = measure(bad, channels=2, threshold_db=-45, min_silence=0.5, duration_hint=hint)
        problem = decode_problem(m)
        match = DAMAGED.match(problem or "")
        assert match, problem
        first, last = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
        assert 17 <= first <= 20 <= last <= 25, problem  # from the middle (20 s) to where the damaged bytes end


def test_a_small_glitch_is_published_with_a_warning(tmp_path):
    clean = tone_over_noise(tmp_path / "clean.flac", 20.0, "-c:a", "flac")
    bad = damage_file(clean, tmp_path / "glitch.flac", at=0.5, nbytes=8192, seed=3)
    m = measure(bad, channels=2, threshold_db=-45, min_silence=0.5)
    assert m.errors == 1 and decode_problem(m) is None
    assert decode_warning(m) == ("damaged audio around 0:09-0:11 (1 decode error, 0.1 s lost): published as it "
                                 "decodes; listen there")


def test_harmless_errors_are_forgiven(tmp_path):
    one = tone_over_noise(tmp_path / "one.mp3", 10.0, "-c:a", "libmp3lame", "-b:a", "96k")
    joined = tmp_path / "joined.mp3"  # two MP3 files joined with cat: players play both
    joined.write_bytes(one.read_bytes() * 2)
    flac = tone_over_noise(tmp_path / "one.flac", 10.0, "-c:a", "flac")
    short = cut_file(flac, tmp_path / "short.flac", (flac.stat().st_size - 100) / flac.stat().st_size)
    for path in (joined, short):
        m = measure(path, channels=2, threshold_db=-45, min_silence=0.5)
        assert decode_problem(m) is None and decode_warning(m) is None, path.name


def test_ffmpeg_of_a_build_in_the_background_is_not_stopped_by_a_ctrl_c_for_the_foreground(tmp_path):
    """A shell starts `kindcast build &` with SIGINT ignored, in the same process group as its foreground job.
    ffmpeg sets its own SIGINT handler, so it must not be in that group: the Ctrl-C is not for it."""
    script = ("from pipeline.media import run_ffmpeg\n"
              "run_ffmpeg(['-re', '-f', 'lavfi', '-i', 'sine=d=3', '-f', 'null', '-'], what='tone')\n"
              "print('done')\n")
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children.read_text().split(), "ffmpeg did not start"
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "done", err
