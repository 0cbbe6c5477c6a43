"""The transcribe stage: word-timed transcripts of the MASTERED audio, so every time matches the published file.

Outputs in ``feeds/episodes/<slug>/``: transcript.json (Podcasting 2.0, one segment per word), .vtt, .srt, .txt.
Speakers are named from the episode's hosts and guests (show.yaml ``hosts:``, then episode.md ``guests:``). When they
declare ``channel: left|right`` and the recording is stereo, each declared channel is transcribed on its own: from the
mastered file when it kept both channels, else from the raw recording with its times moved onto the published
timeline. Otherwise (one mixed track) the voices are told apart by speaker diarization (``pipeline.speech.diarize``)
and named from what they say ("I'm Ines", "Walter, what did you think?"), else in order of first appearance, hosts
first.
"""
from __future__ import annotations

import functools
from pathlib import Path

from pipeline.engine.stage import EpisodeContext, Stage



class TranscribeStage(Stage):
    name = "transcribe"
    version = "3"  # 2: glossary on, looping segments re-decoded; 3: mixed recordings diarized, VTT word times
    code = ("pipeline.speech", "pipeline.timeline")

    # --- what the stage depends on -------------------------------------------------------------------------------
    @staticmethod
    def _master(ctx: EpisodeContext) -> dict:
        return ctx.results.get("master") or {}

    def _master_file(self, ctx: EpisodeContext) -> Path | None:
        name = self._master(ctx).get("file")
        return ctx.out_dir / name if name else None

    @staticmethod
    def _channels(ctx: EpisodeContext) -> dict[str, str]:
        """{"left"|"right": name} from the episode's hosts and guests; empty unless the recording is stereo."""
        people = ctx.show.hosts_for(ctx.episode) + list(ctx.episode.meta.guests)
        channels: dict[str, str] = {}
        for person in people:
            if person.channel and person.channel not in channels:
                channels[person.channel] = person.name
        probe = ctx.results.get("probe") or {}
        if probe.get("channels", 2) < 2:
            return {}
        return channels

    @staticmethod
    def _speakers(ctx: EpisodeContext) -> list[str]:
        """The names of the voices of a mixed recording, hosts first, when there are two or more to tell apart (a lone
        host is not assumed to be the only voice: an unlisted guest would be given their name)."""
        people = ctx.show.hosts_for(ctx.episode) + list(ctx.episode.meta.guests)
        names = list(dict.fromkeys(p.name for p in people if p.name))
        return names if len(names) > 1 else []

    def _source(self, ctx: EpisodeContext) -> str:
        """Which audio is read: the mastered file, or the raw recording when speakers need channels the master lost."""
        if self._channels(ctx) and int(self._master(ctx).get("channels") or 2) < 2:
            return "raw"
        return "master"

    def _language(self, ctx: EpisodeContext) -> str:
        return ctx.show.speech_language

    def _hotwords(self, ctx: EpisodeContext) -> str | None:
        """The glossary (settings.transcription.glossary + the hosts' and guests' names) as hotwords, written as a
        punctuated list. Measured with scripts/bench_transcribe.py on the LJSpeech file (the rare names of its text as
        the glossary): WER 5.57 % -> 4.53 %, names right 5/11 -> 10/11, punctuation kept; a glossary of names not
        spoken changed nothing (5.57 %; jfk 0 % either way)."""
        from pipeline.speech.whisper import glossary_hotwords

        people = ctx.show.hosts_for(ctx.episode) + list(ctx.episode.meta.guests)
        return glossary_hotwords(list(ctx.show.settings.transcription.glossary) + [p.name for p in people])

    def inputs(self, ctx: EpisodeContext):
        # The mastered audio is known by the master stage's key (params), not by the file's bytes: a retitle
        # re-tags the file but leaves its audio, and its transcript, as they were.
        return [ctx.episode.recording] if self._source(ctx) == "raw" else []

    def outputs(self, ctx: EpisodeContext):
        from pipeline.speech.transcript import FILES

        return [ctx.out_dir / name for name in FILES.values()]

    def params(self, ctx: EpisodeContext) -> dict:
        settings = ctx.show.settings.transcription
        params = {
            "model": settings.model,
            "language": self._language(ctx),
            "beam_size": settings.beam_size,
            "compute_type": settings.compute_type,
            "hotwords": self._hotwords(ctx),
            "channels": self._channels(ctx),
            "speakers": [] if self._channels(ctx) else self._speakers(ctx),
            "source": self._source(ctx),
            "audio": self._master(ctx).get("audio"),
        }
        if params["source"] == "raw":
            params["timeline"] = self._master(ctx).get("timeline")
        return params

    def tool_versions(self, ctx: EpisodeContext) -> dict:
        from pipeline.speech import whisper as core
        from pipeline.errors import KindcastError

        tools = dict(_library_versions())
        try:
            tools["model"] = core.model_identity(core.resolve_model(ctx.show.settings.transcription.model,
                                                                    ctx.show.episodes_dir))
        except KindcastError as exc:  # reported by run(); the check must not fail
            tools["model"] = f"unusable: {exc}"
        if not self._channels(ctx) and self._speakers(ctx):
            from pipeline.speech.diarize import model_identity

            tools["speaker_model"] = model_identity()
        return tools

    # --- the work ----------------------------------------------------------------------------------------------------
    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.speech import whisper as core
        from pipeline.errors import KindcastError
        from pipeline.timeline import Timeline
        from pipeline.speech.transcript import FILES, write_all

        master = self._master(ctx)
        audio = self._master_file(ctx)
        if audio is None:
            raise RuntimeError("transcribe needs the master stage's result (its 'file')")
        settings = ctx.show.settings.transcription
        model_dir = core.resolve_model(settings.model, ctx.show.episodes_dir,
                                       what=f"{ctx.show.episodes_dir / 'show.yaml'}: settings.transcription.model")
        channels = self._channels(ctx)
        time_map = None
        if self._source(ctx) == "raw":
            timeline = Timeline.from_json(master["timeline"])
            audio = ctx.episode.recording
            time_map = functools.partial(timeline.to_published, removed="none")
        try:
            transcript = core.transcribe_audio(
                audio, model_dir=model_dir, language=self._language(ctx), beam_size=settings.beam_size,
                compute_type=settings.compute_type, hotwords=self._hotwords(ctx), channels=channels,
                speakers=[] if channels else self._speakers(ctx), duration=master.get("duration"), progress=ctx.progress, time_map=time_map)
        except KindcastError as exc:
            raise KindcastError(f"{ctx.episode.slug}: {exc}") from None
        files = write_all(transcript.words, ctx.out_dir, FILES)
        # said once, when the transcript is made: a producer who finds the names right has nothing to change
        notices = [unsure_names(*group, where="episode.md") for group in transcript.unsure]
        return {
            "language": transcript.language,
            "model": transcript.model,
            "words": len(transcript.words),
            "files": files,
            "speakers": transcript.speakers,
            **({"notices": notices} if notices else {}),
        }


