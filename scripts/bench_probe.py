#!/usr/bin/env python3
"""What probing costs: ``media.probe_audio`` (opens the file, decodes 0.25 s at its start and about 2 s before its
announced end) against opening the file and reading its header alone, which is all the probe did before it checked
that the audio decodes and is all there.

    python scripts/bench_probe.py          # 60 s files of every accepted format, and a 20-minute MP3 and FLAC

Prints the median of 15 runs per file, in milliseconds, for both, measured in the same run.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.media import ffmpeg_path, probe_audio  # noqa: E402

FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],
}
RUNS = 15


def make(path: Path, seconds: float, codec: list[str]) -> Path:
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=f=220:sample_rate=44100", "-t", str(seconds), "-ac", "2", *codec, str(path)], check=True)
    return path


def header_only(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return float(stream.duration * stream.time_base) if stream.duration else container.duration / 1e6


def median_ms(fn, path: Path) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        fn(path)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = [make(Path(tmp) / f"a.{ext}", 60, codec) for ext, codec in FORMATS.items()]
        files += [make(Path(tmp) / f"long.{ext}", 1200, FORMATS[ext]) for ext in ("mp3", "flac")]
        print(f"{'file':<12} {'seconds':>8} {'header only':>12} {'probe_audio':>12}")
        for path in files:
            seconds = probe_audio(path).duration
            print(f"{path.name:<12} {seconds:8.0f} {median_ms(header_only, path):10.1f}ms "
                  f"{median_ms(probe_audio, path):10.1f}ms")


if __name__ == "__main__":
    main()
