"""ffmpeg location, probing, and streaming ffmpeg runs with progress.

ffmpeg comes from the imageio-ffmpeg wheel unless the show configures another binary; there is no ffprobe in that
wheel, so probing uses PyAV. Nothing here decodes a whole file into memory.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from collections import deque
from typing import Callable, Iterable, Sequence

from pipeline.errors import KindcastError
from pipeline.faults import checkpoint
from pipeline.procs import die_with_parent, ignores_ctrl_c

AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac")


@functools.lru_cache(maxsize=None)
def ffmpeg_path(configured: str | None = None) -> str:
    """The ffmpeg binary: the configured one, else the one inside imageio-ffmpeg."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            raise KindcastError(f"settings.ffmpeg: {configured}: not an executable file")
        return str(path)
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_identity(configured: str | None = None) -> str:
    """A cheap identity of the ffmpeg binary for fingerprints (path, size, mtime), without running it."""
    path = Path(ffmpeg_path(configured))
    st = path.stat()
    return f"{path.name}:{st.st_size}:{int(st.st_mtime)}"


@dataclass(frozen=True)
class AudioInfo:
    duration: float
    sample_rate: int  # as decoded (HE-AAC decodes at twice the rate its header gives)
    channels: int  # as decoded
    codec: str
    bit_rate: int | None
    estimated: bool = False  # the duration is ffmpeg's guess from the bit rate (ADTS AAC, VBR MP3 without a TOC)


# Probing decodes a little at the start (is this audio at all?) and near the announced end (is it all there?):
# a few milliseconds per file, however long the recording (scripts/bench_probe.py).
PROBE_START_SECONDS = 0.25  # decoded at the start
PROBE_START_PACKETS = 64  # tried at most at the start
PROBE_END_SECONDS = 2.0  # read before the announced end
PROBE_END_FRAMES = 4  # decoded there
PROBE_END_PACKETS = 400  # read there at most (more than 2 s of any codec)
PROBE_SKIP_PACKETS = 50_000  # read without decoding when the seek lands early (MP3's index has 100 steps)
# A recording is truncated when it decodes to more than this much less than its header announces. Clean files of
# every accepted format decode to within 0.06 s of their header (tests/test_media.py); a partial last frame loses
# about 0.1 s.
TRUNCATED_BY = 1.0


def truncated(decoded: float, announced: float) -> str | None:
    """The one-line reason when ``decoded`` seconds fall short of the ``announced`` duration, else None."""
    if announced > 0 and decoded < announced - TRUNCATED_BY:
        return (f"truncated or damaged: it decodes to {decoded:.1f} s of the {announced:.1f} s its header announces "
                "(an incomplete copy or export?)")
    return None


def _av_reason(exc: Exception) -> str:
    """PyAV's message without its errno and file name, with what libav logged last, e.g. 'Invalid data found when
    processing input: moov atom not found'."""
    text = str(getattr(exc, "strerror", None) or exc).strip() or exc.__class__.__name__
    log = getattr(exc, "log", None)
    if isinstance(log, tuple) and len(log) == 3 and str(log[2]).strip():
        text += f": {str(log[2]).strip().rstrip('.')}"
    return text


def probe_audio(path: Path) -> AudioInfo:
    """Duration and format of the first audio stream, checked by decoding a little of it.

    Raises KindcastError naming the file when it is empty, not audio (nothing decodes at its start), or truncated
    (nothing decodes near the end its header announces). Cheap: a fraction of a second of audio is decoded at each
    end, never the whole file.
    """
    import av
    import av.logging

    path = Path(path)
    if not path.is_file():
        raise KindcastError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise KindcastError(f"{path}: empty file (0 bytes)")
    # ffmpeg says when a duration is only its guess from the bit rate; listen for that while opening
    level, repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.WARNING)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture() as logs:
            # usetoc: an MP3 seeks by its table of contents (instant) rather than by reading up to the place
            container = av.open(str(path), options={"usetoc": "1"})
    except Exception as exc:  # PyAV raises many kinds for a file it cannot read
        raise KindcastError(f"{path}: not a readable audio file ({_av_reason(exc)})") from None
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(repeated)
    said = " ".join(str(entry[-1]) for entry in logs)
    estimated = "Estimating duration from bitrate" in said
    short_mp3 = "filesize and duration do not match" in said  # an MP3 shorter than its header's byte count
    try:
        with container:
            streams = container.streams.audio
            if not streams:
                raise KindcastError(f"{path}: no audio stream in this file")
            stream = streams[0]
            rate, channels = _decode_start(path, container, stream)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            if not duration and container.duration:
                duration = container.duration / 1_000_000
            if not duration:
                duration = _decodable_end(container, stream, 0.0)
                estimated = False
            elif not estimated:
                end = _decoded_end(container, stream, duration)
                # MP3 numbers its frames as it reads them, so frames lost to damage inside the file shorten it as a
                # cut would; unless the file is also shorter than its header says, that is damage for the measure
                # pass to find and place (FLAC, M4A and Ogg carry their times, and only a cut makes them short)
                inside = container.format.name == "mp3" and not short_mp3
                if (end is None or end < duration - TRUNCATED_BY) and not inside:
                    reason = truncated(_decodable_end(container, stream, duration), duration)
                    if reason:
                        raise KindcastError(f"{path}: {reason}")
            ctx = stream.codec_context
            return AudioInfo(
                duration=float(duration or 0.0),
                sample_rate=rate,
                channels=channels,
                codec=str(ctx.name),
                bit_rate=int(container.bit_rate) if container.bit_rate else None,
                estimated=estimated,
            )
    except KindcastError:
        raise
    except Exception as exc:
        raise KindcastError(f"{path}: not a readable audio file ({_av_reason(exc)})") from None