def unsure_names(names: list[str], first: list[float], as_listed: bool, where: str) -> str:
    """What a producer is told when the talk hardly says which voice is who (``Transcript.unsure``); ``where`` the
    names are listed."""
    def clock(t: float) -> str:
        t = int(t)
        return f"{t // 3600}:{t // 60 % 60:02d}:{t % 60:02d}" if t >= 3600 else f"{t // 60}:{t % 60:02d}"

    parts = [f"{name} (first heard at {clock(t)})" for name, t in zip(names, first)]
    heard = ", ".join(parts[:-1]) + " and " + parts[-1]
    wrong, fix, order = (("the wrong way round", "swapped", "in the order") if len(names) == 2
                         else ("mixed up", "mixed up", "mostly in the order"))
    if as_listed:
        return (f"{heard} may be {wrong}: the talk hardly says which voice is who, so they take the names {order} "
                f"{where} lists them; check the transcript, and if they are {fix}, list them there in the order they "
                f"first speak")
    return (f"{heard} may be {wrong}: they are named against the order {where} lists them, on a name heard once "
            f"in the talk; check the transcript")


def _library_versions() -> tuple:
    """Versions of the speech libraries (read once per process: a no-op build checks every episode)."""
    from pipeline.engine.stage import package_version

    return tuple((dist, package_version(dist)) for dist in ("faster-whisper", "ctranslate2"))

