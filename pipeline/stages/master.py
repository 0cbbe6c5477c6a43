"""The master stage: the raw recording becomes the published, tagged ``feeds/episodes/<slug>/<slug>.mp3`` (or .m4a).

Trims silence at both ends, removes the cuts of ``episode.md``, adds the show's intro/outro music, normalises
loudness to the show's target (stereo or mono target, true peak verified after encoding), encodes and tags (ID3
chapters remapped onto the published audio), and writes ``chapters.json`` when the episode has chapters. Before the
loudness target, the speech is cleaned up as ``settings.cleanup`` says (high-pass, noise reduction, leveler). The
loudness report (``loudness.json``, ``loudness.png``, ``index.html``) goes to ``.kindcast/reports/<slug>/``: for the
producer, outside the published tree. The work itself lives in :mod:`pipeline.audio`.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.errors import KindcastError
from pipeline.media import ffmpeg_identity
from pipeline.engine.stage import EpisodeContext, Stage
from pipeline.show import STATE_DIR


def _music_path(ctx: EpisodeContext, role: str) -> Path | None:
    value = getattr(ctx.show.settings.music, role)
    return ctx.show.episodes_dir / value if value else None


def _artwork(ctx: EpisodeContext) -> Path | None:
    meta = ctx.episode.meta
    if meta.artwork:
        return ctx.episode.dir / meta.artwork
    path = ctx.show.artwork_path
    return path if path.is_file() else None


REPORT_FILES = ("loudness.json", "loudness.png", "index.html")


def report_dir(ctx: EpisodeContext) -> Path:
    """``.kindcast/reports/<slug>/``: the episode's build report, never published."""
    return ctx.root / STATE_DIR / "reports" / ctx.episode.slug


