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
from pipeline.procs import die_with_parent

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
    sample_rate: int
    channels: int
    codec: str
    bit_rate: int | None


def probe_audio(path: Path) -> AudioInfo:
    """Duration and format of the first audio stream. Raises KindcastError naming the file if it is not audio."""
    import av

    path = Path(path)
    if not path.is_file():
        raise KindcastError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise KindcastError(f"{path}: empty file (0 bytes)")
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise KindcastError(f"{path}: no audio stream in this file")
            stream = streams[0]
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            if not duration and container.duration:
                duration = container.duration / 1_000_000
            if not duration:
                duration = _decode_duration(container, stream)
            ctx = stream.codec_context
            return AudioInfo(
                duration=float(duration or 0.0),
                sample_rate=int(ctx.sample_rate or 0),
                channels=int(ctx.channels or 0),
                codec=str(ctx.name),
                bit_rate=int(container.bit_rate) if container.bit_rate else None,
            )
    except KindcastError:
        raise
    except Exception as exc:  # PyAV raises many kinds for a file it cannot read
        raise KindcastError(f"{path}: not a readable audio file ({exc.__class__.__name__}: {exc})") from None


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


def _decode_duration(container, stream) -> float:
    """Last resort for files without a duration header: walk the packets (no decoding)."""
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.duration is not None:
            end = max(end, float((packet.pts + packet.duration) * stream.time_base))
    return end


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
    It dies with kindcast (see :mod:`pipeline.procs`): a killed build leaves no ffmpeg behind."""
    proc = subprocess.Popen(ffmpeg_command(args, ffmpeg), stdin=subprocess.DEVNULL if stdin is None else stdin,
                            stdout=subprocess.DEVNULL if stdout is None else stdout, stderr=subprocess.PIPE,
                            cwd=cwd, preexec_fn=die_with_parent, **({"text": True, "errors": "replace"} if text else {}))
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
