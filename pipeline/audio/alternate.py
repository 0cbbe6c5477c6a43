"""The smaller copy of a mastered episode (``podcast:alternateEnclosure``): Opus in Ogg at a speech bitrate, encoded
from the finished master, so loudness, cuts and chapters are the master's. Written atomically; its byte size is
read from the file written, so the feed can announce it exactly."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# bitexact: the Ogg stream serial number is otherwise random, and the same master must give the same bytes
FORMATS = {"opus": {"suffix": ".opus", "mime": "audio/opus", "codec": "opus",
                    "args": ["-c:a", "libopus", "-vbr", "on", "-ar", "48000", "-fflags", "+bitexact", "-f", "ogg"]}}


@dataclass(frozen=True)
class Alternate:
    path: Path
    mime: str
    codecs: str
    bitrate: int  # bits per second, as announced
    channels: int
    bytes: int

    def to_json(self) -> dict:
        return {"file": self.path.name, "mime": self.mime, "codecs": self.codecs, "bitrate": self.bitrate,
                "channels": self.channels, "bytes": self.bytes}


def alternate_path(master: Path, fmt: str) -> Path | None:
    """Where the smaller copy of ``master`` goes (``coffee.mp3`` -> ``coffee.opus``); None for format ``none``."""
    return None if fmt == "none" else Path(master).with_suffix(FORMATS[fmt]["suffix"])


def encode_alternate(master: Path, out: Path, *, fmt: str = "opus", bitrate: str = "24k", channels: int = 1,
                     duration: float | None = None, ffmpeg: str | None = None, label: str = "",
                     progress: Callable[[float], None] | None = None) -> Alternate:
    """Encode ``master`` (the untagged mastered audio) into ``out``; its tags are written with the main file's."""
    from pipeline.fsutil import atomic_path
    from pipeline.media import run_ffmpeg

    spec = FORMATS[fmt]
    with atomic_path(out) as tmp:
        run_ffmpeg(["-hide_banner", "-loglevel", "error", "-y", "-i", str(master), "-map", "0:a:0",
                    "-map_metadata", "-1", "-map_chapters", "-1", "-ac", str(channels), "-b:a", bitrate,
                    *spec["args"], str(tmp)],
                   ffmpeg=ffmpeg, duration=duration, progress=progress,
                   what=f"{label or master.name}: encoding the smaller copy ({fmt} {bitrate})")
    return Alternate(path=out, mime=spec["mime"], codecs=spec["codec"], bitrate=int(bitrate.rstrip("k")) * 1000,
                     channels=channels, bytes=out.stat().st_size)
