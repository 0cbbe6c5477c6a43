"""The first stage: probe the raw recording (duration, rate, channels). Cheap, and every later stage may use it."""
from __future__ import annotations

from pipeline.media import probe_audio
from pipeline.engine.stage import EpisodeContext, Stage


class ProbeStage(Stage):
    name = "probe"
    version = "1"
    code = ("pipeline.media",)

    def inputs(self, ctx: EpisodeContext):
        return [ctx.episode.recording]

    def run(self, ctx: EpisodeContext) -> dict:
        info = probe_audio(ctx.episode.recording)
        return {
            "file": ctx.episode.recording.name,
            "duration": round(info.duration, 3),
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            "codec": info.codec,
        }
