"""Audiograms per episode: one captioned video per soundbite, in every configured shape, plus a poster image.

Soundbites in ``episode.md`` are in raw-recording time; they are moved onto the published (mastered) file with the
master stage's timeline. With no soundbite listed, one clip of about ``settings.audiogram.auto_clip_seconds`` is
picked from the transcript (see :func:`pick_clip`). The clips are what the feed announces as ``podcast:soundbite``.

Outputs: ``feeds/episodes/<slug>/audiograms/<name>-<shape>.mp4`` and ``<name>.jpg``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.stages.base import EpisodeContext, Stage

AUDIOGRAM_DIR = "audiograms"
AUTO_NAME = "highlight"
MIN_CLIP, MAX_CLIP = 15.0, 90.0


@dataclass(frozen=True)
class Clip:
    name: str
    title: str
    start: float  # published seconds
    duration: float


# --- choosing clips ------------------------------------------------------------------------------------------------

def sentences(words, pause: float = 1.0) -> list[tuple[float, float, str]]:
    """(start, end, text) of each sentence: ends at . ? ! or at a pause longer than ``pause`` seconds."""
    out, current = [], []
    for i, w in enumerate(words):
        current.append(w)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is None or re.search(r"[.!?…][\"')\]]*$", w.text) or nxt.start - w.end > pause:
            out.append((current[0].start, current[-1].end, " ".join(x.text for x in current)))
            current = []
    return out


def pick_clip(words, audio_duration: float, target: float, evidence: list[tuple[float, float, float]] = ()) -> tuple[float, float] | None:
    """The best clip of about ``target`` seconds (15-90) that starts and ends on sentence boundaries.

    Score: the evidence the tag stage found for the episode's conditions ((start, end, weight) spans: seconds of
    overlap times weight) when there is any, else the densest speech (words per second). Returns (start, duration)
    in published seconds, or None when the audio is shorter than the shortest clip.
    """
    if audio_duration < MIN_CLIP:
        return None
    target = max(MIN_CLIP, min(MAX_CLIP, target))
    sents = sentences(list(words))
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
    """(start, end, weight) spans from the tag stage's suggestions (manual tags weigh double)."""
    tag = tag or {}
    manual = set(tag.get("manual") or [])
    spans = []
    for s in tag.get("suggested") or []:
        weight = float(s.get("score") or 0.0) * (2.0 if s.get("id") in manual else 1.0)
        for e in s.get("evidence") or []:
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


# --- the stage -----------------------------------------------------------------------------------------------------

