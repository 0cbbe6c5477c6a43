#!/usr/bin/env python3
"""Benchmark the mastering stage: accuracy and speed on a quiet 166 s recording, speed and peak memory on 3 hours.

    python scripts/bench_master.py                 # both parts (the 3-hour part takes several minutes)
    python scripts/bench_master.py --short-only    # only the 166 s recording, 5 runs of `kindcast master`
    python scripts/bench_master.py --hours 1       # a shorter long run

Part 1 makes the issue's "quiet recording" from the LJSpeech file in ../shared/speech (about -35 LUFS, true peak
about -17.7 dBFS, 2.5 s of silence before and 3 s after, 166 s, MP3 stereo 44.1 kHz), runs ``kindcast master`` end
to end (a fresh Python process each time, as a user would) and measures the output with ffmpeg's ebur128.

Part 2 loops the same speech into a long recording, masters it with two cuts and chapters through the library call
the stage uses, and reports speed and peak memory: the Python process's own peak RSS, the largest ffmpeg child's
peak RSS, and their sum counting two ffmpeg children at once (the encoder and the verifier run side by side).
"""
from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEECH = REPO.parent / "shared" / "speech" / "ljspeech_LJ001-0001_to_0032.16k.flac"
sys.path.insert(0, str(REPO))


def ffmpeg() -> str:
    from pipeline.media import ffmpeg_path

    return ffmpeg_path()


def ebur128(path: Path) -> tuple[float, float]:
    err = subprocess.run([ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                          "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    summary = err[err.rindex("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)))


def length(path: Path) -> float:
    import mutagen

    return float(mutagen.File(str(path)).info.length)


def make_quiet(path: Path) -> None:
    chain = ("alimiter=limit=0.95:level=0:latency=1,aresample=44100,volume=-14.0dB,adelay=2500:all=1,"
             "apad=pad_dur=3,aformat=channel_layouts=stereo")
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-t", "160.5", "-i", str(SPEECH),
                    "-af", chain, "-c:a", "libmp3lame", "-b:a", "128k", str(path)], check=True)


def make_long(path: Path, seconds: float) -> None:
    chain = "aresample=44100,volume=-12dB,adelay=2000:all=1,apad=pad_dur=2,aformat=channel_layouts=stereo"
    subprocess.run([ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(SPEECH),
                    "-t", str(seconds), "-af", chain, "-c:a", "libmp3lame", "-b:a", "128k",
                    "-compression_level", "9", str(path)], check=True)


def part_short(tmp: Path, runs: int) -> None:
    src = tmp / "quiet166.mp3"
    make_quiet(src)
    lufs_in, peak_in = ebur128(src)
    dur_in = length(src)
    print(f"input: {src.name}: {dur_in:.1f} s, {lufs_in:.1f} LUFS, true peak {peak_in:.1f} dBTP")
    walls, cpus = [], []
    out = tmp / "mastered.mp3"
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pipeline", "master", str(src), str(out)], capture_output=True,
                              text=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if proc.returncode != 0:
            sys.exit(proc.stderr)
    lufs, peak = ebur128(out)
    dur = length(out)
    med = statistics.median(walls)
    print(f"kindcast master (end to end, {runs} runs): median {med:.2f} s, min {min(walls):.2f} s, "
          f"max {max(walls):.2f} s -> {dur_in / med:.0f}x real time (median), {dur_in / min(walls):.0f}x (best)")
    cpu = statistics.median(cpus)
    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"
    print(f"CPU time of python + every ffmpeg (user+sys), median {cpu:.2f} s: {dur_in / cpu:.0f}x real time even on "
          f"ONE free core (the verify pass runs beside the encoder when a second core is free); load average {load}")
    print(f"output: {lufs:.1f} LUFS (bar -16 +-0.5), true peak {peak:.1f} dBTP (bar <= -1.0), "
          f"{dur:.1f} s ({dur_in - dur:.1f} s shorter; bar >= 4)")
    ok = abs(lufs + 16) <= 0.5 and peak <= -1.0 and dur_in - dur >= 4 and dur_in / med >= 50
    print("short bars:", "PASS" if ok else "FAIL")


LONG_RUNNER = r"""
import json, resource, sys, time
from pathlib import Path
from pipeline.audio.master import MasterJob, master
from pipeline.audio.tags import ChapterMark, TagInfo
src, out, seconds = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
cuts = ((seconds * 0.25, seconds * 0.25 + 60.0), (seconds * 0.6, seconds * 0.6 + 30.0))
chapters = tuple(ChapterMark(seconds * i / 10, f"Part {i + 1}") for i in range(10))
t = time.perf_counter()
r = master(MasterJob(source=src, output=out, cuts=cuts, chapters=chapters, tags=TagInfo(title="Long")))
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "lufs": r.lufs, "true_peak": r.true_peak, "duration": r.duration,
                  "source_duration": r.source_duration, "attempts": r.attempts,
                  "self_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "child_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def part_long(tmp: Path, hours: float) -> None:
    seconds = hours * 3600
    src = tmp / "long.mp3"
    t = time.perf_counter()
    make_long(src, seconds)
    print(f"made a {seconds / 3600:.1f} h recording ({src.stat().st_size / 1e6:.0f} MB MP3) in "
          f"{time.perf_counter() - t:.0f} s")
    out = tmp / "long-mastered.mp3"
    proc = subprocess.run([sys.executable, "-c", LONG_RUNNER, str(src), str(out), str(seconds)], capture_output=True,
                          text=True, cwd=str(REPO))
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    self_mb, child_mb = r["self_kb"] / 1024, r["child_kb"] / 1024
    total = self_mb + 2 * child_mb
    print(f"long: {r['source_duration'] / 3600:.2f} h in {r['wall']:.0f} s = {r['source_duration'] / r['wall']:.0f}x "
          f"real time; {r['lufs']:.1f} LUFS, {r['true_peak']:.1f} dBTP, {r['attempts']} apply pass(es)")
    print(f"peak RSS: python {self_mb:.0f} MB, largest ffmpeg child {child_mb:.0f} MB, "
          f"python + 2 ffmpeg at once <= {total:.0f} MB (bar < 500 MB): {'PASS' if total < 500 else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--short-only", action="store_true")
    ap.add_argument("--long-only", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-master-") as d:
        tmp = Path(d)
        if not args.long_only:
            part_short(tmp, args.runs)
        if not args.short_only:
            part_long(tmp, args.hours)


if __name__ == "__main__":
    main()