def _decode_start(path: Path, container, stream) -> tuple[int, int]:
    """(sample rate, channels) of the first frames; KindcastError when the start does not decode as audio."""
    import av

    decoded = 0.0
    frames = failed = packets = 0
    rate = channels = 0
    error = ""
    try:
        for packet in container.demux(stream):
            packets += 1
            try:
                for frame in packet.decode():
                    if not frame.sample_rate or not frame.samples:
                        continue
                    frames += 1
                    decoded += frame.samples / frame.sample_rate
                    rate = rate or int(frame.sample_rate)
                    channels = channels or int(frame.layout.nb_channels)
            except av.error.FFmpegError as exc:
                failed += 1
                error = _av_reason(exc)
            if decoded >= PROBE_START_SECONDS or packets >= PROBE_START_PACKETS:
                break
    except av.error.FFmpegError as exc:
        error = _av_reason(exc)
    if not frames:
        why = f"nothing decodes at its start: {error}" if error else "nothing decodes at its start"
        raise KindcastError(f"{path}: not a readable audio file ({why})")
    if failed > frames:
        raise KindcastError(f"{path}: not a readable audio file (its start does not decode: {failed} of "
                            f"{packets} packets fail: {error})")
    return rate, channels


def _decoded_end(container, stream, announced: float) -> float | None:
    """Where the audio ends, read after a seek to just before ``announced``: None when nothing decodes there,
    ``announced`` itself when the seek lands too far back to tell cheaply. The first packets there are decoded (is
    it audio?), the rest only read (how far does it go?)."""
    import av

    target = max(0.0, announced - PROBE_END_SECONDS)
    try:
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
    except av.error.FFmpegError:
        return None
    end = None
    skipped = read = decoded = 0
    tb = float(stream.time_base)
    try:
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            if packet.pts * tb < target - 1.0:
                skipped += 1  # before the stretch to check (the seek landed early)
                if skipped > PROBE_SKIP_PACKETS:
                    return announced
                continue
            read += 1
            if decoded < PROBE_END_FRAMES:
                try:
                    decoded += len(packet.decode())
                except av.error.FFmpegError:
                    pass
            if decoded:
                stop = (packet.pts + (packet.duration or 0)) * tb
                end = stop if end is None else max(end, stop)
            if read >= PROBE_END_PACKETS:
                break
    except av.error.FFmpegError:
        pass
    return end


def _decodable_end(container, stream, announced: float) -> float:
    """The end of the last packet that can be read, walking the packets from the start (no decoding)."""
    import av

    if announced:
        try:
            container.seek(0, stream=stream, backward=True)
        except av.error.FFmpegError:
            pass
    end = 0.0
    try:
        for packet in container.demux(stream):
            if packet.pts is not None and packet.duration is not None:
                end = max(end, float((packet.pts + packet.duration) * stream.time_base))
    except av.error.FFmpegError:
        pass
    return end


