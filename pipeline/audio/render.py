"""Rendering: the filtergraph that cleans the speech (high-pass, noise reduction, the leveler's gain envelope and a
pause expander), keeps the planned stretches at one gain under a limiter, the encode, and the measurement of the
encoded audio taken while it is written."""
from __future__ import annotations

import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from pipeline.audio.measure import DOWNMIX, collect_summary, layout
from pipeline.media import OUT_TIME, ffmpeg_failed, start_ffmpeg, stream_stderr

Progress = Callable[[float], None]
JOIN_FADE = 0.010  # seconds of fade at each join of kept stretches (no click at a cut)
MIME = {"mp3": "audio/mpeg", "m4a": "audio/mp4"}

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


@dataclass(frozen=True)
class Cleanup:
    """The speech clean-up in the render pass, in raw-recording time before the kept stretches are cut out.

    Each part is off when its field is None: ``highpass_hz`` (2-pole high-pass against rumble), ``denoise`` (afftdn:
    reduction in dB and the noise floor in dB measured beforehand), ``envelope_input`` (the index of the leveler's
    gain envelope among the ffmpeg inputs), ``pause_gate`` (threshold dBFS and range dB of the downward expander
    that lowers what is left in the pauses; it follows the envelope, so speech is at the target there).
    """

    highpass_hz: float | None = None
    denoise: tuple[float, float] | None = None  # (reduction dB, noise floor dB)
    envelope_input: int | None = None
    pause_gate: tuple[float, float] | None = None  # (threshold dBFS, range dB)

    def active(self) -> bool:
        return any(v is not None for v in (self.highpass_hz, self.denoise, self.envelope_input, self.pause_gate))


PAUSE_GATE_RATIO = 3  # the expander's ratio below its threshold (hard knee); attack 5 ms, release 150 ms


def _cleanup_filters(cleanup: Cleanup, channels: int, sample_rate: int) -> list[str]:
    fmt = f"aresample={sample_rate}:{DOWNMIX},aformat=sample_fmts=flt:channel_layouts={layout(channels)}"
    steps = [fmt]
    if cleanup.highpass_hz:
        steps.append(f"highpass=f={cleanup.highpass_hz:g}")
    if cleanup.denoise is not None:
        reduction, floor = cleanup.denoise
        steps.append(f"afftdn=nr={reduction:g}:nf={max(-80.0, min(-20.0, floor)):.0f}")
    chains = [f"[0:a]{','.join(steps)}[pre]"]
    last = "pre"
    if cleanup.envelope_input is not None:
        chains.append(f"[{cleanup.envelope_input}:a]{fmt}[env]")
        chains.append("[pre][env]amultiply[lev]")
        last = "lev"
    if cleanup.pause_gate is not None:
        threshold, depth = cleanup.pause_gate
        chains.append(f"[{last}]agate=threshold={10 ** (threshold / 20):.6f}:range={10 ** (-depth / 20):.6f}:"
                      f"ratio={PAUSE_GATE_RATIO}:attack=5:release=150:knee=1[gated]")
        last = "gated"
    chains[-1] = chains[-1][: chains[-1].rindex("[")] + "[clean]"
    return chains


def build_graph(segments: Sequence[tuple[float, float]], whole: float, *, channels: int, sample_rate: int,
                gain_db: float, ceiling_db: float, music: Sequence[tuple[int, float, str]] = (),
                cleanup: Cleanup | None = None) -> str:
    """The apply filtergraph. ``music``: (input index, gain dB, 'intro'|'outro')."""
    fmt = f"aresample={sample_rate}:{DOWNMIX},aformat=sample_fmts=flt:channel_layouts={layout(channels)}"
    chains: list[str] = []
    source = "0:a"
    if cleanup is not None and cleanup.active():
        chains += _cleanup_filters(cleanup, channels, sample_rate)
        source = "clean"
    seg_chains, speech = _segment_filters(source, segments, whole)
    chains += seg_chains
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
                  f"aresample={sample_rate},aformat=sample_fmts=flt:channel_layouts={layout(channels)}[out]")
    return ";".join(chains)


def _codec_args(fmt: str, bitrate: str, sample_rate: int, channels: int, quality: int = 7) -> list[str]:
    if fmt == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", bitrate, "-compression_level", str(quality), "-ar", str(sample_rate),
                "-ac", str(channels)]
    return ["-c:a", "aac", "-b:a", bitrate, "-ar", str(sample_rate), "-ac", str(channels)]


