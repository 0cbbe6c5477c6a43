#!/usr/bin/env python3
"""Make a test interview with known turns: synthetic voices (espeak-ng), one speaker much quieter, steady noise.

The recording problems of a real interview, made to measure, with the truth written beside it:

    python scripts/make_interview.py dev2 /tmp/iv.wav                # built-in two-voice script
    python scripts/make_interview.py dev3 /tmp/iv3.flac --quiet guest2 --quiet-lu 11 --snr 21.5
    python scripts/make_interview.py my-script.yaml /tmp/iv.wav --voices heldout --seed 7

SCRIPT is ``dev2`` or ``dev3`` (built in, for development) or a YAML file::

    speakers: [{id: host, name: Ana Host, role: host}, {id: guest, name: Ben Guest, role: guest}]
    turns: [{speaker: host, text: "..."}, {speaker: guest, text: "..."}]

What it makes (mono, 44.1 kHz; the format follows OUT's extension: .wav, .flac or .mp3):
- each turn spoken by its speaker's voice, with a pause of ``--gap`` seconds (random in the range) between turns;
  a turn of at most ``--backchannel-words`` words ("Mm-hm.") is laid *over* the middle of the turn before it when that
  turn is another speaker's (an overlap, as in real talk);
- the ``--quiet`` speaker (default: the first guest) ``--quiet-lu`` LU (default 11) below the others, measured as the
  integrated loudness (ffmpeg ebur128) of each speaker's own speech;
- steady pink noise ``--snr`` dB (default 21.5) below the loudness of the louder speakers' speech, under everything,
  including ``--lead`` seconds before the first turn and after the last;
- the whole at ``--lufs`` (default -28) integrated (espeak-ng is peaky: louder would clip).

Beside OUT, ``OUT.json`` (same stem) holds the truth: speakers, every turn with its start/end in seconds and its
text, and the measured figures (each speaker's loudness, the noise level, the snr). ``--voices dev`` and
``--voices heldout`` use different espeak-ng voices, so a held-out recording is not the development voices again.
Needs espeak-ng (Debian: ``apt-get install espeak-ng``) and numpy; ffmpeg comes from ``pipeline.media``.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.media import ffmpeg_path  # noqa: E402

RATE = 22050  # espeak-ng's own rate: everything is mixed at it and resampled once at the end
OUT_RATE = 44100

# (espeak-ng voice, words per minute, pitch 0-99) by speaker position: host, first guest, second guest, ...
VOICES = {
    "dev": [("en-gb+m3", 165, 45), ("en-us+f2", 158, 60), ("en-gb-scotland+m1", 160, 35), ("en-us+f4", 150, 70)],
    "heldout": [("en-gb-x-rp+m5", 160, 40), ("en-029+f3", 155, 65), ("en-us-nyc+m2", 168, 30),
                ("en-gb-x-gbclan+f1", 152, 55)],
}

DEV_SCRIPTS = {
    "dev2": {
        "title": "The allotment on Fenwick Road",
        "speakers": [{"id": "host", "name": "Sam Whitfield", "role": "host"},
                     {"id": "guest", "name": "Mina Patel", "role": "guest"}],
        "turns": [
            ("host", "Welcome back. Today I am talking to Mina, who started a shared allotment on Fenwick Road."),
            ("guest", "Thanks for having me. It began with one empty plot and a sign on the gate asking who wanted to grow food."),
            ("host", "And who turned up?"),
            ("guest", "Everyone, really. Retired men who had grown leeks for fifty years, and families who had just "
                      "arrived in the city and had never held a spade in this country."),
            ("host", "Mm-hm."),
            ("guest", "At first they worked at opposite ends of the plot. Nobody was unkind, they just did not talk."),
            ("host", "So what changed?"),
            ("guest", "The water. There was one tap, so people had to queue and wait for each other, and while you "
                      "wait you start chatting about slugs and seeds and the weather."),
            ("host", "Right."),
            ("guest", "By the summer the older men were teaching the children how to stake beans, and the children's "
                      "parents were sharing chillies and recipes nobody had tasted before."),
            ("host", "That sounds like more than gardening."),
            ("guest", "It is. When one of the older men went into hospital, the families took turns to water his "
                      "plot, and they visited him too. He still talks about it."),
            ("host", "What would you say to someone who wants to start something like this?"),
            ("guest", "Start small, and put the tap in the middle. Make people share something they both need."),
            ("host", "Mina, thank you so much."),
            ("guest", "Thank you."),
        ],
    },
    "dev3": {
        "title": "Two choirs, one concert",
        "speakers": [{"id": "host", "name": "Sam Whitfield", "role": "host"},
                     {"id": "guest1", "name": "Grace Obi", "role": "guest"},
                     {"id": "guest2", "name": "Tom Hargreaves", "role": "guest"}],
        "turns": [
            ("host", "Grace and Tom each run a choir in the same town, and last spring they sang together for the first time."),
            ("guest1", "Mine is a gospel choir that meets in a church hall on the east side."),
            ("guest2", "And mine is a working men's club choir from the other side of the river. Mostly old songs."),
            ("host", "How did it start?"),
            ("guest1", "The council asked both of us to sing at the same festival, on the same stage, one after the other."),
            ("guest2", "We were a bit wary, to be honest. We did not know each other's music at all."),
            ("host", "Yeah."),
            ("guest1", "So we invited them to a rehearsal. Tom's lot arrived looking terrified."),
            ("guest2", "We were terrified. But they fed us, and by the second hour we were clapping on the wrong beat "
                       "and laughing about it."),
            ("host", "And the concert?"),
            ("guest1", "We sang three songs together at the end. One of ours, one of theirs, and one we learned together."),
            ("guest2", "People in the audience were in tears. Some of them had never been to that part of town."),
            ("host", "Do the choirs still meet?"),
            ("guest1", "Every month. We swap halls, so everyone has to travel across the river once in a while."),
            ("guest2", "That was Grace's idea. It works."),
            ("host", "Thank you both."),
        ],
    },
}


def load_script(spec: str) -> dict:
    if spec in DEV_SCRIPTS:
        data = DEV_SCRIPTS[spec]
        return {**data, "turns": [{"speaker": s, "text": t} for s, t in data["turns"]]}
    data = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
    ids = [s["id"] for s in data["speakers"]]
    for i, turn in enumerate(data["turns"]):
        if turn["speaker"] not in ids:
            raise SystemExit(f"{spec}: turns[{i}]: unknown speaker {turn['speaker']!r}")
    return data


def speak(text: str, voice: tuple[str, int, int], tmp: Path) -> np.ndarray:
    """espeak-ng -> float32 mono at RATE, its own leading and trailing silence trimmed to 20 ms."""
    name, wpm, pitch = voice
    out = tmp / "turn.wav"
    subprocess.run(["espeak-ng", "-v", name, "-s", str(wpm), "-p", str(pitch), "-w", str(out), text], check=True)
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(pcm) > 0.003)
    keep = int(0.02 * RATE)
    return pcm[max(0, loud[0] - keep): loud[-1] + keep + 1]


def loudness(samples: np.ndarray) -> float:
    """Integrated loudness (LUFS, ffmpeg ebur128) of mono float samples at RATE."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostats", "-f", "f32le", "-ar", str(RATE), "-ac", "1", "-i", "-",
           "-af", "ebur128", "-f", "null", "-"]
    proc = subprocess.run(cmd, input=samples.astype("<f4").tobytes(), capture_output=True, check=True)
    err = proc.stderr.decode("utf-8", "replace")
    return float(re.search(r"I:\s+(-?[\d.]+) LUFS", err[err.rfind("Summary:"):]).group(1))


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Pink (1/f power) noise, unit RMS, by shaping white noise's spectrum."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise ** 2))).astype(np.float32)


