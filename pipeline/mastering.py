"""Mastering: trim silence, remove cuts, add intro/outro music, normalise loudness, encode, tag.

The audio never passes through Python. Three ffmpeg runs, each streaming, so memory does not grow with length:

1. **measure** the raw recording once: ``silencedetect`` finds where sound starts and ends, ``ebur128`` logs the
   momentary loudness of every 400 ms block (every 100 ms). From those blocks the integrated loudness (ITU BS.1770
   gating) of exactly the stretches that will be published is computed, so trimming and cuts are accounted for.
   A long recording is measured as two halves at once on two cores.
2. **apply**: select the kept stretches (``atrim`` + ``concat``, with 10 ms fades at the joins), resample, apply one
   static gain, a look-ahead limiter (``alimiter``) a little below the true-peak ceiling, and encode. The encoded
   stream is written to the file and, through a pipe, at the same time into
3. **verify**: ``ebur128`` with true-peak measures the *encoded* audio (MP3 encoding adds overshoot). When the
   integrated loudness is off target or the true peak is over the ceiling, the apply pass runs again with a corrected
   gain or a lower limiter ceiling (rarely needed).

Then the tags (mutagen: ID3 for MP3 with CHAP/CTOC chapters; MP4 atoms for M4A, whose chapters ffmpeg writes) are
written and the file is moved into place. Nothing here imports a stage or the CLI.

Why not ``loudnorm``: measured here, its measuring pass runs at 52x real time against 244x for ``ebur128``, its
dynamic applying pass at 35x, and a naive two-pass loudnorm with trimming landed at -16.5 LUFS. A static gain is what
loudnorm's linear mode does anyway; the limiter plus the check on the encoded file make the true peak safe.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import threading
import time
from array import array
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from pipeline.errors import KindcastError
from pipeline.media import ffmpeg_path, probe_audio
from pipeline.timeline import Timeline

Progress = Callable[[float], None]

MP3_HEADROOM_DB = 0.5  # first limiter ceiling below the true-peak target (encoder overshoot)
AAC_HEADROOM_DB = 0.6
# libmp3lame output measures uniformly 0.45 dB below its input (loudness and peaks alike; measured here on speech,
# music and synthetic sources): the first attempt's gain makes up for it, the verify pass catches the rest.
CODEC_GAIN_DB = {"mp3": -0.45, "m4a": 0.0}
# The limiter takes some loudness off: on speech here 0.03-0.1 LU per dB that the peaks would exceed its ceiling.
# The first attempt adds this much gain per dB of excess (capped); the verify pass corrects what remains.
LIMITER_LOSS_PER_DB = 0.07
LIMITER_LOSS_MAX = 1.5
LOUDNESS_TOLERANCE = 0.35  # LU: re-run the apply pass when the encoded file is further than this from target
MAX_ATTEMPTS = 3
JOIN_FADE = 0.010  # seconds of fade at each join of kept stretches (no click at a cut)
MIN_SEGMENT = 0.05  # kept stretches shorter than this are dropped
MIME = {"mp3": "audio/mpeg", "m4a": "audio/mp4"}


@dataclass(frozen=True)
class ChapterMark:
    """A chapter as the producer wrote it: ``start`` in raw-recording seconds."""

    start: float
    title: str
    url: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class TagInfo:
    title: str | None = None
    album: str | None = None  # the show
    artist: str | None = None  # the show's author
    track: int | None = None
    date: str | None = None  # YYYY-MM-DD
    artwork: Path | None = None
    genre: str = "Podcast"
    comment: str | None = None


@dataclass(frozen=True)
class MasterJob:
    source: Path
    output: Path  # .mp3 or .m4a; written atomically
    label: str = ""  # how errors name the input (episode slug or file); default: the file name
    target_lufs: float = -16.0
    mono_target_lufs: float | None = None  # used instead of target_lufs when the output is mono
    true_peak: float = -1.0
    fmt: str = "mp3"
    bitrate: str = "128k"
    quality: int = 7  # libmp3lame compression_level (LAME -q): 0 best/slowest .. 9 fastest
    sample_rate: int = 44100
    channels: str = "auto"  # auto (keep mono mono, everything else stereo) | mono | stereo
    silence_threshold_db: float = -45.0
    min_silence: float = 0.5
    pad: float = 0.35
    trim: bool = True
    cuts: tuple[tuple[float, float], ...] = ()
    intro: Path | None = None
    outro: Path | None = None
    chapters: tuple[ChapterMark, ...] = ()
    tags: TagInfo | None = None
    ffmpeg: str | None = None
    work_dir: Path | None = None  # temporary files; default: beside the output


@dataclass
class MasterResult:
    file: Path
    fmt: str
    mime: str
    bytes: int
    duration: float  # published seconds
    lufs: float
    true_peak: float
    channels: int
    timeline: Timeline
    chapters: list[dict]  # Podcasting 2.0 JSON chapters, published times
    source_duration: float
    source_lufs: float  # integrated loudness of the kept stretches before gain
    gain_db: float
    limiter_ceiling: float
    attempts: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def chapters_json(self) -> str:
        return json.dumps({"version": "1.2.0", "chapters": self.chapters}, indent=2, ensure_ascii=False) + "\n"


# --- running ffmpeg ------------------------------------------------------------------------------------------------

_OUT_TIME = re.compile(r"^out_time_us=(\d+)")


def _ffmpeg_cmd(ffmpeg: str | None, args: Sequence[str]) -> list[str]:
    return [ffmpeg_path(ffmpeg), "-hide_banner", "-nostdin", "-y", *args]


def _stream_stderr(proc: subprocess.Popen, on_line: Callable[[str], None]) -> deque:
    """Feed every stderr line to ``on_line``; keep only the last few for an error message."""
    tail: deque = deque(maxlen=12)
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.rstrip("\n")
        on_line(line)
        if line and not line.startswith(("out_time", "progress=", "total_size", "bitrate=", "speed=", "frame=",
                                         "fps=", "stream_", "dup_frames", "drop_frames", "out_time_ms")):
            tail.append(line.strip())
    return tail


def _fail(label: str, what: str, tail: Iterable[str]) -> KindcastError:
    lines = [t for t in tail if "Parsed_ebur128" not in t and "silence_" not in t][-3:]
    detail = " | ".join(lines) or "no message"
    return KindcastError(f"{label}: {what}: ffmpeg failed: {detail}")


# --- measuring -----------------------------------------------------------------------------------------------------

_BLOCK = re.compile(r"Parsed_ebur128_\d+ @ [^\]]*\] t:\s*([\d.]+)\s+TARGET:\S+ LUFS\s+M:\s*(-?[\d.]+|-?inf|nan)")
_SIL_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SIL_END = re.compile(r"silence_end:\s*(-?[\d.]+)")
_SUMMARY_I = re.compile(r"^\s+I:\s+(-?[\d.]+|-?inf) LUFS")
_SUMMARY_PEAK = re.compile(r"^\s+Peak:\s+(-?[\d.]+|-?inf) dBFS")


@dataclass
class Measurement:
    duration: float  # decoded seconds
    block_end: array  # end time of each 400 ms momentary block (100 ms apart)
    block_lufs: array  # its momentary loudness
    silences: list[tuple[float, float | None]]  # (start, end or None = runs to the end)
    integrated: float | None  # of the whole file, as ebur128 reports it
    sample_peak: float | None = None  # dBFS, whole file


def _layout(channels: int) -> str:
    return "mono" if channels == 1 else "stereo"


SPLIT_MEASURE_ABOVE = 60.0  # seconds: longer recordings are measured as two halves on two cores at once


def measure(path: Path, *, channels: int, threshold_db: float, min_silence: float, ffmpeg: str | None = None,
            label: str = "", duration_hint: float = 0.0, progress: Progress | None = None,
            blocks: bool = True) -> Measurement:
    """Silences and the per-block loudness of ``path`` after conversion to ``channels``, in one streaming pass.

    A long recording on a machine with several cores is measured as two halves at once (input seeking is exact
    when decoding); the halves' blocks and silences are joined (only the few blocks straddling the join are lost).
    """
    label = label or Path(path).name
    if not (blocks and duration_hint >= SPLIT_MEASURE_ABOVE and (os.cpu_count() or 1) >= 2):
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
    peaks = [p for p in (a.sample_peak, b.sample_peak) if p is not None]
    return Measurement(half + b.duration if b.duration else a.duration, a.block_end + b.block_end,
                       a.block_lufs + b.block_lufs, silences, None, max(peaks) if peaks else None)


def _measure_part(path: Path, *, channels: int, threshold_db: float, min_silence: float, ffmpeg: str | None,
                  label: str, duration_hint: float, progress: Progress | None, blocks: bool, start: float = 0.0,
                  length: float | None = None) -> Measurement:
    chain = [f"aformat=sample_fmts=flt|fltp:channel_layouts={_layout(channels)}",
             f"silencedetect=n={threshold_db}dB:d={min_silence}",
             f"ebur128=peak=sample:framelog={'info' if blocks else 'quiet'}"]
    args = ["-nostats", "-progress", "pipe:2"]
    if start:
        args += ["-ss", f"{start:.3f}"]
    if length is not None:
        args += ["-t", f"{length:.3f}"]
    args += ["-i", str(path), "-vn", "-sn", "-dn", "-af", ",".join(chain), "-f", "null", "-"]
    proc = subprocess.Popen(_ffmpeg_cmd(ffmpeg, args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    ends, lufs = array("d"), array("d")
    silences: list[tuple[float, float | None]] = []
    state = {"out": 0.0, "I": None, "summary": False, "peak": None}

    def on_line(line: str) -> None:
        if "Parsed_ebur128" in line:
            m = _BLOCK.search(line)
            if m:
                ends.append(float(m.group(1)) + start)
                value = m.group(2)
                lufs.append(-200.0 if "inf" in value or value == "nan" else float(value))
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
        m = _OUT_TIME.match(line)
        if m:
            state["out"] = int(m.group(1)) / 1e6
            if progress and duration_hint:
                progress(min(1.0, state["out"] / duration_hint))
            return
        if state["summary"] and state["I"] is None:
            m = _SUMMARY_I.match(line)
            if m:
                state["I"] = None if "inf" in m.group(1) else float(m.group(1))
        if state["summary"]:
            m = _SUMMARY_PEAK.match(line)
            if m:
                state["peak"] = -200.0 if "inf" in m.group(1) else float(m.group(1))

    tail = _stream_stderr(proc, on_line)
    proc.wait()
    if proc.returncode != 0:
        raise _fail(label, "could not decode the audio", tail)
    duration = state["out"] or (ends[-1] if ends else 0.0) or duration_hint
    return Measurement(duration, ends, lufs, silences, state["I"], state["peak"])


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


BLIP = 0.25  # seconds: a sound this short with silence on both sides at an end (a click, a mic bump) is trimmed too


def sound_bounds(m: Measurement, duration: float) -> tuple[float, float] | None:
    """Where sound starts and ends (raw seconds), or None when the whole file is below the silence threshold.

    A blip (shorter than ``BLIP``) between the leading silence and the next silence counts as silence, and the same
    at the end, so a mic bump before the talk does not keep seconds of silence in.
    """
    sil = [(s, duration if e is None else e) for s, e in m.silences]
    if sil and sil[0][0] <= 0.05 and sil[0][1] >= duration - 0.05:
        return None
    first, last = 0.0, duration
    i = 0
    if sil and sil[0][0] <= 0.05:
        first = sil[0][1]
        i = 1
        while i < len(sil) and sil[i][0] - first < BLIP and sil[i][1] < duration - 0.05:
            first = sil[i][1]
            i += 1
    j = len(sil) - 1
    if sil and sil[-1][1] >= duration - 0.05 and j >= i:
        last = sil[-1][0]
        j -= 1
        while j >= i and last - sil[j][1] < BLIP:
            last = sil[j][0]
            j -= 1
    if last - first < BLIP:
        return None
    return first, last


def plan_segments(duration: float, bounds: tuple[float, float] | None, pad: float,
                  cuts: Sequence[tuple[float, float]], label: str) -> list[tuple[float, float]]:
    """The kept stretches of the raw recording: the sound (with ``pad`` of breath each side) minus the cuts."""
    start, end = (0.0, duration) if bounds is None else (max(0.0, bounds[0] - pad), min(duration, bounds[1] + pad))
    for i, (cs, ce) in enumerate(cuts):
        if cs >= duration:
            raise KindcastError(f"{label}: cuts[{i}]: starts at {cs:g}s, after the recording ends ({duration:.1f}s)")
        if ce <= cs:
            raise KindcastError(f"{label}: cuts[{i}]: end ({ce:g}) must be after start ({cs:g})")
    kept = [(start, end)]
    for cs, ce in sorted(cuts):
        nxt = []
        for ks, ke in kept:
            if ce <= ks or cs >= ke:
                nxt.append((ks, ke))
                continue
            if cs > ks:
                nxt.append((ks, cs))
            if ce < ke:
                nxt.append((ce, ke))
        kept = nxt
    kept = [(round(s, 4), round(e, 4)) for s, e in kept if e - s >= MIN_SEGMENT]
    if not kept:
        raise KindcastError(f"{label}: nothing left to publish after trimming silence and removing the cuts")
    return kept


# --- applying ------------------------------------------------------------------------------------------------------

def _segment_filters(label_in: str, segments: Sequence[tuple[float, float]], whole: float) -> tuple[list[str], str]:
    """atrim+concat of the kept stretches of input ``label_in``; returns (filter chains, output label)."""
    chains: list[str] = []
    if len(segments) == 1 and segments[0][0] <= 0.0 and segments[0][1] >= whole:
        return [f"[{label_in}]anull[speech]"], "speech"
    n = len(segments)
    if n == 1:
        src = [label_in]
    else:
        chains.append(f"[{label_in}]asplit={n}" + "".join(f"[sp{i}]" for i in range(n)))
        src = [f"sp{i}" for i in range(n)]
    for i, (s, e) in enumerate(segments):
        length = e - s
        fade = min(JOIN_FADE, length / 4)
        parts = [f"atrim=start={s:.6f}:end={e:.6f}", "asetpts=PTS-STARTPTS"]
        if n > 1:
            if i > 0:
                parts.append(f"afade=t=in:d={fade:.4f}")
            if i < n - 1:
                parts.append(f"afade=t=out:st={length - fade:.6f}:d={fade:.4f}")
        chains.append(f"[{src[i]}]" + ",".join(parts) + f"[seg{i}]")
    if n == 1:
        chains[-1] = chains[-1].replace("[seg0]", "[speech]")
    else:
        chains.append("".join(f"[seg{i}]" for i in range(n)) + f"concat=n={n}:v=0:a=1[speech]")
    return chains, "speech"


def build_graph(segments: Sequence[tuple[float, float]], whole: float, *, channels: int, sample_rate: int,
                gain_db: float, ceiling_db: float, music: Sequence[tuple[int, float, str]] = ()) -> str:
    """The apply filtergraph. ``music``: (input index, gain dB, 'intro'|'outro')."""
    fmt = f"aresample={sample_rate},aformat=sample_fmts=flt:channel_layouts={_layout(channels)}"
    chains, speech = _segment_filters("0:a", segments, whole)
    chains.append(f"[{speech}]{fmt},volume={gain_db:.3f}dB[main]")
    for idx, gain, role in music:
        chains.append(f"[{idx}:a]{fmt},volume={gain:.3f}dB[{role}]")
    intro = [r for _, _, r in music if r == "intro"]
    outro = [r for _, _, r in music if r == "outro"]
    order = intro + ["main"] + outro
    if len(order) > 1:
        chains.append("".join(f"[{o}]" for o in order) + f"concat=n={len(order)}:v=0:a=1[mix]")
        last = "mix"
    else:
        last = "main"
    limit = 10 ** (ceiling_db / 20)
    chains.append(f"[{last}]alimiter=limit={max(0.0625, min(1.0, limit)):.5f}:attack=5:release=50:level=0:latency=1,"
                  f"aresample={sample_rate},aformat=sample_fmts=flt:channel_layouts={_layout(channels)}[out]")
    return ";".join(chains)


def _codec_args(fmt: str, bitrate: str, sample_rate: int, channels: int, quality: int = 7) -> list[str]:
    if fmt == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", str(quality), "-ar", str(sample_rate),
                "-ac", str(channels)]
    return ["-c:a", "aac", "-b:a", bitrate, "-ar", str(sample_rate), "-ac", str(channels)]


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _ffmetadata(chapters: Sequence[dict], end: float) -> str:
    def esc(text: str) -> str:
        return re.sub(r"([=;#\\\n])", r"\\\1", text)

    out = [";FFMETADATA1"]
    for i, ch in enumerate(chapters):
        stop = chapters[i + 1]["startTime"] if i + 1 < len(chapters) else end
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(round(ch['startTime'] * 1000))}",
                f"END={int(round(stop * 1000))}", f"title={esc(ch['title'])}"]
    return "\n".join(out) + "\n"


def apply_and_verify(job: MasterJob, tmp: Path, inputs: Sequence[Path], graph: str, channels: int,
                     expected: float, progress: Progress | None, label: str,
                     ffmetadata: Path | None = None) -> tuple[float | None, float | None]:
    """Run the apply pass into ``tmp``; measure the encoded audio (in parallel through a pipe for MP3).

    Returns (integrated LUFS, true peak dBTP) of the encoded audio.
    """
    args = ["-nostats", "-loglevel", "error", "-progress", "pipe:2"]
    for p in inputs:
        args += ["-i", str(Path(p).resolve())]
    if ffmetadata is not None:
        args += ["-f", "ffmetadata", "-i", str(ffmetadata.resolve())]
    args += ["-filter_complex", graph, "-map", "[out]"]
    if ffmetadata is not None:
        # metadata from the chapters file (it has no global tags); "-map_metadata -1" would drop the chapter titles
        args += ["-map_metadata", str(len(inputs)), "-map_chapters", str(len(inputs))]
    else:
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    args += _codec_args(job.fmt, job.bitrate, job.sample_rate, channels, job.quality)
    verify_args = ["-nostats", "-i", "pipe:0", "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"]
    parallel = job.fmt == "mp3" and _SAFE_NAME.match(tmp.name) is not None
    if parallel:
        # the file and, through a pipe, the verifier; if the verifier dies the file is still written (and the
        # verifier's own error is reported)
        args += ["-f", "tee", f"[f=mp3:id3v2_version=3]{tmp.name}|"
                 f"[f=mp3:id3v2_version=0:write_xing=0:onfail=ignore]pipe:1"]
    else:
        if job.fmt == "m4a":
            args += ["-movflags", "+faststart", "-f", "mp4"]
        else:
            args += ["-f", "mp3"]
        args += [tmp.name]
    state = {"out": 0.0}

    def on_line(line: str) -> None:
        m = _OUT_TIME.match(line)
        if m:
            state["out"] = int(m.group(1)) / 1e6
            if progress and expected:
                progress(min(1.0, state["out"] / expected))

    enc = subprocess.Popen(_ffmpeg_cmd(job.ffmpeg, args), cwd=str(tmp.parent),
                           stdout=subprocess.PIPE if parallel else subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True, errors="replace")
    verify_out: dict = {}
    ver = None
    ver_thread = None
    if parallel:
        assert enc.stdout is not None
        ver = subprocess.Popen(_ffmpeg_cmd(job.ffmpeg, ["-f", "mp3", *verify_args]), stdin=enc.stdout,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        enc.stdout.close()  # the verifier owns the read end now
        ver_thread = threading.Thread(target=_collect_summary, args=(ver, verify_out), daemon=True)
        ver_thread.start()
    tail = _stream_stderr(enc, on_line)
    enc.wait()
    if ver is not None:
        ver.wait()
        ver_thread.join()
    if enc.returncode != 0:
        raise _fail(label, "encoding failed", tail)
    if not parallel:
        ver = subprocess.Popen(_ffmpeg_cmd(job.ffmpeg, verify_args[:2] + [str(tmp)] + verify_args[3:]),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
        _collect_summary(ver, verify_out)
        ver.wait()
    if ver.returncode != 0:
        raise _fail(label, "measuring the encoded file failed", verify_out.get("tail", []))
    return verify_out.get("I"), verify_out.get("peak")


def _collect_summary(proc: subprocess.Popen, out: dict) -> None:
    state = {"summary": False}

    def on_line(line: str) -> None:
        if "Summary" in line:
            state["summary"] = True
        if not state["summary"]:
            return
        m = _SUMMARY_I.match(line)
        if m and "I" not in out:
            out["I"] = None if "inf" in m.group(1) else float(m.group(1))
        m = _SUMMARY_PEAK.match(line)
        if m:
            out["peak"] = -200.0 if "inf" in m.group(1) else float(m.group(1))

    out["tail"] = list(_stream_stderr(proc, on_line))


# --- chapters and tags ---------------------------------------------------------------------------------------------

def remap_chapters(chapters: Sequence[ChapterMark], timeline: Timeline, duration: float) -> list[dict]:
    """Chapters on the published audio, in Podcasting 2.0 JSON form.

    A chapter inside a removed stretch moves to where the audio resumes; one after everything kept is dropped; when
    two land on the same time, the later one (whose content survived) wins. Intro music comes before the first
    chapter (its times are shifted by the intro's length, as the timeline says).
    """
    out: list[dict] = []
    for ch in chapters:
        t = timeline.to_published(ch.start)
        if t is None or t >= duration - 0.5:
            continue
        item = {"startTime": round(t, 3), "title": ch.title}
        if ch.url:
            item["url"] = ch.url
        if ch.img and re.match(r"^https?://", ch.img):
            item["img"] = ch.img
        if out and abs(out[-1]["startTime"] - item["startTime"]) < 0.001:
            out[-1] = item
        else:
            out.append(item)
    return out


def _image_mime(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"


def write_tags(path: Path, fmt: str, tags: TagInfo | None, chapters: Sequence[dict], duration: float) -> None:
    if fmt == "mp3":
        _write_id3(path, tags or TagInfo(), chapters, duration)
    else:
        _write_mp4(path, tags or TagInfo())


def _write_id3(path: Path, tags: TagInfo, chapters: Sequence[dict], duration: float) -> None:
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK, WXXX, CTOCFlags
    from mutagen.id3 import ID3NoHeaderError

    try:
        id3 = ID3(str(path))
    except ID3NoHeaderError:
        id3 = ID3()
    id3.clear()
    if tags.title:
        id3.add(TIT2(encoding=3, text=[tags.title]))
    if tags.album:
        id3.add(TALB(encoding=3, text=[tags.album]))
    if tags.artist:
        id3.add(TPE1(encoding=3, text=[tags.artist]))
        id3.add(TPE2(encoding=3, text=[tags.artist]))
    if tags.track is not None:
        id3.add(TRCK(encoding=3, text=[str(tags.track)]))
    if tags.date:
        id3.add(TDRC(encoding=3, text=[tags.date]))
    if tags.genre:
        id3.add(TCON(encoding=3, text=[tags.genre]))
    if tags.comment:
        id3.add(COMM(encoding=3, lang="eng", desc="", text=[tags.comment]))
    if tags.artwork is not None:
        data = Path(tags.artwork).read_bytes()
        id3.add(APIC(encoding=3, mime=_image_mime(tags.artwork), type=3, desc="Cover", data=data))
    if chapters:
        ids = [f"chp{i}" for i in range(len(chapters))]
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                     sub_frames=[TIT2(encoding=3, text=["Chapters"])]))
        for i, ch in enumerate(chapters):
            start = int(round(ch["startTime"] * 1000))
            end = int(round((chapters[i + 1]["startTime"] if i + 1 < len(chapters) else duration) * 1000))
            subs = [TIT2(encoding=3, text=[ch["title"]])]
            if ch.get("url"):
                subs.append(WXXX(encoding=3, desc="chapter url", url=ch["url"]))
            id3.add(CHAP(element_id=ids[i], start_time=start, end_time=max(start, end), start_offset=0xFFFFFFFF,
                         end_offset=0xFFFFFFFF, sub_frames=subs))
    id3.save(str(path), v2_version=3)


def _write_mp4(path: Path, tags: TagInfo) -> None:
    from mutagen.mp4 import MP4, MP4Cover

    mp4 = MP4(str(path))
    if mp4.tags is None:
        mp4.add_tags()
    t = mp4.tags
    if tags.title:
        t["\xa9nam"] = [tags.title]
    if tags.album:
        t["\xa9alb"] = [tags.album]
    if tags.artist:
        t["\xa9ART"] = [tags.artist]
        t["aART"] = [tags.artist]
    if tags.track is not None:
        t["trkn"] = [(tags.track, 0)]
    if tags.date:
        t["\xa9day"] = [tags.date]
    if tags.genre:
        t["\xa9gen"] = [tags.genre]
    if tags.comment:
        t["\xa9cmt"] = [tags.comment]
    if tags.artwork is not None:
        data = Path(tags.artwork).read_bytes()
        kind = MP4Cover.FORMAT_PNG if _image_mime(tags.artwork) == "image/png" else MP4Cover.FORMAT_JPEG
        t["covr"] = [MP4Cover(data, imageformat=kind)]
    mp4.save()


# --- the whole job -------------------------------------------------------------------------------------------------

def quick_probe(path: Path, label: str) -> tuple[int, float]:
    """(channels, duration) of an audio file. mutagen reads the headers of the common formats in milliseconds;
    anything it cannot read goes to PyAV (slower to import), which also words the error for a non-audio file."""
    path = Path(path)
    named = label if path.name in label else f"{label}: {path.name}"
    if not path.is_file():
        raise KindcastError(f"{named}: no such file")
    if path.stat().st_size == 0:
        raise KindcastError(f"{named}: empty file (0 bytes)")
    try:
        from mutagen import File as MutagenFile

        audio = MutagenFile(str(path))
        info = getattr(audio, "info", None)
        channels, length = int(getattr(info, "channels", 0) or 0), float(getattr(info, "length", 0.0) or 0.0)
        if channels > 0 and length > 0:
            return channels, length
    except Exception:  # mutagen raises many kinds for what it cannot parse; PyAV decides below
        pass
    try:
        info = probe_audio(path)
    except KindcastError as exc:
        msg = str(exc)
        raise KindcastError(msg if msg.startswith(label) else f"{label}: {msg}") from None
    if info.duration <= 0:
        raise KindcastError(f"{named}: zero-length recording")
    return info.channels or 2, info.duration


def _music_input(path: Path, role: str, channels: int, target: float, job: MasterJob, label: str) -> tuple[float, float]:
    """(gain dB, duration) for the intro or outro music."""
    _, length = quick_probe(path, f"{label}: settings.music.{role}")
    m = measure(path, channels=channels, threshold_db=-90, min_silence=30, ffmpeg=job.ffmpeg,
                label=f"{label}: settings.music.{role}", duration_hint=length, blocks=False)
    if m.integrated is None or m.integrated <= -69.9:
        raise KindcastError(f"{label}: settings.music.{role}: {path.name}: the music is silent")
    return target - m.integrated, m.duration


def master(job: MasterJob, progress: Progress | None = None) -> MasterResult:
    """Master ``job.source`` into ``job.output``; see the module docstring for the passes."""
    started = time.perf_counter()
    report = progress or (lambda f: None)
    source = Path(job.source)
    label = job.label or str(source)
    named = label if source.name in label else f"{label}: {source.name}"  # the episode and its file, once each
    if job.fmt not in MIME:
        raise KindcastError(f"{label}: encode.format: {job.fmt!r} is not mp3 or m4a")
    in_channels, in_duration = quick_probe(source, label)
    channels = {"mono": 1, "stereo": 2}.get(job.channels, 1 if in_channels == 1 else 2)
    target = job.mono_target_lufs if (channels == 1 and job.mono_target_lufs is not None) else job.target_lufs

    m = measure(source, channels=channels, threshold_db=job.silence_threshold_db, min_silence=job.min_silence,
                ffmpeg=job.ffmpeg, label=label, duration_hint=in_duration,
                progress=lambda f: report(0.3 * f))
    duration = m.duration or in_duration
    if duration <= 0 or not len(m.block_end):
        raise KindcastError(f"{named}: no audio could be decoded (zero-length recording)")
    bounds = sound_bounds(m, duration)
    if bounds is None:
        raise KindcastError(f"{named}: the recording is silent (nothing louder than "
                            f"{job.silence_threshold_db:g} dB; check the file or settings.silence.threshold_db)")
    if not job.trim:
        bounds = None
    segments = plan_segments(duration, bounds, job.pad, job.cuts, label)
    speech_lufs = loudness_of(m, segments)
    if speech_lufs is None:
        raise KindcastError(f"{named}: the published part is silent (no loudness above -70 LUFS)")

    inputs: list[Path] = [source]
    music: list[tuple[int, float, str]] = []
    intro_len = outro_len = 0.0
    for role, path in (("intro", job.intro), ("outro", job.outro)):
        if path is None:
            continue
        gain, length = _music_input(Path(path), role, channels, target, job, label)
        music.append((len(inputs), gain, role))
        inputs.append(Path(path))
        if role == "intro":
            intro_len = length
        else:
            outro_len = length

    timeline = Timeline.from_kept(segments, offset=intro_len)
    expected = intro_len + timeline.duration + outro_len
    chapters = remap_chapters(job.chapters, timeline, expected)

    out = Path(job.output)
    work = Path(job.work_dir) if job.work_dir else out.parent
    work.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    # beside the output, so that the final rename is atomic; a fixed safe name, so the tee muxer can take it
    tmp = out.parent / f".kindcast-master-{os.getpid()}-{threading.get_ident() % 100000}.{job.fmt}"
    meta_file = None
    if job.fmt == "m4a" and chapters:
        meta_file = work / f".chapters-{os.getpid()}.txt"
        meta_file.write_text(_ffmetadata(chapters, expected), encoding="utf-8")

    codec = -CODEC_GAIN_DB[job.fmt]
    gain = target - speech_lufs + codec
    headroom = MP3_HEADROOM_DB if job.fmt == "mp3" else AAC_HEADROOM_DB
    ceiling = job.true_peak - headroom
    if m.sample_peak is not None and m.sample_peak + gain > ceiling:
        gain += min(LIMITER_LOSS_MAX, LIMITER_LOSS_PER_DB * (m.sample_peak + gain - ceiling))
    base_gain = gain
    notes: list[str] = []
    lufs = peak = None
    attempts = 0
    try:
        while True:
            attempts += 1
            # the music gets the same codec make-up and corrections as the speech
            shift = gain - base_gain
            graph = build_graph(segments, duration, channels=channels, sample_rate=job.sample_rate, gain_db=gain,
                                ceiling_db=ceiling, music=[(i, g + codec + shift, r) for i, g, r in music])
            span = 0.65 / MAX_ATTEMPTS
            base = 0.3 + span * (attempts - 1)
            lufs, peak = apply_and_verify(job, tmp, inputs, graph, channels, expected,
                                          lambda f, b=base, s=span: report(b + s * f), label, meta_file)
            if lufs is None or peak is None:
                raise KindcastError(f"{label}: the mastered audio could not be measured")
            over = peak - job.true_peak
            off = target - lufs
            if (over <= 0 and abs(off) <= LOUDNESS_TOLERANCE) or attempts >= MAX_ATTEMPTS:
                break
            notes.append(f"attempt {attempts}: {lufs:.1f} LUFS, {peak:.1f} dBTP; correcting")
            if over > 0:
                ceiling -= over + 0.2
            if abs(off) > 0.1:
                gain += off * (1.15 if off > 0 else 1.0)  # more gain, more limiting: aim a little past
        if peak > job.true_peak + 0.05:
            raise KindcastError(f"{label}: could not bring the true peak under {job.true_peak:g} dBTP "
                                f"(measured {peak:.1f} after {attempts} attempts)")
        write_tags(tmp, job.fmt, job.tags, chapters, expected)
        from mutagen import File as MutagenFile

        audio = MutagenFile(str(tmp))
        published = float(audio.info.length) if audio is not None and audio.info else expected
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
        if meta_file is not None and meta_file.exists():
            meta_file.unlink()
    report(1.0)
    return MasterResult(
        file=out, fmt=job.fmt, mime=MIME[job.fmt], bytes=out.stat().st_size, duration=round(published, 3),
        lufs=lufs, true_peak=peak, channels=channels, timeline=timeline, chapters=chapters,
        source_duration=round(duration, 3), source_lufs=round(speech_lufs, 2), gain_db=round(gain, 2),
        limiter_ceiling=round(ceiling, 2), attempts=attempts, seconds=time.perf_counter() - started, notes=notes,
    )
