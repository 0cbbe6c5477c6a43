"""Choosing audiogram clips: the producer's soundbites moved onto the published audio, or the best passage picked
from the transcript (the evidence for the episode's conditions, else the densest speech), on sentence boundaries."""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.show import SOUNDBITE_MAX as MAX_CLIP
from pipeline.show import SOUNDBITE_MIN as MIN_CLIP
from pipeline.speech.transcript import sentences


@dataclass(frozen=True)
class Clip:
    name: str
    title: str
    start: float  # published seconds
    duration: float


def pick_clip(words, audio_duration: float, target: float, evidence: list[tuple[float, float, float]] = ()) -> tuple[float, float] | None:
    """The best clip of about ``target`` seconds (15-90) that starts and ends on sentence boundaries.

    Score: the evidence the tag stage found for the episode's conditions ((start, end, weight) spans: seconds of
    overlap times weight) when there is any, else the densest speech (words per second). Returns (start, duration)
    in published seconds, or None when the audio is shorter than the shortest clip.
    """
    if audio_duration < MIN_CLIP:
        return None
    target = max(MIN_CLIP, min(MAX_CLIP, target))
    sents = [(s.start, s.end, s.text) for s in sentences(list(words), pause=1.0)]
    pad_before, pad_after = 0.15, 0.35
    best = None
    for i in range(len(sents)):
        start = max(0.0, sents[i][0] - pad_before)
        for j in range(i, len(sents)):
            end = min(audio_duration, sents[j][1] + pad_after)
            length = end - start
            if length > min(MAX_CLIP, target * 1.5):
                break
            if length < max(MIN_CLIP, target * 0.6):
                continue
            n_words = sum(len(s[2].split()) for s in sents[i:j + 1])
            density = n_words / length
            relevance = sum(max(0.0, min(end, e) - max(start, s)) * weight for s, e, weight in evidence)
            closeness = 1.0 - abs(length - target) / target
            score = (relevance, density + 0.5 * closeness) if evidence else (0.0, density + 0.5 * closeness)
            if best is None or score > best[0]:
                best = (score, start, length)
    if best is not None:
        return round(best[1], 3), round(best[2], 3)
    # No sentences that fit (no speech, or one endless sentence): a plain window from the start.
    length = min(target, audio_duration)
    return 0.0, round(length, 3)


def tag_evidence(tag: dict | None) -> list[tuple[float, float, float]]:
    """(start, end, weight) spans from the tag stage's result: each suggestion's evidence weighs its score, the
    evidence for the producer's own tags (``manual_evidence``) weighs double (2, whatever the suggester scored)."""
    tag = tag or {}
    entries = [(s, float(s.get("score") or 0.0)) for s in tag.get("suggested") or []]
    entries += [(m, 2.0) for m in tag.get("manual_evidence") or []]
    spans = []
    for entry, weight in entries:
        for e in entry.get("evidence") or []:
            try:
                start, end = float(e["start"]), float(e["end"])
            except (KeyError, TypeError, ValueError):
                continue
            if end > start and weight > 0:
                spans.append((start, end, weight))
    return spans


def soundbite_clips(episode, timeline, published_duration: float) -> list[Clip]:
    """The episode's soundbites on the published timeline; cuts inside one shorten it, never below 15 s."""
    from pipeline.errors import KindcastError

    clips = []
    for i, sb in enumerate(episode.meta.soundbites):
        start = timeline.to_published(sb.start) if timeline else sb.start
        if start is None or start >= published_duration - 1.0:
            raise KindcastError(f"{episode.slug}: soundbites[{i}]: starts at {sb.start:g} s, in audio that mastering "
                                "trimmed away")
        end = timeline.to_published(sb.start + sb.duration) if timeline else sb.start + sb.duration
        end = min(published_duration, end if end is not None else published_duration)
        if end - start < MIN_CLIP:
            end = min(published_duration, start + MIN_CLIP)
            start = max(0.0, end - MIN_CLIP)
        if end - start < MIN_CLIP - 0.01:
            raise KindcastError(f"{episode.slug}: soundbites[{i}]: the published audio is shorter than {MIN_CLIP:g} s")
        clips.append(Clip(f"clip-{i + 1}", sb.title or episode.meta.title, round(start, 3), round(end - start, 3)))
    return clips
