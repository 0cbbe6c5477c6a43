"""ffmpeg runs and probing: PyAV (which probes) and the ffmpeg binary (which processes) are two builds of FFmpeg, so
they must agree on what they both read: a recording's duration and channels, in every format kindcast accepts."""
from __future__ import annotations

import pytest

from conftest import synth
from pipeline.audio.measure import measure
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
    decoded = measure(path, channels=channels, threshold_db=-60, min_silence=1, blocks=False).duration
    assert info.channels == channels
    assert abs(info.duration - decoded) < 0.06, (kind, info.duration, decoded)
    assert abs(decoded - 7.3) < 0.06


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
