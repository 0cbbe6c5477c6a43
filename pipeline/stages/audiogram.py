"""Audiograms per episode: one captioned video per soundbite, in every configured shape, plus a poster image.

Soundbites in ``episode.md`` are in raw-recording time; they are moved onto the published (mastered) file with the
master stage's timeline. With no soundbite listed, one clip of about ``settings.audiogram.auto_clip_seconds`` is
picked from the transcript (see :func:`pick_clip`). The clips are what the feed announces as ``podcast:soundbite``.

Outputs: ``feeds/episodes/<slug>/audiograms/<name>-<shape>.mp4`` and ``<name>.jpg``.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.engine.stage import EpisodeContext, Stage
from pipeline.video.clips import Clip, pick_clip, soundbite_clips, tag_evidence

AUDIOGRAM_DIR = "audiograms"
AUTO_NAME = "highlight"


# --- the stage -----------------------------------------------------------------------------------------------------

class AudiogramStage(Stage):
    name = "audiogram"
    version = "1"
    code = ("pipeline.video", "pipeline.speech", "pipeline.timeline")

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
        # the mastered audio is known by the master stage's key (params): a retitle re-tags the file, its audio stays
        paths = [self._artwork(ctx)] if (ctx.results.get("master") or {}).get("audio") else [self._audio(ctx),
                                                                                           self._artwork(ctx)]
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
            # the episode's title is drawn only on clips without a title of their own
            "episode_title": episode.meta.title if any(not sb.title for sb in episode.meta.soundbites)
            or not episode.meta.soundbites else None,
            "audio": (ctx.results.get("master") or {}).get("audio"),
            "soundbites": [sb.model_dump(mode="json") for sb in episode.meta.soundbites],
            "timeline": (ctx.results.get("master") or {}).get("timeline"),
            "ffmpeg": ctx.show.settings.ffmpeg,
        }
        if not episode.meta.soundbites:
            params["evidence"] = tag_evidence(ctx.results.get("tag"))
        return params

    def tool_versions(self, ctx: EpisodeContext) -> dict:
        from pipeline.engine.stage import package_version
        from pipeline.media import ffmpeg_identity

        tools = {"ffmpeg": ffmpeg_identity(ctx.show.settings.ffmpeg)}
        for package in ("font-lato", "manimgx-fonts"):
            tools[package] = package_version(package) or "missing"
        return tools

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.video.audiogram import Theme, find_fonts, make_clip, transcribe_clip
        from pipeline.speech.transcript import load_words
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
        words = load_words(transcript) if transcript is not None else None

        clips = soundbite_clips(ctx.episode, self._timeline(ctx), duration)
        ctx.temp_dir.mkdir(parents=True, exist_ok=True)
        # without a transcript (none made), the words come from the show's own model and language
        from pipeline.speech.whisper import resolve_model

        transcription = ctx.show.settings.transcription
        model = str(resolve_model(transcription.model, ctx.show.episodes_dir))
        language = ctx.show.speech_language

        def listen(a, s, d):
            return transcribe_clip(a, s, d, model, language=language, workdir=ctx.temp_dir)

        if not clips:
            if words is None:
                words = listen(audio, 0.0, duration)
            picked = pick_clip(words, duration, settings.auto_clip_seconds, tag_evidence(ctx.results.get("tag")))
            if picked is not None:
                clips = [Clip(AUTO_NAME, ctx.episode.meta.title, picked[0], picked[1])]

        folder = ctx.out_dir / AUDIOGRAM_DIR
        made, outputs, warnings = [], [], []
        for k, clip in enumerate(clips):
            files = {s: folder / f"{clip.name}-{s}.mp4" for s in settings.sizes}
            poster = folder / f"{clip.name}.jpg"

            def part(f: float, k=k) -> None:
                ctx.progress((k + f) / len(clips))

            result = make_clip(audio, files, start=clip.start, duration=clip.duration, words=words,
                               show_title=ctx.show.meta.title, episode_title=clip.title, artwork=artwork,
                               theme=theme, fonts=fonts, poster=poster, fps=settings.fps,
                               ffmpeg=ctx.show.settings.ffmpeg, progress=part, workdir=ctx.temp_dir,
                               audio_duration=duration, transcribe=listen)
            made.append({
                "name": clip.name,
                "title": clip.title,
                "start": clip.start,
                "duration": clip.duration,
                "files": {s: f"{AUDIOGRAM_DIR}/{p.name}" for s, p in files.items()},
                "poster": f"{AUDIOGRAM_DIR}/{poster.name}",
            })
            outputs += [ctx.key(p) for p in [*files.values(), poster]]
            warnings += [f"{clip.name}: {w}" for w in result.warnings]
        self._remove_stale(folder, {Path(p).name for p in outputs})
        ctx.progress(1.0)
        return {"clips": made, "outputs": outputs, **({"warnings": warnings} if warnings else {})}

    @staticmethod
    def _remove_stale(folder: Path, keep: set[str]) -> None:
        """Videos and posters of clips that no longer exist (a soundbite removed, a size dropped)."""
        if not folder.is_dir():
            return
        for path in folder.iterdir():
            if path.suffix in (".mp4", ".jpg") and path.name not in keep and not path.name.startswith("."):
                path.unlink()