class ProbeCache:
    """Probe results by file fingerprint (size and modification time), kept in a JSON file, so that a build with
    nothing to do does not open every recording again: a changed file is probed once."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self.data: dict = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}
        self.used: dict = {}

    def probe(self, path: Path) -> AudioInfo:
        path = Path(path)
        try:
            st = path.stat()
        except OSError:
            return probe_audio(path)  # words the error
        key = str(path.resolve())
        stamp = [st.st_size, st.st_mtime_ns]
        entry = self.data.get(key)
        if entry and entry.get("stat") == stamp:
            info = AudioInfo(**entry["info"])
        else:
            info = probe_audio(path)  # a KindcastError is not cached: the file is probed again next time
        self.used[key] = {"stat": stamp, "info": dataclasses.asdict(info)}
        return info

    def save(self) -> None:
        """Keep the entries used this time and those of files that still exist (a build of one episode keeps the
        others'); written only when something changed."""
        keep = dict(self.used)
        for key, entry in self.data.items():
            if key not in keep and os.path.exists(key):
                keep[key] = entry
        if keep == self.data:
            return
        self.used = keep
        from pipeline.fsutil import write_text

        try:
            write_text(self.path, json.dumps(self.used, indent=0, sort_keys=True))
        except OSError:
            pass  # a cache: a read-only show still builds, it only probes again


# --- running ffmpeg: the one way kindcast starts it ------------------------------------------------------------------

OUT_TIME = re.compile(r"^out_time_us=(\d+)")
_PROGRESS_LINES = ("out_time", "progress=", "total_size", "bitrate=", "speed=", "frame=", "fps=", "stream_",
                   "dup_frames", "drop_frames")
_INFO_LINES = ("Parsed_ebur128", "silence_")  # measurement output, not an error message


def ffmpeg_command(args: Sequence[str], ffmpeg: str | None = None) -> list[str]:
    return [ffmpeg_path(ffmpeg), "-hide_banner", "-nostdin", "-y", *args]


def start_ffmpeg(args: Sequence[str], *, ffmpeg: str | None = None, stdin=None, stdout=None,
                 cwd: str | None = None, text: bool = True) -> subprocess.Popen:
    """Start ffmpeg with ``args`` (without the binary); its stderr is a pipe to read with :func:`stream_stderr`.
    It dies with kindcast (see :mod:`pipeline.procs`): a killed build leaves no ffmpeg behind. When kindcast ignores
    SIGINT (started in the background by a shell), ffmpeg runs in a session of its own: it sets its own SIGINT
    handler, so an inherited "ignore" would not keep a Ctrl-C meant for the foreground job from stopping it."""
    proc = subprocess.Popen(ffmpeg_command(args, ffmpeg), stdin=subprocess.DEVNULL if stdin is None else stdin,
                            stdout=subprocess.DEVNULL if stdout is None else stdout, stderr=subprocess.PIPE,
                            cwd=cwd, preexec_fn=die_with_parent,
                            start_new_session=ignores_ctrl_c(),
                            **({"text": True, "errors": "replace"} if text else {}))
    checkpoint("ffmpeg:started")
    return proc


def stream_stderr(proc: subprocess.Popen, on_line: Callable[[str], None] | None = None) -> deque:
    """Feed every stderr line of ``proc`` to ``on_line``; return the last few lines worth quoting in an error."""
    tail: deque = deque(maxlen=12)
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.rstrip("\n") if isinstance(raw, str) else raw.decode("utf-8", "replace").rstrip("\n")
        if on_line is not None:
            on_line(line)
        if line and not line.startswith(_PROGRESS_LINES):
            tail.append(line.strip())
    return tail


def ffmpeg_failed(what: str, tail: Iterable[str]) -> KindcastError:
    """The one-line error for a failed ffmpeg run: ``what`` and the last lines ffmpeg said."""
    lines = [t for t in tail if not any(k in t for k in _INFO_LINES)][-3:]
    return KindcastError(f"{what}: ffmpeg failed: {' | '.join(lines) or 'no message'}")


def run_ffmpeg(
    args: Sequence[str],
    *,
    ffmpeg: str | None = None,
    duration: float | None = None,
    progress: Callable[[float], None] | None = None,
    what: str = "ffmpeg",
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Run ffmpeg with ``args`` (without the binary), streaming; return its stderr text (progress lines left out).

    With ``duration`` and ``progress``, calls ``progress(fraction)`` as ffmpeg reports its output time; ``on_line``
    sees every stderr line as it comes. Raises KindcastError with the last lines of ffmpeg's message when it fails.
    """
    report = progress is not None and bool(duration)
    kept: list[str] = []

    def line_seen(line: str) -> None:
        if report:
            match = OUT_TIME.match(line)
            if match:
                progress(min(1.0, int(match.group(1)) / 1_000_000 / duration))
                return
        if not line.startswith(_PROGRESS_LINES):
            kept.append(line)
        if on_line is not None:
            on_line(line)

    proc = start_ffmpeg((["-nostats", "-progress", "pipe:2"] if report else []) + list(args), ffmpeg=ffmpeg)
    tail = stream_stderr(proc, line_seen)
    proc.wait()
    if proc.returncode != 0:
        raise ffmpeg_failed(what, tail)
    return "\n".join(kept)


def ffmpeg_output(args: Sequence[str], *, ffmpeg: str | None = None, what: str = "ffmpeg") -> bytes:
    """Run ffmpeg and return what it writes to its standard output (e.g. raw samples of a short clip)."""
    proc = start_ffmpeg(["-loglevel", "error", *args], ffmpeg=ffmpeg, stdout=subprocess.PIPE, text=False)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise ffmpeg_failed(what, err.decode("utf-8", "replace").splitlines())
    return out