_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def ffmetadata(chapters: Sequence[dict], end: float) -> str:
    def esc(text: str) -> str:
        return re.sub(r"([=;#\\\n])", r"\\\1", text)

    out = [";FFMETADATA1"]
    for i, ch in enumerate(chapters):
        stop = chapters[i + 1]["startTime"] if i + 1 < len(chapters) else end
        out += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={int(round(ch['startTime'] * 1000))}",
                f"END={int(round(stop * 1000))}", f"title={esc(ch['title'])}"]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Encoding:
    fmt: str = "mp3"  # mp3 | m4a
    bitrate: str = "128k"
    sample_rate: int = 44100
    quality: int = 7  # libmp3lame compression_level (LAME -q): 0 best/slowest .. 9 fastest
    ffmpeg: str | None = None


@dataclass
class Verified:
    """The encoded audio as measured while it was written."""

    lufs: float | None
    true_peak: float | None
    lra: float | None
    block_end: Sequence[float]  # published time at the end of each 400 ms block (100 ms apart)
    block_lufs: Sequence[float]  # momentary loudness
    block_short: Sequence[float]  # short-term (3 s) loudness


def apply_and_verify(enc_opts: Encoding, tmp: Path, inputs: Sequence, graph: str, channels: int,
                     expected: float, progress: Progress | None, label: str,
                     ffmetadata: Path | None = None) -> Verified:
    """Run the apply pass into ``tmp``; measure the encoded audio (in parallel through a pipe for MP3).

    ``inputs``: files, or (input options, file) pairs for raw streams such as the leveler's envelope.
    """
    args = ["-nostats", "-loglevel", "error", "-progress", "pipe:2"]
    for p in inputs:
        options, path = (p if isinstance(p, tuple) else ((), p))
        args += [*options, "-i", str(Path(path).resolve())]
    if ffmetadata is not None:
        args += ["-f", "ffmetadata", "-i", str(ffmetadata.resolve())]
    args += ["-filter_complex", graph, "-map", "[out]"]
    if ffmetadata is not None:
        # metadata from the chapters file (it has no global tags); "-map_metadata -1" would drop the chapter titles
        args += ["-map_metadata", str(len(inputs)), "-map_chapters", str(len(inputs))]
    else:
        args += ["-map_metadata", "-1", "-map_chapters", "-1"]
    args += _codec_args(enc_opts.fmt, enc_opts.bitrate, enc_opts.sample_rate, channels, enc_opts.quality)
    verify_args = ["-nostats", "-i", "pipe:0", "-af", "ebur128=peak=true:framelog=info", "-f", "null", "-"]
    parallel = enc_opts.fmt == "mp3" and _SAFE_NAME.match(tmp.name) is not None
    if parallel:
        # the file and, through a pipe, the verifier; if the verifier dies the file is still written (and the
        # verifier's own error is reported)
        args += ["-f", "tee", f"[f=mp3:id3v2_version=3]{tmp.name}|"
                 f"[f=mp3:id3v2_version=0:write_xing=0:onfail=ignore]pipe:1"]
    else:
        if enc_opts.fmt == "m4a":
            args += ["-movflags", "+faststart", "-f", "mp4"]
        else:
            args += ["-f", "mp3"]
        args += [tmp.name]
    state = {"out": 0.0}

    def on_line(line: str) -> None:
        m = OUT_TIME.match(line)
        if m:
            state["out"] = int(m.group(1)) / 1e6
            if progress and expected:
                progress(min(1.0, state["out"] / expected))

    enc = start_ffmpeg(args, ffmpeg=enc_opts.ffmpeg, cwd=str(tmp.parent), stdout=subprocess.PIPE if parallel else None)
    verify_out: dict = {}
    ver = None
    ver_thread = None
    if parallel:
        assert enc.stdout is not None
        ver = start_ffmpeg(["-f", "mp3", *verify_args], ffmpeg=enc_opts.ffmpeg, stdin=enc.stdout)
        enc.stdout.close()  # the verifier owns the read end now
        ver_thread = threading.Thread(target=collect_summary, args=(ver, verify_out, True), daemon=True)
        ver_thread.start()
    tail = stream_stderr(enc, on_line)
    enc.wait()
    if ver is not None:
        ver.wait()
        ver_thread.join()
    if enc.returncode != 0:
        raise ffmpeg_failed(f"{label}: encoding failed", tail)
    if not parallel:
        ver = start_ffmpeg(verify_args[:2] + [str(tmp)] + verify_args[3:], ffmpeg=enc_opts.ffmpeg)
        collect_summary(ver, verify_out, True)
        ver.wait()
    if ver.returncode != 0:
        raise ffmpeg_failed(f"{label}: measuring the encoded file failed", verify_out.get("tail", []))
    return Verified(verify_out.get("I"), verify_out.get("peak"), verify_out.get("LRA"), verify_out.get("ends", ()),
                    verify_out.get("M", ()), verify_out.get("S", ()))