class AudiogramStage(Stage):
    name = "audiogram"
    version = "1"

    def _audio(self, ctx: EpisodeContext) -> Path:
        master = ctx.results.get("master") or {}
        return ctx.out_dir / master["file"] if master.get("file") else ctx.episode.recording

    def _transcript(self, ctx: EpisodeContext) -> Path | None:
        files = (ctx.results.get("transcribe") or {}).get("files") or {}
        path = ctx.out_dir / files.get("json", "transcript.json")
        return path if (ctx.results.get("transcribe") or path.is_file()) else None

    def _artwork(self, ctx: EpisodeContext) -> Path:
        art = ctx.episode.meta.artwork
        return ctx.episode.dir / art if art else ctx.show.artwork_path

    def _timeline(self, ctx: EpisodeContext):
        from pipeline.timeline import Timeline

        master = ctx.results.get("master") or {}
        return Timeline.from_json(master["timeline"]) if master.get("timeline") else None

    def _names(self, ctx: EpisodeContext) -> list[str]:
        """Clips known before running: the soundbites. An automatic clip (or none, for audio under 15 s) is
        declared through the result's ``outputs``."""
        return [f"clip-{i + 1}" for i in range(len(ctx.episode.meta.soundbites))]

    def inputs(self, ctx: EpisodeContext):
        paths = [self._audio(ctx), self._artwork(ctx)]
        transcript = self._transcript(ctx)
        if transcript is not None:
            paths.append(transcript)
        return paths

    def outputs(self, ctx: EpisodeContext):
        sizes = ctx.show.settings.audiogram.sizes
        base = ctx.out_dir / AUDIOGRAM_DIR
        out = []
        for name in self._names(ctx):
            out += [base / f"{name}-{s}.mp4" for s in sizes] + [base / f"{name}.jpg"]
        return out

    def params(self, ctx: EpisodeContext) -> dict:
        settings = ctx.show.settings.audiogram
        episode = ctx.episode
        params = {
            "settings": settings.model_dump(mode="json"),
            "show_title": ctx.show.meta.title,
            "episode_title": episode.meta.title,
            "soundbites": [sb.model_dump(mode="json") for sb in episode.meta.soundbites],
            "timeline": (ctx.results.get("master") or {}).get("timeline"),
            "ffmpeg": ctx.show.settings.ffmpeg,
        }
        if not episode.meta.soundbites:
            params["evidence"] = tag_evidence(ctx.results.get("tag"))
        return params

    def tool_versions(self, ctx: EpisodeContext) -> dict:
        from importlib.metadata import PackageNotFoundError, version

        from pipeline.media import ffmpeg_identity

        try:
            fonts = version("font-lato")
        except PackageNotFoundError:
            fonts = "missing"
        return {"ffmpeg": ffmpeg_identity(ctx.show.settings.ffmpeg), "font-lato": fonts}

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.audiogram import Theme, find_fonts, make_clip, transcribe_clip
        from pipeline.captions import load_transcript
        from pipeline.errors import KindcastError
        from pipeline.media import probe_audio

        settings = ctx.show.settings.audiogram
        theme = Theme.from_settings(settings.theme)
        fonts = find_fonts(theme, ctx.root)
        audio = self._audio(ctx)
        artwork = self._artwork(ctx)
        if not artwork.is_file():
            raise KindcastError(f"{ctx.episode.slug}: artwork: {artwork.name}: file not found")
        duration = probe_audio(audio).duration
        transcript = self._transcript(ctx)
        words = load_transcript(transcript) if transcript is not None else None

        clips = soundbite_clips(ctx.episode, self._timeline(ctx), duration)
        if not clips:
            if words is None:
                words = transcribe_clip(audio, 0.0, duration, ctx.show.settings.transcription.model)
            picked = pick_clip(words, duration, settings.auto_clip_seconds, tag_evidence(ctx.results.get("tag")))
            if picked is not None:
                clips = [Clip(AUTO_NAME, ctx.episode.meta.title, picked[0], picked[1])]

        folder = ctx.out_dir / AUDIOGRAM_DIR
        made, outputs = [], []
        for k, clip in enumerate(clips):
            files = {s: folder / f"{clip.name}-{s}.mp4" for s in settings.sizes}
            poster = folder / f"{clip.name}.jpg"

            def part(f: float, k=k) -> None:
                ctx.progress((k + f) / len(clips))

            model = ctx.show.settings.transcription.model
            make_clip(audio, files, start=clip.start, duration=clip.duration, words=words,
                      show_title=ctx.show.meta.title, episode_title=clip.title, artwork=artwork, theme=theme,
                      fonts=fonts, poster=poster, fps=settings.fps, ffmpeg=ctx.show.settings.ffmpeg, progress=part,
                      workdir=None, audio_duration=duration,
                      transcribe=lambda a, s, d: transcribe_clip(a, s, d, model))
            made.append({
                "name": clip.name,
                "title": clip.title,
                "start": clip.start,
                "duration": clip.duration,
                "files": {s: f"{AUDIOGRAM_DIR}/{p.name}" for s, p in files.items()},
                "poster": f"{AUDIOGRAM_DIR}/{poster.name}",
            })
            outputs += [str(p.relative_to(ctx.root)) for p in [*files.values(), poster]]
        self._remove_stale(folder, {Path(p).name for p in outputs})
        ctx.progress(1.0)
        return {"clips": made, "outputs": outputs}

    @staticmethod
    def _remove_stale(folder: Path, keep: set[str]) -> None:
        """Videos and posters of clips that no longer exist (a soundbite removed, a size dropped)."""
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.suffix in (".mp4", ".jpg") and path.name not in keep and not path.name.startswith("."):
                path.unlink()
