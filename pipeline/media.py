"""ffmpeg location, probing, and streaming ffmpeg runs with progress.

ffmpeg comes from the imageio-ffmpeg wheel unless the show configures another binary; there is no ffprobe in that
wheel, so probing uses PyAV. Nothing here decodes a whole file into memory.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from pipeline.errors import KindcastError

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


def _decode_duration(container, stream) -> float:
    """Last resort for files without a duration header: walk the packets (no decoding)."""
    end = 0.0
    for packet in container.demux(stream):
        if packet.pts is not None and packet.duration is not None:
            end = max(end, float((packet.pts + packet.duration) * stream.time_base))
    return end


_TIME = re.compile(r"out_time_(?:us|ms)=(\d+)")


def run_ffmpeg(
    args: Sequence[str],
    *,
    ffmpeg: str | None = None,
    duration: float | None = None,
    progress: Callable[[float], None] | None = None,
    what: str = "ffmpeg",
) -> str:
    """Run ffmpeg with ``args`` (without the binary), streaming; return its stderr text.

    With ``duration`` and ``progress``, calls ``progress(fraction)`` as ffmpeg reports its output time.
    Raises KindcastError with the last lines of ffmpeg's message when it fails.
    """
    cmd = [ffmpeg_path(ffmpeg), "-hide_banner", "-nostdin", "-y"]
    if progress is not None and duration:
        cmd += ["-progress", "pipe:1", "-nostats"]
    cmd += list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    stderr_chunks: list[str] = []

    import threading

    def drain() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            stderr_chunks.append(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    assert proc.stdout is not None
    for line in proc.stdout:
        if progress is not None and duration:
            match = _TIME.search(line)
            if match:
                progress(min(1.0, int(match.group(1)) / 1_000_000 / duration))
    proc.wait()
    reader.join()
    stderr = "".join(stderr_chunks)
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-3:])
        raise KindcastError(f"{what}: ffmpeg failed: {tail}")
    return stderr
