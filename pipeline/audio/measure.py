"""Measuring a recording in one streaming ffmpeg pass: its silences and the loudness of every 400 ms block."""
from __future__ import annotations

import math
import re
import subprocess
import threading
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from pipeline.media import OUT_TIME, ffmpeg_failed, start_ffmpeg, stream_stderr, truncated
from pipeline.procs import cpu_budget
from pipeline.timeline import format_clock

Progress = Callable[[float], None]

_BLOCK = re.compile(r"Parsed_ebur128_\d+ @ [^\]]*\] (?:\[info\] )?t:\s*([\d.]+)\s+TARGET:\S+ LUFS\s+"
                    r"M:\s*(-?[\d.]+|-?inf|nan)\s+S:\s*(-?[\d.]+|-?inf|nan)(?:.*?FTPK:\s*(-?[\d.]+|-?inf))?")
_SIL_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SIL_END = re.compile(r"silence_end:\s*(-?[\d.]+)")
_SUMMARY_I = re.compile(r"^\s+I:\s+(-?[\d.]+|-?inf) LUFS")
_SUMMARY_PEAK = re.compile(r"^\s+Peak:\s+(-?[\d.]+|-?inf) dBFS")
_SUMMARY_LRA = re.compile(r"^\s+LRA:\s+(-?[\d.]+) LU")
# The measure pass logs with levels and every message ("-loglevel repeat+level+verbose"), so that the decoders' and
# demuxers' complaints are told from the filters' measurements, and ffmpeg's closing statistics (decode errors,
# samples decoded) are printed. A message from another thread can land inside an ebur128 line, which ebur128 prints
# in pieces, and lose its level tag; so the count comes from the statistics, the places from the tagged lines.
_ERROR_LINE = re.compile(r"\[(?:error|fatal|panic)\] ")
_LEVEL_TAG = re.compile(r"\[(?:trace|debug|verbose|info|warning|error|fatal|panic)\] ")
_ANNOUNCED = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)")
_RATE = re.compile(r"\[graph_-?\d+_in_[^\]]*\] (?:\[verbose\] )?tb:\S+ samplefmt:\S+ samplerate:(\d+)")
_STATS = re.compile(r"Input stream #\d+:\d+ \(audio\):.*?(\d+) decode errors \((\d+) samples\)")
_GUESSED = "Estimating duration from bitrate"


@dataclass
class Measurement:
    duration: float  # decoded seconds
    block_end: array  # end time of each 400 ms momentary block (100 ms apart)
    block_lufs: array  # its momentary loudness
    silences: list[tuple[float, float | None]]  # (start, end or None = runs to the end)
    integrated: float | None  # of the whole file, as ebur128 reports it
    sample_peak: float | None = None  # dBFS, whole file
    errors: int = 0  # packets that failed to decode, and demuxer errors (a lost Ogg page), as ffmpeg counts them
    error_times: list[float] = field(default_factory=list)  # where (raw seconds) decoding errors were logged
    gaps: list[tuple[float, float]] = field(default_factory=list)  # (where, seconds) the decoded timestamps skipped
    announced: float | None = None  # the duration the file's header gives (None: unknown, or only a guess)
    decoded: float | None = None  # seconds of audio the decoder put out (samples / rate)
    block_short: array | None = None  # short-term (3 s) loudness at each block end, for the loudness range
    true_peak: float | None = None  # dBTP, whole file
    block_peak: array | None = None  # true peak of the last 100 ms of each block (dBTP)


def layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


# How a recording of more than two channels is mixed down (an aresample option, in the measure and apply passes
# alike): ffmpeg reads a 3- to 8-channel file without a channel mask as 2.1 ... 7.1, and its downmix leaves the LFE
# channel out, so a microphone on track 3 of 3 or track 4 of 8 would vanish from the published mix. Every channel is
# kept at 0 dB instead (tests/test_media.py).
DOWNMIX = "lfe_mix_level=1"


SPLIT_MEASURE_ABOVE = 60.0  # seconds: longer recordings are measured as two halves on two cores at once


