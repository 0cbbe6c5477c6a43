"""Batched decoding: a batch of 30 s windows encoded and aligned at once, or one window at a time; one replica of the
model or two.

    python scripts/bench_windows.py [--audio FILE] [--runs 5]
    python scripts/bench_windows.py --replicas [--audio FILE] [--runs 5]

faster-whisper's batched pipeline (tiny.en int8, beam 5, word times, batch 8) on the same 30 s clips of FILE (default:
the LJSpeech file in ../shared/speech, 221.7 s, 8 windows), once with faster-whisper's ``WhisperModel`` and once with
kindcast's (``whisper._window_by_window()``: the encoder and the word alignment take the windows of a batch one at a
time; generation stays batched). Runs alternate; the medians of the wall times and of the per-pair ratios are printed,
and whether the words and their times are the same.

``--replicas``: kindcast's model as one replica on all the threads, and as :func:`whisper.replicas` of it (two of one
thread each on 2 cores), on the same clips: the batched pass, and the sequential decoder reading the clips (one call
on one replica, or the clips dealt out to the replicas as the hole rounds deal them, ``whisper._shared``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
LJ = REPO.parent / "shared" / "speech" / "ljspeech_LJ001-0001_to_0032.16k.flac"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", type=Path, default=LJ)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--windows", type=int, default=8, help="how many 30 s clips (one batch of 8 by default)")
    ap.add_argument("--replicas", action="store_true", help="one replica of the model against two")
    args = ap.parse_args()
    if not args.audio.is_file():
        sys.exit(f"{args.audio}: missing (pass --audio FILE)")

    from faster_whisper import BatchedInferencePipeline, WhisperModel
    from faster_whisper.audio import decode_audio

    from pipeline.speech import whisper

    folder = str(whisper.resolve_model(None))
    threads = whisper.cpu_threads()
    if args.replicas:
        return compare_replicas(args, folder, threads)
    models = {
        "batch at once": WhisperModel(folder, device="cpu", compute_type="int8", cpu_threads=threads,
                                      local_files_only=True),
        "window by window": whisper._window_by_window()(folder, device="cpu", compute_type="int8",
                                                        cpu_threads=threads, local_files_only=True),
    }
    audio = decode_audio(str(args.audio), sampling_rate=16000)
    duration = len(audio) / 16000
    clips = [{"start": i * 30.0, "end": min(duration, i * 30.0 + 29.5)} for i in range(args.windows)
             if i * 30.0 + 1.0 < duration]
    print(f"{args.audio.name}: {len(clips)} windows of up to 29.5 s, tiny.en int8, {threads} threads, "
          f"os.cpu_count()={os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    times: dict[str, list[float]] = {name: [] for name in models}
    found: dict[str, list] = {}
    for _ in range(args.runs):
        for name, model in models.items():
            began = time.perf_counter()
            segments, _ = BatchedInferencePipeline(model).transcribe(
                audio, language="en", beam_size=5, batch_size=8, word_timestamps=True, vad_filter=False,
                clip_timestamps=clips)
            found[name] = [(w.word, w.start, w.end) for s in segments for w in s.words or []]
            times[name].append(time.perf_counter() - began)
    ratios = [b / a for a, b in zip(times["batch at once"], times["window by window"])]
    for name, values in times.items():
        print(f"  {name:17s} median {statistics.median(values):6.2f} s   runs {' '.join(f'{v:.2f}' for v in values)}")
    print(f"  window by window / batch at once: median ratio {statistics.median(ratios):.2f}")
    a, b = found["batch at once"], found["window by window"]
    same_text = [w for w, _, _ in a] == [w for w, _, _ in b]
    moved = max((max(abs(x[1] - y[1]), abs(x[2] - y[2])) for x, y in zip(a, b)), default=0.0) if same_text else None
    print(f"  words: {len(a)} and {len(b)}, same text: {same_text}"
          + (f", word times differ by at most {moved:.2f} s" if moved is not None else ""))


def compare_replicas(args, folder: str, threads: int) -> None:
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.audio import decode_audio

    from pipeline.speech import whisper

    workers, each = whisper.replicas(threads)
    models = {
        f"1 x {threads} threads": whisper._window_by_window()(folder, device="cpu", compute_type="int8",
                                                                cpu_threads=threads, local_files_only=True),
        f"{workers} x {each} threads": whisper._window_by_window()(folder, device="cpu", compute_type="int8",
                                                                    cpu_threads=each, num_workers=workers,
                                                                    local_files_only=True),
    }
    audio = decode_audio(str(args.audio), sampling_rate=16000)
    duration = len(audio) / 16000
    clips = [(i * 30.0, min(duration, i * 30.0 + 29.5)) for i in range(args.windows) if i * 30.0 + 1.0 < duration]
    print(f"{args.audio.name}: {len(clips)} clips of up to 29.5 s, tiny.en int8, {threads} threads in all, "
          f"os.cpu_count()={os.cpu_count()}, load {os.getloadavg()[0]:.1f}")

    def batched(model):
        segments, _ = BatchedInferencePipeline(model).transcribe(
            audio, language="en", beam_size=5, batch_size=8, word_timestamps=True, vad_filter=False,
            clip_timestamps=[{"start": a, "end": b} for a, b in clips])
        return [(w.start, w.end, w.word) for s in segments for w in s.words or []]

    def sequential(model):
        segments = whisper._read_sequential(model, audio, clips, "en", 5)
        return sorted(((w.start, w.end, w.word) for s in segments for w in s.words or []))

    for what, run in (("batched pass", batched), ("sequential decoder", sequential)):
        times: dict[str, list[float]] = {name: [] for name in models}
        found: dict[str, list] = {}
        for _ in range(args.runs):
            for name, model in models.items():
                began = time.perf_counter()
                found[name] = run(model)
                times[name].append(time.perf_counter() - began)
        one, two = times.values()
        print(f"  {what}:")
        for name, values in times.items():
            print(f"    {name:17s} median {statistics.median(values):6.2f} s   runs {' '.join(f'{v:.2f}' for v in values)}")
        first, second = found.values()
        print(f"    median ratio {statistics.median(b / a for a, b in zip(one, two)):.2f}; "
              f"{len(first)} words, the same words and times: {first == second}")


if __name__ == "__main__":
    main()
