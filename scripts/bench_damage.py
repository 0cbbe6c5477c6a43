#!/usr/bin/env python3
"""How ffmpeg reports damaged recordings, per format: the figures behind the damage threshold in
pipeline/audio/measure.py (DAMAGE_ERRORS, DAMAGE_GAP).

    python scripts/bench_damage.py            # 60 s stereo files, damage of 512 B to 32 KB, 3 seeds each

For every accepted format it makes a clean 60 s stereo file (a tone over noise), measures it as the master stage
does (one pass, then as two halves, the path long recordings take), then writes 512 B, 2 KB, 8 KB and 32 KB of
seeded random bytes over its middle and measures again. It prints the decode errors counted, the audio lost
(timestamp gaps plus any shortfall against the header) and the verdict; then harmless cases (two MP3s joined with
`cat`, a file missing its last 100 bytes), which must pass.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import cut_file, damage_file  # noqa: E402
from pipeline.audio.measure import decode_problem, lost_audio, measure  # noqa: E402
from pipeline.media import ffmpeg_path  # noqa: E402

FORMATS = {
    "wav": ["-c:a", "pcm_s16le"],
    "flac": ["-c:a", "flac"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
    "mp3-vbr": ["-c:a", "libmp3lame", "-q:a", "5"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis", "-q:a", "3"],
    "opus": ["-c:a", "libopus", "-b:a", "32k"],
    "aac": ["-c:a", "aac", "-b:a", "64k"],
}
SIZES = (512, 2048, 8192, 32768)


def make(path: Path, codec: list[str]) -> Path:
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=f=220:sample_rate=44100,volume=0.3", "-f", "lavfi", "-i",
                    "anoisesrc=a=0.05:seed=1:sample_rate=44100", "-filter_complex", "amix=inputs=2:duration=shortest",
                    "-t", "60", "-ac", "2", *codec, str(path)], check=True)
    return path


def verdict(path: Path, split: bool = False) -> str:
    m = measure(path, channels=2, threshold_db=-45, min_silence=0.5, duration_hint=60.0 if split else 0.0)
    problem = decode_problem(m)
    return f"{m.errors:3d} err {lost_audio(m):4.1f}s {'FAIL' if problem else 'pass'}"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"{'format':<8} {'clean':<20} {'clean, 2 halves':<20} " + " ".join(f"{n:>6} B (3 seeds)".ljust(62) for n in SIZES))
        for kind, codec in FORMATS.items():
            ext = kind.split("-")[0]
            clean = make(folder / f"clean-{kind}.{ext}", codec)
            row = [verdict(clean), verdict(clean, split=True)]
            for n in SIZES:
                cells = [verdict(damage_file(clean, folder / f"bad.{ext}", nbytes=n, seed=s)) for s in range(3)]
                row.append(" | ".join(cells))
            print(f"{kind:<8} " + " ".join(c.ljust(20) for c in row[:2]) + " " + " ".join(c.ljust(62) for c in row[2:]))
        mp3 = folder / "clean-mp3.mp3"
        joined = folder / "joined.mp3"
        joined.write_bytes(mp3.read_bytes() * 2)
        print(f"harmless: two MP3s joined with cat: {verdict(joined)}")
        for kind in ("flac", "m4a", "aac", "mp3", "ogg"):
            src = folder / f"clean-{kind}.{kind}"
            data = src.read_bytes()
            short = cut_file(src, folder / f"short.{kind}", (len(data) - 100) / len(data))
            print(f"harmless: {kind} missing its last 100 bytes: {verdict(short)}")


if __name__ == "__main__":
    main()