def measure(path: Path, *, channels: int, threshold_db: float, min_silence: float, ffmpeg: str | None = None,
            label: str = "", duration_hint: float = 0.0, progress: Progress | None = None,
            blocks: bool = True) -> Measurement:
    """Silences and the per-block loudness of ``path`` after conversion to ``channels``, in one streaming pass.

    A long recording on a machine with several cores is measured as two halves at once (input seeking is exact
    when decoding); the halves' blocks and silences are joined (only the few blocks straddling the join are lost).
    """
    label = label or Path(path).name
    if not (blocks and duration_hint >= SPLIT_MEASURE_ABOVE and cpu_budget() >= 2):
        return _measure_part(path, channels=channels, threshold_db=threshold_db, min_silence=min_silence,
                             ffmpeg=ffmpeg, label=label, duration_hint=duration_hint, progress=progress, blocks=blocks)
    half = round(duration_hint / 2, 3)
    done = [0.0, 0.0]
    parts: list = [None, None]
    errors: list = []

    def run(i: int) -> None:
        def report(f: float) -> None:
            done[i] = f  # reported from the calling thread below, never from these threads

        try:
            parts[i] = _measure_part(path, channels=channels, threshold_db=threshold_db, min_silence=min_silence,
                                     ffmpeg=ffmpeg, label=label, duration_hint=half, progress=report, blocks=True,
                                     start=0.0 if i == 0 else half, length=half if i == 0 else None)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(timeout=0.25)
            if progress:
                progress(min(1.0, (done[0] + done[1]) / 2))
    if errors:
        raise errors[0]
    a, b = parts
    silences = list(a.silences)
    rest = list(b.silences)
    if silences and (silences[-1][1] is None or silences[-1][1] >= half - 0.05):
        if rest and rest[0][0] <= half + 0.05:
            silences[-1] = (silences[-1][0], rest.pop(0)[1])  # one silence across the join
        else:
            silences[-1] = (silences[-1][0], half)
    silences += rest
    # the second half's first blocks have incomplete windows (ebur128 logs them as silence): drop its first 400 ms
    # of momentary blocks, and leave its first 3 s of short-term values out of the loudness range
    keep = [i for i, end in enumerate(b.block_end) if end >= half + 0.4 - 0.01]
    b.block_end, b.block_lufs = array("d", (b.block_end[i] for i in keep)), array("d", (b.block_lufs[i] for i in keep))
    b.block_peak = array("d", (b.block_peak[i] for i in keep))
    b.block_short = array("d", (b.block_short[i] if b.block_end[j] >= half + 3.0 - 0.01 else -200.0
                                for j, i in enumerate(keep)))
    peaks = [p for p in (a.sample_peak, b.sample_peak) if p is not None]
    true_peaks = [p for p in (a.true_peak, b.true_peak) if p is not None]
    return Measurement(half + b.duration if b.duration else a.duration, a.block_end + b.block_end,
                       a.block_lufs + b.block_lufs, silences, None, sample_peak=max(peaks) if peaks else None,
                       errors=a.errors + b.errors, error_times=a.error_times + b.error_times, gaps=a.gaps + b.gaps,
                       announced=a.announced,
                       decoded=a.decoded + b.decoded if a.decoded is not None and b.decoded is not None else None,
                       block_short=a.block_short + b.block_short, true_peak=max(true_peaks) if true_peaks else None,
                       block_peak=a.block_peak + b.block_peak)


