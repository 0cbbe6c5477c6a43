"""Times as producers write them, and the map from raw-recording time to published time.

Producers note chapters, cuts and soundbites while listening to the *raw* recording. Mastering trims the ends and
removes cuts, so every such time must be moved onto the published file: :class:`Timeline` does that.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$")


def parse_time(value: object) -> float:
    """Seconds from ``90``, ``90.5``, ``"1:30"``, ``"01:02:03.5"``. Raises ValueError with a readable message."""
    if isinstance(value, bool):
        raise ValueError(f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        match = _CLOCK.match(text)
        if match:
            hours, minutes, secs = match.groups()
            if float(secs) >= 60 or (hours is not None and int(minutes) >= 60):
                raise ValueError(f"not a time: {value!r} (minutes and seconds run from 0 to 59)")
            seconds = int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
        else:
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(f"not a time: {value!r} (use seconds or H:MM:SS)") from None
    else:
        raise ValueError(f"not a time: {value!r} (use seconds or H:MM:SS)")
    if not math.isfinite(seconds):
        raise ValueError(f"not a time: {value!r}")
    if seconds < 0:
        raise ValueError(f"time must not be negative: {value!r}")
    return seconds


def format_clock(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS`` under an hour) for show notes."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_timestamp(seconds: float, sep: str = ".") -> str:
    """``HH:MM:SS.mmm`` for WebVTT (``sep=","`` for SRT)."""
    ms = int(round(max(0.0, seconds) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


@dataclass(frozen=True)
class Segment:
    """A kept stretch of the raw recording, ``[raw_start, raw_end)``, placed at ``published_start``."""

    raw_start: float
    raw_end: float
    published_start: float

    @property
    def length(self) -> float:
        return self.raw_end - self.raw_start


@dataclass(frozen=True)
class Timeline:
    """Kept segments in order. Built by the master stage, stored in its result, used by every later stage."""

    segments: tuple[Segment, ...]
    offset: float = 0.0  # seconds of intro music placed before the first segment

    @classmethod
    def from_kept(cls, kept: list[tuple[float, float]], offset: float = 0.0) -> "Timeline":
        segments, cursor = [], offset
        for start, end in kept:
            if end > start:
                segments.append(Segment(start, end, cursor))
                cursor += end - start
        return cls(tuple(segments), offset)

    @classmethod
    def from_json(cls, data: dict) -> "Timeline":
        return cls(tuple(Segment(*s) for s in data["segments"]), data.get("offset", 0.0))

    def to_json(self) -> dict:
        return {"segments": [[s.raw_start, s.raw_end, s.published_start] for s in self.segments], "offset": self.offset}

    @property
    def duration(self) -> float:
        return sum(s.length for s in self.segments)

    def to_published(self, raw: float, *, removed: str = "next") -> float | None:
        """Published time of a raw time. A time inside a removed stretch moves to where the next kept one starts
        (``removed="next"``), or gives None (``removed="none"``: that moment is not published).

        Returns None when the raw time lies after everything that was kept.
        """
        for seg in self.segments:
            if raw < seg.raw_start:
                return seg.published_start if removed == "next" else None
            if raw < seg.raw_end:
                return seg.published_start + (raw - seg.raw_start)
        return None
