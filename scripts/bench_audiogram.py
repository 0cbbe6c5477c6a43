"""Audiogram speed bar: a 60 s 1080x1080 captioned audiogram against a bare libx264 ``veryfast`` encode of a 60 s
1080x1080 test pattern (testsrc2), same ffmpeg, measured in one run, runs interleaved, median of N each.

    python scripts/bench_audiogram.py [--runs 3] [--audio FILE] [--start 10] [--seconds 60]

The bar (issue 6): audiogram median <= 1.5x the test-pattern median. The clip is transcribed once before timing
(the transcriber is not part of the render); the render includes the poster extraction.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

DEFAULT_AUDIO = REPO.parent / "shared" / "speech" / "ljspeech_LJ001-0001_to_0032.16k.flac"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--audio", type=Path, default=DEFAULT_AUDIO)
    ap.add_argument("--start", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()

    from PIL import Image

    from pipeline.video.audiogram import Theme, find_fonts, make_clip, transcribe_clip
    from pipeline.media import ffmpeg_path

    ffmpeg = ffmpeg_path()
    with tempfile.TemporaryDirectory(prefix="bench-audiogram-") as tmp:
        tmp_dir = Path(tmp)
        art = tmp_dir / "art.png"
        Image.new("RGB", (1400, 1400), (180, 70, 60)).save(art)
        t0 = time.perf_counter()
        words = transcribe_clip(args.audio, args.start, args.seconds)
        print(f"transcribed the clip once (not timed in the bar): {len(words)} words, "
              f"{time.perf_counter() - t0:.1f} s")
        theme = Theme()
        fonts = find_fonts(theme)

        def cpu() -> float:
            r = resource.getrusage(resource.RUSAGE_CHILDREN)
            return r.ru_utime + r.ru_stime

        def baseline() -> float:
            began = time.perf_counter()
            subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc2=s=1080x1080:r=30:d={args.seconds:g}", "-c:v", "libx264", "-preset", "veryfast",
                            "-pix_fmt", "yuv420p", str(tmp_dir / "pattern.mp4")], check=True)
            return time.perf_counter() - began

        def audiogram() -> float:
            began = time.perf_counter()
            make_clip(args.audio, {"square": tmp_dir / "clip-square.mp4"}, start=args.start, duration=args.seconds,
                      words=words, show_title="Benchmark Show", episode_title="A sixty second captioned audiogram",
                      artwork=art, theme=theme, fonts=fonts, poster=tmp_dir / "clip.jpg")
            return time.perf_counter() - began

        base, ours, base_cpu, ours_cpu = [], [], [], []
        for i in range(args.runs):
            c0 = cpu()
            base.append(baseline())
            c1 = cpu()
            ours.append(audiogram())
            c2 = cpu()
            base_cpu.append(c1 - c0)
            ours_cpu.append(c2 - c1)
            print(f"run {i + 1}: test pattern {base[-1]:.2f} s ({base_cpu[-1]:.1f} s CPU), "
                  f"audiogram {ours[-1]:.2f} s ({ours_cpu[-1]:.1f} s CPU in ffmpeg)", flush=True)
        b, a = statistics.median(base), statistics.median(ours)
        print(f"median CPU seconds (ffmpeg processes; steadier on a shared machine): test pattern "
              f"{statistics.median(base_cpu):.1f}, audiogram {statistics.median(ours_cpu):.1f}, ratio "
              f"{statistics.median(ours_cpu) / statistics.median(base_cpu):.2f}")
        print(f"median test pattern (libx264 veryfast, 1080x1080, {args.seconds:g} s): {b:.2f} s")
        print(f"median audiogram (1080x1080, {args.seconds:g} s, captions, waveform, poster): {a:.2f} s")
        print(f"ratio audiogram / test pattern: {a / b:.2f} (bar: <= 1.5) -> {'PASS' if a / b <= 1.5 else 'FAIL'}")
        return 0 if a / b <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