def _measure_part(path: Path, *, channels: int, threshold_db: float, min_silence: float, ffmpeg: str | None,
                  label: str, duration_hint: float, progress: Progress | None, blocks: bool, start: float = 0.0,
                  length: float | None = None) -> Measurement:
    chain = [f"aresample={DOWNMIX},aformat=sample_fmts=flt|fltp:channel_layouts={layout(channels)}",
             f"silencedetect=n={threshold_db}dB:d={min_silence}",
             f"ebur128=peak=sample+true:framelog={'info' if blocks else 'quiet'}"]
    args = ["-nostats", "-loglevel", "repeat+level+verbose", "-progress", "pipe:2"]
    if start:
        args += ["-ss", f"{start:.3f}"]
    if length is not None:
        args += ["-t", f"{length:.3f}"]
    args += ["-i", str(path), "-vn", "-sn", "-dn", "-af", ",".join(chain), "-f", "null", "-"]
    proc = start_ffmpeg(args, ffmpeg=ffmpeg)
    ends, lufs, short, peaks = array("d"), array("d"), array("d"), array("d")
    silences: list[tuple[float, float | None]] = []
    state = {"out": 0.0, "I": None, "summary": False, "peak": None, "true_peak": None, "section": "",
             "announced": None, "guessed": False, "rate": 0, "samples": None, "failed": 0, "demux": 0}
    errors: list[float] = []
    gaps: list[tuple[float, float]] = []

    def on_line(line: str) -> None:
        if "Parsed_ebur128" in line:
            m = _BLOCK.search(line)
            if m:
                t = float(m.group(1)) + start
                if ends and t - ends[-1] > BLOCK_STEP + GAP_MIN:  # the timestamps jumped: audio was lost here
                    gaps.append((ends[-1], t - ends[-1] - BLOCK_STEP))
                ends.append(t)
                lufs.append(_lufs_value(m.group(2)))
                short.append(_lufs_value(m.group(3)))
                peaks.append(_lufs_value(m.group(4) or "-inf"))
            elif "Summary" in line:
                state["summary"] = True
            return
        if "silencedetect" in line:
            m = _SIL_START.search(line)
            if m:
                silences.append((max(0.0, float(m.group(1))) + start, None))
            m = _SIL_END.search(line)
            if m and silences:
                silences[-1] = (silences[-1][0], float(m.group(1)) + start)
            return
        m = OUT_TIME.match(line)
        if m:
            state["out"] = int(m.group(1)) / 1e6
            if progress and duration_hint:
                progress(min(1.0, state["out"] / duration_hint))
            return
        if _ERROR_LINE.search(line):  # a decoder or demuxer error: placed at the last block (or output time) seen
            errors.append(ends[-1] if ends else start + state["out"])
            if line.startswith("[in#"):
                state["demux"] += 1
            return
        if "[verbose]" in line:
            m = _STATS.search(line)
            if m and (state["samples"] is None or int(m.group(2)) > state["samples"]):
                state["failed"], state["samples"] = int(m.group(1)), int(m.group(2))
            m = None if state["rate"] else _RATE.search(line)
            if m:
                state["rate"] = int(m.group(1))
            return
        if state["announced"] is None:
            m = _ANNOUNCED.match(_LEVEL_TAG.sub("", line))
            if m:
                state["announced"] = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
        if _GUESSED in line:
            state["guessed"] = True
        if state["summary"] and state["I"] is None:
            m = _SUMMARY_I.match(line)
            if m:
                state["I"] = None if "inf" in m.group(1) else float(m.group(1))
        if state["summary"]:
            if line.strip().endswith("peak:"):
                state["section"] = line.strip()
            m = _SUMMARY_PEAK.match(line)
            if m:
                key = "true_peak" if state["section"].startswith("True") else "peak"
                state[key] = -200.0 if "inf" in m.group(1) else float(m.group(1))

    tail = stream_stderr(proc, on_line)
    proc.wait()
    if proc.returncode != 0:
        raise ffmpeg_failed(f"{label}: could not decode the audio", [_LEVEL_TAG.sub("", t) for t in tail])
    # what was decoded, never the caller's hint: a truncated file must not look whole
    duration = state["out"] or ((ends[-1] - start) if ends else 0.0)
    announced = None if state["guessed"] else state["announced"]
    decoded = state["samples"] / state["rate"] if state["samples"] is not None and state["rate"] else None
    return Measurement(duration, ends, lufs, silences, state["I"], sample_peak=state["peak"],
                       errors=state["failed"] + state["demux"], error_times=errors, gaps=gaps, announced=announced,
                       decoded=decoded, block_short=short, true_peak=state["true_peak"], block_peak=peaks)