def make(script: dict, out: Path, *, quiet: str | None, quiet_lu: float, snr: float, lufs: float, voices: str,
         seed: int, gap: tuple[float, float], lead: float, backchannel_words: int) -> dict:
    rng = np.random.default_rng(seed)
    speakers = script["speakers"]
    ids = [s["id"] for s in speakers]
    if quiet is None:
        quiet = next((s["id"] for s in speakers if s.get("role") != "host"), None)
    if quiet is not None and quiet not in ids:
        raise SystemExit(f"--quiet {quiet}: not a speaker of this script ({', '.join(ids)})")
    voice_of = {sid: VOICES[voices][i % len(VOICES[voices])] for i, sid in enumerate(ids)}

    # 1. speak every turn and lay the turns out on a timeline
    placed = []  # (speaker, start sample, audio, text, overlap)
    with tempfile.TemporaryDirectory() as tmp:
        pos = int(lead * RATE)
        previous = None
        for turn in script["turns"]:
            audio = speak(turn["text"], voice_of[turn["speaker"]], Path(tmp))
            short = len(turn["text"].split()) <= backchannel_words
            if short and previous is not None and previous[0] != turn["speaker"] and len(previous[2]) > 3 * len(audio):
                start = previous[1] + (len(previous[2]) - len(audio)) // 2  # over the middle of the turn before
                placed.append((turn["speaker"], start, audio, turn["text"], True))
                continue
            if previous is not None:
                pos += int(rng.uniform(*gap) * RATE)
            placed.append((turn["speaker"], pos, audio, turn["text"], False))
            previous = placed[-1]
            pos += len(audio)
    total = pos + int(lead * RATE)

    # 2. level each speaker: the quiet one quiet_lu below the others, measured on their own speech
    own = {sid: np.concatenate([a for s, _, a, _, _ in placed if s == sid]) for sid in ids
           if any(s == sid for s, *_ in placed)}
    measured = {sid: loudness(a) for sid, a in own.items()}
    reference = max(v for sid, v in measured.items() if sid != quiet) if len(measured) > 1 else measured[ids[0]]
    gains = {sid: 10 ** (((reference - quiet_lu if sid == quiet else reference) - v) / 20) for sid, v in measured.items()}
    tracks = {sid: np.zeros(total, np.float32) for sid in own}
    for sid, start, audio, _, _ in placed:
        tracks[sid][start:start + len(audio)] += audio * gains[sid]
    speech = sum(tracks.values())
    loud_speech = loudness(np.concatenate([own[sid] * gains[sid] for sid in own if sid != quiet] or [speech]))

    # 3. pink noise snr dB below the louder speakers' speech, then the whole mix to the target loudness
    noise = pink_noise(total, rng)
    noise *= 10 ** ((loud_speech - snr - loudness(noise)) / 20)
    mix = speech + noise
    scale = 10 ** ((lufs - loudness(mix)) / 20)
    mix *= scale
    peak = float(np.max(np.abs(mix)))
    if peak > 0.98:
        raise SystemExit(f"the mix would clip (peak {peak:.2f}); ask for a lower --lufs")

    out.parent.mkdir(parents=True, exist_ok=True)
    codec = {".wav": ["-c:a", "pcm_s16le"], ".flac": ["-c:a", "flac", "-sample_fmt", "s16"],
             ".mp3": ["-c:a", "libmp3lame", "-b:a", "128k"]}[out.suffix.lower()]
    subprocess.run([ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(RATE),
                    "-ac", "1", "-i", "-", "-ar", str(OUT_RATE), "-map_metadata", "-1", "-fflags", "+bitexact",
                    "-flags:a", "+bitexact", *codec, str(out)], input=mix.astype("<f4").tobytes(), check=True)

    final = {sid: loudness(own[sid] * gains[sid] * scale) for sid in own}
    truth = {
        "title": script.get("title"),
        "file": out.name,
        "duration": round(total / RATE, 3),
        "voices": voices,
        "seed": seed,
        "speakers": [{**s, "voice": voice_of[s["id"]][0], "lufs": round(final[s["id"]], 2)}
                     for s in speakers if s["id"] in final],
        "quiet": quiet,
        "noise_lufs": round(loudness(noise * scale), 2),
        "snr_db": snr,
        "mix_lufs": round(lufs, 2),
        "turns": [{"speaker": s, "start": round(st / RATE, 3), "end": round((st + len(a)) / RATE, 3), "text": t,
                   **({"overlap": True} if ov else {})}
                  for s, st, a, t, ov in sorted(placed, key=lambda p: p[1])],
    }
    out.with_suffix(".json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("script", help="dev2, dev3, or a YAML script file")
    ap.add_argument("out", type=Path, help="the recording to write (.wav, .flac or .mp3); the truth goes to .json")
    ap.add_argument("--quiet", default=None, help="the speaker id made quiet (default: the first guest)")
    ap.add_argument("--quiet-lu", type=float, default=11.0, help="how much quieter, in LU (default 11)")
    ap.add_argument("--snr", type=float, default=21.5, help="noise this many dB below the speech (default 21.5)")
    ap.add_argument("--lufs", type=float, default=-28.0, help="integrated loudness of the whole (default -28)")
    ap.add_argument("--voices", choices=sorted(VOICES), default="dev")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, nargs=2, default=(0.35, 0.9), metavar=("MIN", "MAX"))
    ap.add_argument("--lead", type=float, default=1.5, help="seconds of noise before the first and after the last turn")
    ap.add_argument("--backchannel-words", type=int, default=2,
                    help="turns this short are laid over the turn before (0: never)")
    args = ap.parse_args(argv)
    truth = make(load_script(args.script), args.out, quiet=args.quiet, quiet_lu=args.quiet_lu, snr=args.snr,
                 lufs=args.lufs, voices=args.voices, seed=args.seed, gap=tuple(args.gap), lead=args.lead,
                 backchannel_words=args.backchannel_words)
    levels = ", ".join(f"{s['id']} {s['lufs']:.1f}" for s in truth["speakers"])
    print(f"{args.out}: {truth['duration']:.1f} s, {len(truth['turns'])} turns; LUFS {levels}; "
          f"noise {truth['noise_lufs']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
