"""Planning what is published: where the sound starts and ends, and the kept stretches once the cuts are out."""
from __future__ import annotations

from typing import Sequence

from pipeline.audio.measure import Measurement
from pipeline.errors import KindcastError

MIN_SEGMENT = 0.05  # kept stretches shorter than this are dropped
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

