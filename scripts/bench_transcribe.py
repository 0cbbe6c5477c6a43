"""Transcription benchmark: accuracy (WER) and speed of kindcast's transcription against plain faster-whisper.

    python scripts/bench_transcribe.py [--runs 3] [--skip-glossary] [--skip-stereo]

Sections (all on the real files in ../shared/speech, nothing downloaded):

1. The bar, on a 166 s episode (the LJSpeech file cut at a pause at 166.2 s, written to a temporary folder):
   plain ``WhisperModel.transcribe`` (beam 5, tiny.en int8, 2 threads, model already loaded, no word times) against the
   WHOLE ``kindcast transcribe`` command in a fresh process (start-up, model load, decoding, word times, writing all
   four files). Runs alternate; medians and the median of the per-pair ratios are printed. WER of the command is
   computed from the transcript.json it wrote.
2. The same comparison on the full LJSpeech file (221.7 s), jfk.flac (11 s) and apollo11.mp3, in-process.
3. Glossary: faster-whisper's batched pipeline with the rare names of the reference passed as hotwords or as an
   initial prompt, against none and against unrelated names (a control): WER, how many glossary names come out
   right, and how much punctuation survives (a bare word list as context makes the model drop punctuation).
4. Stereo: one voice per channel (stereo_diarization.wav): the mono mix with words attributed by channel energy,
   against each channel transcribed on its own (what kindcast does), scored against the per-channel texts.

WER: words lower-cased, punctuation stripped (apostrophes kept), Levenshtein distance over words / reference words.
For a cut file, the reference is cut where it best matches the end of the hypothesis.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SPEECH = REPO.parent / "shared" / "speech"
LJ = SPEECH / "ljspeech_LJ001-0001_to_0032.16k.flac"
JFK = SPEECH / "jfk.flac"
STEREO = SPEECH / "stereo_diarization.wav"
CUT_AT = 166.2  # a pause in the LJSpeech file (166.1-166.4 s)
GLOSSARIES = {
    "ljspeech": ["Gutenberg", "Schoeffer", "Sweynheim", "Pannartz", "Subiaco", "Strasburg", "Maintz", "Lubeck", "Basle"],
    "jfk": ["Americans"],
}
UNRELATED = ["Hana Host", "Okafor", "Radical Kindness", "Siobhan Ni Bhriain", "Wojciech"]  # a control: not spoken
APOLLO = SPEECH / "apollo11.mp3"  # noisy radio; its text is Whisper-large output, so only a rough yardstick


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(ref: list[str], hyp: list[str], prefix: bool = False) -> float:
    """Word error rate; with ``prefix``, against the reference prefix that best matches ``hyp`` (a cut file)."""
    row = list(range(len(ref) + 1))  # distance of hyp[:0] to ref[:j]
    for i in range(1, len(hyp) + 1):
        prev, row = row, [i] + [0] * len(ref)
        for j in range(1, len(ref) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ref[j - 1] != hyp[i - 1]))
    if prefix:
        j = min(range(1, len(ref) + 1), key=lambda j: (row[j], -j))
        return row[j] / j
    return row[-1] / max(1, len(ref))


def kindcast_cmd() -> list[str]:
    script = Path(sys.executable).with_name("kindcast")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline"]


def run_cli(audio: Path, out: Path) -> tuple[float, list[str], int]:
    """Wall time of the whole command, its words, and its peak memory (kB)."""
    started = time.perf_counter()
    proc = subprocess.run(kindcast_cmd() + ["transcribe", str(audio), "--out", str(out)], capture_output=True,
                          text=True)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"kindcast transcribe failed:\n{proc.stderr}")
    import resource

    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    data = json.loads((out / f"{audio.stem}.json").read_text())
    return seconds, [w for s in data["segments"] for w in words(s["body"])], rss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-glossary", action="store_true")
    ap.add_argument("--skip-stereo", action="store_true")
    args = ap.parse_args()

    from faster_whisper import WhisperModel

    from pipeline.speech import whisper as core
    from pipeline.media import ffmpeg_path

    model_dir = core.resolve_model(None)
    threads = core.cpu_threads()
    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=threads, local_files_only=True)
    print(f"model {model_dir} (tiny.en, int8, {threads} threads), os.cpu_count()={os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")

    def plain(audio: Path) -> tuple[float, list[str]]:
        started = time.perf_counter()
        segments, _ = model.transcribe(str(audio), beam_size=5, language="en")
        text = " ".join(s.text for s in segments)
        return time.perf_counter() - started, words(text)

    def ours(audio: Path, **kw) -> tuple[float, list]:
        started = time.perf_counter()
        tr = core.transcribe_audio(audio, model_dir=model_dir, **kw)
        return time.perf_counter() - started, tr.words

    ref_lj = words((LJ.with_suffix(".txt")).read_text())
    ref_jfk = words(JFK.with_suffix(".txt").read_text())
    tmp = Path(tempfile.mkdtemp(prefix="bench_transcribe_"))
    ep = tmp / "episode166.flac"
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(LJ), "-t", str(CUT_AT),
                    str(ep)], check=True)

    # 1. the bar
    print(f"\n1. bar on a {CUT_AT:.1f} s episode ({ep.name}): plain transcribe call vs the whole kindcast command")
    plain_t, cli_t, ratios = [], [], []
    for i in range(args.runs):
        tp, hyp_plain = plain(ep)
        tc, hyp_cli, rss = run_cli(ep, tmp / "out")
        plain_t.append(tp)
        cli_t.append(tc)
        ratios.append(tc / tp)
        print(f"   run {i + 1}: plain {tp:6.2f} s   kindcast transcribe {tc:6.2f} s   ratio {tc / tp:.2f}")
    w_plain, w_cli = wer(ref_lj, hyp_plain, prefix=True), wer(ref_lj, hyp_cli, prefix=True)
    print(f"   median: plain {statistics.median(plain_t):.2f} s ({CUT_AT / statistics.median(plain_t):.1f}x real time)"
          f", kindcast transcribe {statistics.median(cli_t):.2f} s ({CUT_AT / statistics.median(cli_t):.1f}x), "
          f"median ratio {statistics.median(ratios):.2f} (bar: <= 1.00)")
    print(f"   WER: plain {100 * w_plain:.2f} %, kindcast {100 * w_cli:.2f} % "
          f"(difference {100 * (w_cli - w_plain):+.2f} points; bar: <= +1.00); kindcast peak RSS {rss / 1024:.0f} MB")

    # 2. other files, in-process
    print("\n2. in-process, word times on for kindcast")
    ref_apollo = words(APOLLO.with_name("apollo11.whisper-large.txt").read_text())
    for name, audio, ref, seconds in (("ljspeech 221.7 s", LJ, ref_lj, 221.7), ("jfk 11 s", JFK, ref_jfk, 11.0),
                                      ("apollo11 89 s (*)", APOLLO, ref_apollo, 89.2)):
        tp, hp = plain(audio)
        to, wo = ours(audio)
        ho = [x for w in wo for x in words(w.text)]
        print(f"   {name:17s} plain {100 * wer(ref, hp):5.2f} % WER {seconds / tp:5.1f}x | "
              f"kindcast {100 * wer(ref, ho):5.2f} % WER {seconds / to:5.1f}x")

    print("   (*) reference is Whisper-large output, not a human transcript; the batched decoder alone loops here "
          "(\"yeah, yeah, ...\"), kindcast re-decodes looping segments with the plain decoder")

    # 3. glossary
    if not args.skip_glossary:
        print("\n3. glossary (hotwords / initial prompt), faster-whisper's batched pipeline as kindcast runs it")
        from faster_whisper import BatchedInferencePipeline

        batched = BatchedInferencePipeline(model)
        for name, audio, ref in (("ljspeech", LJ, ref_lj), ("jfk", JFK, ref_jfk)):
            terms = GLOSSARIES[name]
            wanted = [t.lower() for t in terms]
            for label, kw in (("none", {}), ("hotwords, bare", {"hotwords": " ".join(terms)}),
                              ("hotwords (kindcast)", {"hotwords": core.glossary_hotwords(terms)}),
                              ("initial_prompt", {"initial_prompt": ", ".join(terms) + "."}),
                              ("unrelated, bare", {"hotwords": " ".join(UNRELATED)}),
                              ("unrelated (kindcast)", {"hotwords": core.glossary_hotwords(UNRELATED)})):
                segs, _ = batched.transcribe(str(audio), language="en", beam_size=5, batch_size=core.BATCH_SIZE,
                                             word_timestamps=True, **kw)
                text = " ".join(s.text for s in segs)
                hyp = words(text)
                marks = len(re.findall(r"[.,?!;:]", text))
                hits = sum(min(hyp.count(t), ref.count(t)) for t in set(wanted))
                total = sum(ref.count(t) for t in set(wanted))
                print(f"   {name:9s} {label:21s} WER {100 * wer(ref, hyp):5.2f} %   glossary words right {hits}/{total}"
                      f"   punctuation marks {marks}")

    # 4. stereo
    if not args.skip_stereo:
        import numpy as np
        from faster_whisper import BatchedInferencePipeline
        from faster_whisper.audio import decode_audio

        print("\n4. stereo, one voice per channel (references: the per-channel texts)")
        refs = {side: words(STEREO.with_name(f"{STEREO.stem}.{side}.txt").read_text()) for side in ("left", "right")}
        left, right = decode_audio(str(STEREO), split_stereo=True)
        batched = BatchedInferencePipeline(model)
        segs, _ = batched.transcribe((left + right) / 2, language="en", beam_size=5, word_timestamps=True)
        said: dict[str, list[str]] = {"left": [], "right": []}
        for seg in segs:
            for w in seg.words:
                a, b = int(w.start * 16000), max(int(w.end * 16000), int(w.start * 16000) + 320)
                side = "left" if np.mean(left[a:b] ** 2) >= np.mean(right[a:b] ** 2) else "right"
                said[side] += words(w.word)
        mix = {side: wer(refs[side], said[side]) for side in said}
        tr = core.transcribe_audio(STEREO, model_dir=model_dir, channels={"left": "left", "right": "right"})
        sep = {side: wer(refs[side], [x for w in tr.words if w.speaker == side for x in words(w.text)])
               for side in said}
        print(f"   mono mix + energy attribution: WER left {100 * mix['left']:.1f} %, right {100 * mix['right']:.1f} %")
        print(f"   each channel on its own:       WER left {100 * sep['left']:.1f} %, right {100 * sep['right']:.1f} %")


if __name__ == "__main__":
    main()
