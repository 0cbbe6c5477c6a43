"""Diarization benchmark: who said each word, diarization error rate, and what naming the speakers costs.

    python scripts/bench_diarize.py [--scripts DIR] [--voices dev|heldout] [--runs 3] [--plain-runs 1] [--quick]

Recordings are made by ``scripts/make_interview.py`` in a temporary folder (mono, the first guest 11 LU quieter,
pink noise 21.5 dB under the louder voices, overlapping backchannels, known turns): the built-in ``dev2`` (two
voices) and ``dev3`` (three voices) with ``--voices dev``, or every ``*.yaml`` script in ``--scripts DIR``. For each:

- word accuracy: ``transcribe_audio(..., speakers=names)`` as a build runs it (the names, host first, also as
  hotwords); a word is right when its name is the speaker of the turn its middle falls in (a word inside an
  overlapping backchannel belongs to the turn it interrupts); names are compared as the transcript gives them (no
  remapping: a voice given the wrong name has all its words wrong);
- the VTT has every voice (``<v Name>``);
- DER: the diarizer's turns, each voice under the name the transcript gave it, against the true turns, 10 ms frames, no collar, overlapped speech counted (so a
  backchannel the diarizer rightly leaves inside the turn it interrupts counts as missed speech);
- speed: the same transcription with and without speakers, alternating, ``--runs`` times: medians of times real
  time, and the median per-pair ratio (the cost of naming the speakers, on top of transcription);
- WER of the transcript against the script, next to a plain ``WhisperModel.transcribe`` call with the same model
  (beam 5, no VAD, the file as it is). That call is not repeatable where it falls back to sampling (its temperature
  fallback on low confidence, frequent on a quiet voice over noise): ``--plain-runs N`` calls it N times and prints
  each WER, their range, and whether kindcast is worse than every call, within their range or better than every
  call; the last line gives the means over the recordings.
"""
from __future__ import annotations

import argparse
import json
import os
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


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(ref: list[str], hyp: list[str]) -> float:
    row = list(range(len(ref) + 1))
    for i in range(1, len(hyp) + 1):
        prev, row = row, [i] + [0] * len(ref)
        for j in range(1, len(ref) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ref[j - 1] != hyp[i - 1]))
    return row[-1] / max(1, len(ref))


def owner(truth: dict, t: float) -> str:
    """Name of the speaker of the (non-overlapping) turn at time t, else of the nearest turn."""
    names = {s["id"]: s["name"] for s in truth["speakers"]}
    turns = [u for u in truth["turns"] if not u.get("overlap")]
    inside = [u for u in turns if u["start"] <= t <= u["end"]]
    turn = inside[0] if inside else min(turns, key=lambda u: min(abs(u["start"] - t), abs(u["end"] - t)))
    return names[turn["speaker"]]


def der(truth: dict, turns: list[tuple[float, float, str]], step: float = 0.01) -> float:
    n = int(truth["duration"] / step) + 1
    names = [s["name"] for s in truth["speakers"]]
    ids = {s["id"]: s["name"] for s in truth["speakers"]}
    ref = np.zeros((n, len(names)), bool)
    hyp = np.zeros((n, len(names)), bool)
    for u in truth["turns"]:
        ref[int(u["start"] / step):int(u["end"] / step), names.index(ids[u["speaker"]])] = True
    for a, b, name in turns:
        hyp[int(a / step):int(b / step), names.index(name)] = True
    correct = (ref & hyp).sum()
    return float((np.maximum(ref.sum(1), hyp.sum(1)).sum() - correct) / max(1, ref.sum()))


def named_as(turns, said, names: list[str]) -> dict[int, str]:
    """The name each voice of ``turns`` was given in the transcript (the name most of its words carry): the
    transcript names the voices from what they say, not only in order of first appearance."""
    from collections import Counter

    votes: dict[int, Counter] = {}
    for w in said:
        mid = (w.start + w.end) / 2
        turn = next((t for t in turns if t.start <= mid <= t.end), None)
        if turn is not None and w.speaker:
            votes.setdefault(turn.speaker, Counter())[w.speaker] += 1
    return {v: (votes[v].most_common(1)[0][0] if v in votes else names[v]) for v in range(len(names))}


