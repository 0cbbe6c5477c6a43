"""The pipeline, assembled in one place: per-episode stages in order, then the show-level stages.

Stage modules import nothing heavy at module level (models, ffmpeg wrappers are imported inside ``run``), so that a
build with nothing to do starts fast.
"""
from __future__ import annotations

from pipeline.stages.base import Stage


def episode_stages() -> list[Stage]:
    """Per episode, in order: probe -> master -> transcribe -> tag -> audiogram -> notes."""
    from pipeline.stages.probe import ProbeStage

    stages: list[Stage] = [ProbeStage()]
    # --- each stage's module adds itself below, in this order (one line each) ---
    from pipeline.stages.master import MasterStage; stages.append(MasterStage())  # noqa: E702
    from pipeline.stages.transcribe import TranscribeStage; stages.append(TranscribeStage())  # noqa: E702
    from pipeline.stages.tag import TagStage; stages.append(TagStage())  # tag
    from pipeline.stages.audiogram import AudiogramStage; stages.append(AudiogramStage())  # noqa: E702
    from pipeline.stages.notes import NotesStage; stages.append(NotesStage())  # notes
    return stages


def show_stages() -> list[Stage]:
    """After every episode: feed, then site."""
    stages: list[Stage] = []
    from pipeline.stages.feed import FeedStage; stages.append(FeedStage())  # feed
    from pipeline.stages.site import SiteStage; stages.append(SiteStage())  # site
    return stages
