"""The pipeline, assembled in one place: per-episode stages in order, then the show-level stages.

Each stage is thin: it declares its inputs, outputs and params, calls one family (audio, speech, conditions, video,
web) and records what it made. Stage modules import nothing heavy at module level (models and ffmpeg wrappers are
imported inside ``run``), so that a build with nothing to do starts fast.
"""
from __future__ import annotations

from pipeline.engine.stage import Stage


def episode_stages() -> list[Stage]:
    """Per episode, in order: probe -> master -> transcribe -> tag -> audiogram -> notes."""
    from pipeline.stages.audiogram import AudiogramStage
    from pipeline.stages.master import MasterStage
    from pipeline.stages.notes import NotesStage
    from pipeline.stages.probe import ProbeStage
    from pipeline.stages.tag import TagStage
    from pipeline.stages.transcribe import TranscribeStage

    return [ProbeStage(), MasterStage(), TranscribeStage(), TagStage(), AudiogramStage(), NotesStage()]


def show_stages() -> list[Stage]:
    """After every episode: feed, then site."""
    from pipeline.stages.feed import FeedStage
    from pipeline.stages.site import SiteStage

    return [FeedStage(), SiteStage()]