def make(script: str, out: Path, voices: str) -> dict:
    """The recording and its truth; quieter overall (-31, -34 LUFS) when the default -28 would clip."""
    for lufs in ("-28", "-31", "-34"):
        proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_interview.py"), script, str(out),
                               "--voices", voices, "--lufs", lufs], capture_output=True, text=True)
        if proc.returncode == 0:
            return json.loads(out.with_suffix(".json").read_text())
        if "would clip" not in proc.stderr:
            break
    raise SystemExit(f"make_interview.py {script} failed:\n{proc.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scripts", type=Path, default=None, help="a folder of make_interview.py YAML scripts")
    ap.add_argument("--voices", choices=("dev", "heldout"), default="dev")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--plain-runs", type=int, default=1, help="calls of the plain faster-whisper call per recording")
    ap.add_argument("--quick", action="store_true", help="one run, no WER of the plain call (--plain-runs ignored)")
    args = ap.parse_args()
    if args.plain_runs < 1:
        ap.error("--plain-runs must be 1 or more")

    from faster_whisper import WhisperModel
    from faster_whisper.audio import decode_audio

    from pipeline.speech import whisper
    from pipeline.speech.diarize import Diarizer
    from pipeline.speech.transcript import to_vtt

    model_dir = whisper.resolve_model(None)
    threads = whisper.cpu_threads()
    plain = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)
    print(f"tiny.en int8, {threads} threads, os.cpu_count()={os.cpu_count()}, load {os.getloadavg()[0]:.1f}; "
          f"voices {args.voices}")
    scripts = sorted(str(p) for p in args.scripts.glob("*.yaml")) if args.scripts else ["dev2", "dev3"]
    tmp = Path(tempfile.mkdtemp(prefix="bench_diarize_"))
    rows = []
    wers = []  # (kindcast, [plain calls]) per recording
    for script in scripts:
        name = Path(script).stem
        audio = tmp / f"{name}.wav"
        truth = make(script, audio, args.voices)
        # hosts first, then the guests in the order the script lists them: as a build names the voices (show.yaml's
        # hosts, then the episode's guests), and as ``--speakers`` asks
        names = [s["name"] for s in sorted(truth["speakers"], key=lambda s: s.get("role") != "host")]
        glossary = whisper.glossary_hotwords(names)  # as a build passes the hosts' and guests' names
        ref = words(" ".join(u["text"] for u in truth["turns"] if not u.get("overlap")))

        with_t, without_t, ratios = [], [], []
        transcript = None
        for _ in range(1 if args.quick else args.runs):
            began = time.perf_counter()
            transcript = whisper.transcribe_audio(audio, model_dir=model_dir, speakers=names, hotwords=glossary)
            with_t.append(time.perf_counter() - began)
            began = time.perf_counter()
            bare = whisper.transcribe_audio(audio, model_dir=model_dir, hotwords=glossary)
            without_t.append(time.perf_counter() - began)
            ratios.append(with_t[-1] / without_t[-1])
        said = transcript.words
        right = sum(w.speaker == owner(truth, (w.start + w.end) / 2) for w in said)
        accuracy = right / max(1, len(said))
        vtt = to_vtt(said)
        voices_in_vtt = sum(f"<v {n}>" in vtt for n in set(owner(truth, (u["start"] + u["end"]) / 2)
                                                           for u in truth["turns"]))
        heard = len({s["id"] for s in truth["speakers"]})

        samples = decode_audio(str(audio), sampling_rate=16000)
        diarizer = Diarizer(threads)
        began = time.perf_counter()
        diarizer.add(0.0, samples)
        turns = diarizer.turns(len(names))
        diarize_t = time.perf_counter() - began
        called = named_as(turns, said, names)
        error = der(truth, [(t.start, t.end, called[t.speaker]) for t in turns])

        ours = wer(ref, [x for w in said for x in words(w.text)])
        theirs = []
        for _ in range(0 if args.quick else args.plain_runs):
            segments, _ = plain.transcribe(str(audio), beam_size=5, language="en")
            theirs.append(wer(ref, words(" ".join(s.text for s in segments))))
        duration = truth["duration"]
        rows.append((accuracy, error))
        wers.append((ours, theirs))
        print(f"\n{name}: {duration:.1f} s, {len(names)} voices, {len(said)} words")
        print(f"   words with the right speaker {right}/{len(said)} = {100 * accuracy:.1f} %   "
              f"VTT voices {voices_in_vtt}/{heard}   DER {100 * error:.1f} %")
        print(f"   speed: with speakers {duration / statistics.median(with_t):.1f}x real time, without "
              f"{duration / statistics.median(without_t):.1f}x, median ratio {statistics.median(ratios):.2f}; "
              f"diarization alone {duration / diarize_t:.1f}x")
        if len(theirs) > 1:
            where = ("worse than every call" if ours > max(theirs) else "better than every call"
                     if ours < min(theirs) else "within their range")
            print(f"   WER {100 * ours:.1f} % (plain faster-whisper call, {len(theirs)} calls: "
                  f"{', '.join(f'{100 * t:.1f}' for t in theirs)} %, range {100 * min(theirs):.1f}-"
                  f"{100 * max(theirs):.1f} %: kindcast {where})")
        else:
            print(f"   WER {100 * ours:.1f} %" + (f" (plain faster-whisper call: {100 * theirs[0]:.1f} %)"
                                                   if theirs else ""))
    if rows:
        print(f"\nmean word accuracy {100 * statistics.mean(a for a, _ in rows):.1f} %, "
              f"lowest {100 * min(a for a, _ in rows):.1f} %, mean DER {100 * statistics.mean(d for _, d in rows):.1f} %")
        if all(theirs for _, theirs in wers):
            print(f"mean WER {100 * statistics.mean(o for o, _ in wers):.1f} %, plain call "
                  f"{100 * statistics.mean(t[0] for _, t in wers):.1f} % (first calls), "
                  f"no worse than the plain call on {sum(o <= t[0] for o, t in wers)} of {len(wers)}")


if __name__ == "__main__":
    main()