def _lufs_value(text: str) -> float:
    return -200.0 if "inf" in text or text == "nan" else float(text)


# --- damage --------------------------------------------------------------------------------------------------------
# Measured with scripts/bench_damage.py (60 s stereo files; 512 B to 32 KB of random bytes written over the middle,
# 3 seeds each; the errors are ffmpeg's count of packets that failed to decode, plus demuxer errors). A clean file of
# every accepted format (wav, flac, mp3 CBR and VBR, m4a, ogg, opus, aac), measured in one pass or as two halves,
# has none. The count alone says little about how much audio is gone: FLAC counts 1 whatever the size (0.02-0.3 s
# lost), Ogg and Opus 2 (1-12 s lost), MP3 1-8 (0.1-4.1 s), M4A 4-177 (0.1-4.2 s), ADTS AAC 1-7 (up to 0.2 s).
# Harmless files count some too: two MP3 files joined with `cat` 1 at the join (nothing lost), a file missing its
# last 100 bytes 0-1 in its last second. So a recording is refused when it counts DAMAGE_ERRORS or more errors, or
# loses DAMAGE_GAP or more of audio (a syllable; 2 KB of damage in a VBR MP3 loses 0.3 s), unless every error lies
# in its last second (a cut-off last frame; a truncated file is reported as such). Less damage is published with a
# warning, unless it is a single error that loses nothing measurable. PCM WAV has no structure to damage: random
# bytes in it decode as noise that no decoder can tell.
DAMAGE_ERRORS = 3
DAMAGE_GAP = 0.2  # seconds
DAMAGE_NOTE = 0.05  # seconds: one error that loses less (two MP3s joined) is not worth a warning
DAMAGE_TAIL = 1.0  # seconds at the end where a cut-off last frame is forgiven
DAMAGE_SPOT = 5.0  # errors closer than this are one damaged spot
BLOCK_STEP = 0.1  # ebur128 logs a block every 100 ms of audio
GAP_MIN = 0.15  # a timestamp jump counts as lost audio above this (one unreadable log line looks like 0.1 s)


def lost_audio(m: Measurement) -> float:
    """Seconds of audio the decoder could not put out: short of what the header announces, or where the timestamps
    skip when the header only guesses."""
    gaps = sum(seconds for _, seconds in m.gaps)
    if m.announced and m.decoded is not None:
        return max(gaps, m.announced - m.decoded)
    return gaps


def damage(m: Measurement) -> tuple[str, bool] | None:
    """('damaged audio around 1:23-1:31 (14 decode errors, 2.1 s lost)', too much to publish) when decoding the
    recording went wrong before its last second, else None."""
    if not m.errors:
        return None
    times = sorted(m.error_times)
    if times and times[0] >= m.duration - DAMAGE_TAIL:
        return None  # only at the very end: a cut-off last frame, or a truncated file (said by decode_problem)
    lost = lost_audio(m)
    spots: list[list[float]] = []
    for t in times:
        if spots and t - spots[-1][1] <= DAMAGE_SPOT:
            spots[-1][1] = t
        else:
            spots.append([t, t])
    for spot in spots:
        for where, seconds in m.gaps:
            if spot[0] - DAMAGE_SPOT <= where <= spot[1] + DAMAGE_SPOT:
                spot[1] = max(spot[1], where + seconds)
    places = []
    for first, last in spots[:3]:
        a, b = format_clock(max(0.0, first - 1.0)), format_clock(last + 1.0)
        places.append(a if a == b else f"{a}-{b}")
    where = (" around " + ", ".join(places) + (f" and {len(spots) - 3} more places" if len(spots) > 3 else "")
             if places else "")
    count = f"{m.errors} decode error{'s' if m.errors != 1 else ''}"
    if lost >= DAMAGE_NOTE:
        count += f", {lost:.1f} s lost"
    return f"damaged audio{where} ({count})", m.errors >= DAMAGE_ERRORS or lost >= DAMAGE_GAP


