"""The master stage: the raw recording becomes the published, tagged ``feeds/episodes/<slug>/<slug>.mp3`` (or .m4a).

Trims silence at both ends, removes the cuts of ``episode.md``, adds the show's intro/outro music, normalises
loudness to the show's target (stereo or mono target, true peak verified after encoding), encodes and tags (ID3
chapters remapped onto the published audio), and writes ``chapters.json`` when the episode has chapters. The work
itself lives in :mod:`pipeline.audio.master`.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.errors import KindcastError
from pipeline.media import ffmpeg_identity
from pipeline.engine.stage import EpisodeContext, Stage


def _music_path(ctx: EpisodeContext, role: str) -> Path | None:
    value = getattr(ctx.show.settings.music, role)
    return ctx.show.episodes_dir / value if value else None


def _artwork(ctx: EpisodeContext) -> Path | None:
    meta = ctx.episode.meta
    if meta.artwork:
        return ctx.episode.dir / meta.artwork
    path = ctx.show.artwork_path
    return path if path.is_file() else None


class MasterStage(Stage):
    name = "master"
    version = "1"

    def _file(self, ctx: EpisodeContext) -> Path:
        return ctx.out_dir / f"{ctx.episode.slug}.{ctx.show.settings.encode.format}"

    def inputs(self, ctx: EpisodeContext) -> list[Path]:
        paths = [ctx.episode.recording]
        art = _artwork(ctx)
        if art is not None:
            paths.append(art)
        for role in ("intro", "outro"):
            music = _music_path(ctx, role)
            if music is not None:
                paths.append(music)
        return paths

    def outputs(self, ctx: EpisodeContext) -> list[Path]:
        outs = [self._file(ctx)]
        if ctx.episode.meta.chapters:
            outs.append(ctx.out_dir / "chapters.json")
        return outs

    def params(self, ctx: EpisodeContext) -> dict:
        s = ctx.show.settings
        meta = ctx.episode.meta
        return {
            "loudness": s.loudness.model_dump(mode="json"),
            "silence": s.silence.model_dump(mode="json"),
            "encode": s.encode.model_dump(mode="json"),
            "music": s.music.model_dump(mode="json"),
            "cuts": [[c.start, c.end] for c in meta.cuts],
            "chapters": [c.model_dump(mode="json") for c in meta.chapters],
            "tags": {
                "title": meta.title,
                "number": meta.number,
                "date": meta.date.date().isoformat(),
                "show": ctx.show.meta.title,
                "author": ctx.show.meta.author,
                "summary": meta.summary,
            },
        }

    def tool_versions(self, ctx: EpisodeContext) -> dict:
        import mutagen

        return {"ffmpeg": ffmpeg_identity(ctx.show.settings.ffmpeg), "mutagen": mutagen.version_string}

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.fsutil import write_text
        from pipeline.audio.master import MasterJob, master
        from pipeline.audio.tags import ChapterMark, TagInfo

        s = ctx.show.settings
        meta = ctx.episode.meta
        slug = ctx.episode.slug
        out = self._file(ctx)
        for music_role in ("intro", "outro"):
            path = _music_path(ctx, music_role)
            if path is not None and not path.is_file():
                raise KindcastError(f"{slug}: settings.music.{music_role}: {path.name}: file not found")
        tags = TagInfo(
            title=meta.title,
            album=ctx.show.meta.title,
            artist=ctx.show.meta.author,
            track=meta.number,
            date=meta.date.date().isoformat(),
            artwork=_artwork(ctx),
            comment=meta.summary or None,
        )
        job = MasterJob(
            source=ctx.episode.recording,
            output=out,
            label=slug,
            target_lufs=s.loudness.target_lufs,
            mono_target_lufs=s.loudness.mono_target_lufs,
            true_peak=s.loudness.true_peak,
            fmt=s.encode.format,
            bitrate=s.encode.bitrate,
            quality=s.encode.quality,
            sample_rate=s.encode.sample_rate,
            channels=s.encode.channels,
            silence_threshold_db=s.silence.threshold_db,
            min_silence=s.silence.min_silence,
            pad=s.silence.pad,
            cuts=tuple((c.start, c.end) for c in meta.cuts),
            intro=_music_path(ctx, "intro"),
            outro=_music_path(ctx, "outro"),
            chapters=tuple(ChapterMark(c.start, c.title, c.url, c.img) for c in meta.chapters),
            tags=tags,
            ffmpeg=s.ffmpeg,
            work_dir=ctx.work_dir,
        )
        result = master(job, progress=ctx.progress)
        # A file left from an earlier format (mp3 <-> m4a) or chapters that no longer exist must not be published.
        for other in ("mp3", "m4a"):
            stale = ctx.out_dir / f"{slug}.{other}"
            if other != s.encode.format and stale.exists():
                stale.unlink()
        chapters_file = ctx.out_dir / "chapters.json"
        if meta.chapters:
            write_text(chapters_file, result.chapters_json())
        elif chapters_file.exists():
            chapters_file.unlink()
        return {
            "file": out.name,
            "mime": result.mime,
            "bytes": result.bytes,
            "duration": result.duration,
            "lufs": result.lufs,
            "true_peak": result.true_peak,
            "channels": result.channels,
            "timeline": result.timeline.to_json(),
            "chapters": result.chapters,
            "source_duration": result.source_duration,
            "source_lufs": result.source_lufs,
            "gain_db": result.gain_db,
            "attempts": result.attempts,
            **({"warnings": result.warnings} if result.warnings else {}),
        }