class MasterStage(Stage):
    name = "master"
    version = "2"  # 2: speech clean-up (settings.cleanup) and the loudness report
    code = ("pipeline.audio", "pipeline.timeline")  # how ffmpeg is started (media) changes no output

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
        from pipeline.audio.alternate import alternate_path

        outs = [self._file(ctx)]
        alternate = alternate_path(self._file(ctx), ctx.show.settings.encode.alternate.format)  # the smaller copy
        if alternate is not None:
            outs.append(alternate)
        if ctx.episode.meta.chapters:
            outs.append(ctx.out_dir / "chapters.json")
        return outs + [report_dir(ctx) / name for name in REPORT_FILES]

    def params(self, ctx: EpisodeContext) -> dict:
        s = ctx.show.settings
        meta = ctx.episode.meta
        return {
            "loudness": s.loudness.model_dump(mode="json"),
            "silence": s.silence.model_dump(mode="json"),
            "cleanup": s.cleanup.model_dump(mode="json"),
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

    def audio_key(self, ctx: EpisodeContext) -> str:
        """What the encoded audio depends on, as a digest: everything but the tags (title, artwork, ...) and, for
        MP3 whose chapters are ID3 frames, the chapters. A retitle finds the audio already made under this key and
        only re-tags it (later stages depend on the key, not on the file's bytes, so they do not run again)."""
        from pipeline.engine.stage import stage_version
        from pipeline.engine.state import digest_json, file_stat

        params = {k: v for k, v in self.params(ctx).items() if k != "tags"}
        if ctx.show.settings.encode.format == "mp3":
            params.pop("chapters")
        sources = [ctx.episode.recording] + [m for m in (_music_path(ctx, r) for r in ("intro", "outro")) if m]
        return digest_json({"params": params, "sources": [[s.name, file_stat(s)] for s in sources],
                            "code": stage_version(self), "tools": self.tool_versions(ctx)})[:20]

    def _encoded(self, ctx: EpisodeContext, key: str) -> tuple[Path, dict]:
        """The mastered, untagged audio for ``key`` and what mastering measured: made now, or kept from before."""
        import json
        import shutil

        from pipeline.audio.report import write_report

        from pipeline.audio.master import MasterJob, master
        from pipeline.audio.tags import ChapterMark
        from pipeline.fsutil import write_text

        s = ctx.show.settings
        meta = ctx.episode.meta
        folder = ctx.work_dir / "master"
        audio, info = folder / f"{key}.{s.encode.format}", folder / f"{key}.json"
        reported = all((report_dir(ctx) / name).is_file() for name in REPORT_FILES)
        if audio.is_file() and info.is_file() and reported and not ctx.force:
            try:
                return audio, json.loads(info.read_text(encoding="utf-8"))
            except ValueError:
                pass
        for music_role in ("intro", "outro"):
            path = _music_path(ctx, music_role)
            if path is not None and not path.is_file():
                raise KindcastError(f"{ctx.episode.slug}: settings.music.{music_role}: {path.name}: file not found")
        shutil.rmtree(folder, ignore_errors=True)  # only the current key is kept
        folder.mkdir(parents=True)
        job = MasterJob(
            source=ctx.episode.recording,
            output=audio,
            label=ctx.episode.slug,
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
            ffmpeg=s.ffmpeg,
            work_dir=ctx.temp_dir,
            write_file_tags=False,
            highpass_hz=s.cleanup.highpass_hz if s.cleanup.highpass else None,
            denoise_db=s.cleanup.denoise_db if s.cleanup.denoise else None,
            leveler=s.cleanup.leveler,
            max_gain_db=s.cleanup.max_gain_db,
            pause_db=s.cleanup.pause_db,
        )
        result = master(job, progress=lambda f: ctx.progress(0.85 * f))
        write_report(result.report, report_dir(ctx), f"{meta.title} ({ctx.episode.slug})")
        alternate = None
        if s.encode.alternate.format != "none":
            from pipeline.audio.alternate import alternate_path, encode_alternate

            channels = 1 if s.encode.alternate.channels == "mono" else result.channels
            made = encode_alternate(audio, alternate_path(audio, s.encode.alternate.format),
                                    fmt=s.encode.alternate.format, bitrate=s.encode.alternate.bitrate,
                                    channels=channels, duration=result.duration, ffmpeg=s.ffmpeg,
                                    label=ctx.episode.slug, progress=lambda f: ctx.progress(0.85 + 0.1 * f))
            alternate = made.to_json()
        measured = {
            "mime": result.mime,
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
            "alternate": alternate,
            "loudness": {k: result.report[k] for k in ("before", "after", "speakers")},
            **({"warnings": result.warnings} if result.warnings else {}),
        }
        write_text(info, json.dumps(measured, sort_keys=True))
        return audio, measured

    def run(self, ctx: EpisodeContext) -> dict:
        import shutil

        from pipeline.audio.tags import TagInfo, chapters_json, write_tags
        from pipeline.fsutil import atomic_path, write_text

        s = ctx.show.settings
        meta = ctx.episode.meta
        slug = ctx.episode.slug
        out = self._file(ctx)
        key = self.audio_key(ctx)
        audio, measured = self._encoded(ctx, key)
        tags = TagInfo(
            title=meta.title,
            album=ctx.show.meta.title,
            artist=ctx.show.meta.author,
            track=meta.number,
            date=meta.date.date().isoformat(),
            artwork=_artwork(ctx),
            comment=meta.summary or None,
        )
        with atomic_path(out) as tmp:
            shutil.copyfile(audio, tmp)
            write_tags(tmp, s.encode.format, tags, measured["chapters"], measured["duration"])
        alternate = self._publish_alternate(ctx, audio, measured, tags)
        # A file left from an earlier format (mp3 <-> m4a) or chapters that no longer exist must not be published.
        for other in ("mp3", "m4a"):
            stale = ctx.out_dir / f"{slug}.{other}"
            if other != s.encode.format and stale.exists():
                stale.unlink()
        chapters_file = ctx.out_dir / "chapters.json"
        if meta.chapters:
            write_text(chapters_file, chapters_json(measured["chapters"]))
        elif chapters_file.exists():
            chapters_file.unlink()
        ctx.progress(1.0)
        return {"file": out.name, "bytes": out.stat().st_size, "audio": key, **measured, "alternate": alternate}

    def _publish_alternate(self, ctx: EpisodeContext, audio: Path, measured: dict, tags) -> dict | None:
        """The smaller copy (``podcast:alternateEnclosure``), made with the audio and tagged like the main file;
        a copy of another format left from earlier settings is removed."""
        import shutil

        from pipeline.audio.alternate import FORMATS, alternate_path
        from pipeline.audio.tags import write_tags
        from pipeline.fsutil import atomic_path

        fmt = ctx.show.settings.encode.alternate.format
        out = alternate_path(self._file(ctx), fmt)
        for spec in FORMATS.values():
            stale = self._file(ctx).with_suffix(spec["suffix"])
            if stale != out and stale.exists():
                stale.unlink()
        made = measured.get("alternate")
        if out is None or not made:
            return None
        with atomic_path(out) as tmp:
            shutil.copyfile(alternate_path(audio, fmt), tmp)
            write_tags(tmp, fmt, tags, measured["chapters"], measured["duration"])
        return {**made, "file": out.name, "bytes": out.stat().st_size}