def decode_problem(m: Measurement) -> str | None:
    """Why the decoded recording cannot be published as it is (damaged, or shorter than its header says), or None."""
    found = damage(m)
    if found and found[1]:
        return f"{found[0]}; re-export the recording"
    return truncated(m.decoded if m.decoded is not None else m.duration, m.announced) if m.announced else None


def decode_warning(m: Measurement) -> str | None:
    """A glitch too small to refuse the recording for (see DAMAGE_ERRORS), said so that the producer can listen."""
    found = damage(m)
    if found and not found[1] and (m.errors > 1 or lost_audio(m) >= DAMAGE_NOTE):
        return f"{found[0]}: published as it decodes; listen there"
    return None


def gated_loudness(values: Iterable[float]) -> float | None:
    """Integrated loudness (BS.1770-4 gating: absolute -70 LUFS, relative -10 LU) of momentary block loudnesses."""
    powers = [10 ** ((v + 0.691) / 10) for v in values if v > -70.0]
    if not powers:
        return None
    relative = -0.691 + 10 * math.log10(sum(powers) / len(powers)) - 10.0
    floor = 10 ** ((relative + 0.691) / 10)
    kept = [p for p in powers if p > floor]
    if not kept:
        return None
    return -0.691 + 10 * math.log10(sum(kept) / len(kept))


def loudness_of(m: Measurement, segments: Sequence[tuple[float, float]]) -> float | None:
    """Integrated loudness of the blocks that lie wholly inside ``segments`` (raw times)."""
    chosen: list[float] = []
    eps = 0.051
    si = 0
    segs = sorted(segments)
    for end, value in zip(m.block_end, m.block_lufs):
        start = end - 0.4
        while si < len(segs) and segs[si][1] + eps < end:
            si += 1
        if si == len(segs):
            break
        if start + eps >= segs[si][0] and end <= segs[si][1] + eps:
            chosen.append(value)
    return gated_loudness(chosen)


def loudness_range(short_term: Iterable[float]) -> float | None:
    """Loudness range (EBU Tech 3342) of short-term (3 s) loudness values taken at least ten times a second."""
    values = sorted(v for v in short_term if v > -70.0)
    if not values:
        return None
    mean = -0.691 + 10 * math.log10(sum(10 ** ((v + 0.691) / 10) for v in values) / len(values))
    kept = [v for v in values if v > mean - 20.0]
    if len(kept) < 2:
        return 0.0

    def pct(p: float) -> float:
        k = (len(kept) - 1) * p
        lo = int(k)
        hi = min(lo + 1, len(kept) - 1)
        return kept[lo] + (kept[hi] - kept[lo]) * (k - lo)

    return pct(0.95) - pct(0.10)


def collect_summary(proc: subprocess.Popen, out: dict, blocks: bool = False) -> None:
    """Read an ebur128 run's stderr into ``out``: I, LRA, peak (the last Peak line: the true peak when asked for),
    and with ``blocks`` every block's end time, momentary and short-term loudness (``ends``, ``M``, ``S``)."""
    state = {"summary": False}
    if blocks:
        out["ends"], out["M"], out["S"] = array("d"), array("d"), array("d")

    def on_line(line: str) -> None:
        if "Summary" in line:
            state["summary"] = True
        if not state["summary"]:
            if blocks and "Parsed_ebur128" in line:
                m = _BLOCK.search(line)
                if m:
                    out["ends"].append(float(m.group(1)))
                    out["M"].append(_lufs_value(m.group(2)))
                    out["S"].append(_lufs_value(m.group(3)))
            return
        m = _SUMMARY_LRA.match(line)
        if m and "LRA" not in out:
            out["LRA"] = float(m.group(1))
        m = _SUMMARY_I.match(line)
        if m and "I" not in out:
            out["I"] = None if "inf" in m.group(1) else float(m.group(1))
        m = _SUMMARY_PEAK.match(line)
        if m:
            out["peak"] = -200.0 if "inf" in m.group(1) else float(m.group(1))

    out["tail"] = list(stream_stderr(proc, on_line))


