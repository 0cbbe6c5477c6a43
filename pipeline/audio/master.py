"""The mastering job and its result, and :func:`master`, which measures, plans, renders and tags in order
(see the package docstring for the passes)."""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.audio.leveler import (ENVELOPE_RATE, MIN_FLOOR_GAP, credible_floor, gain_for, loud_speech,
                                    noise_floor, plan_levels)
from pipeline.audio.measure import decode_problem, decode_warning, loudness_of, measure
from pipeline.audio.plan import plan_segments, sound_bounds
from pipeline.audio.render import MIME, Cleanup, Encoding, apply_and_verify, build_graph, ffmetadata
from pipeline.audio.report import loudness_report
from pipeline.audio.tags import ChapterMark, TagInfo, chapters_json, remap_chapters, write_tags
from pipeline.errors import KindcastError
from pipeline.media import probe_audio
from pipeline.timeline import Timeline

Progress = Callable[[float], None]

MP3_HEADROOM_DB = 0.5  # first limiter ceiling below the true-peak target (encoder overshoot)
AAC_HEADROOM_DB = 0.6
# libmp3lame output measures uniformly 0.45 dB below its input (loudness and peaks alike; measured here on speech,
# music and synthetic sources): the first attempt's gain makes up for it, the verify pass catches the rest.
CODEC_GAIN_DB = {"mp3": -0.45, "m4a": 0.0}
# The limiter takes some loudness off: on speech here 0.03-0.1 LU per dB that the peaks would exceed its ceiling.
# The first attempt adds this much gain per dB of excess (capped); the verify pass corrects what remains.
LIMITER_LOSS_PER_DB = 0.07
LIMITER_LOSS_MAX = 1.5
LOUDNESS_TOLERANCE = 0.35  # LU: re-run the apply pass when the encoded file is further than this from target
MAX_ATTEMPTS = 3
# afftdn's noise floor is set this many dB above the measured noise floor (momentary LUFS): measured on pink and
# white noise under speech, it removes the most noise at this offset without touching the speech more.
DENOISE_FLOOR_OFFSET = 2.0
DENOISE_BELOW = -75.0  # LUFS: a noise floor below this has nothing worth removing; the denoiser is left out
PAUSE_GATE_BELOW_TARGET = 14.0  # dB: the pause expander's threshold under the loudness target
# What the pause expander (and the denoiser's work on soft speech) takes off the integrated loudness beyond what the
# block model predicts: measured 0.3-0.4 LU on the development interviews at -16 and -19 LUFS; the first attempt
# aims this much higher, the verify pass corrects what remains.
EXPANDER_LOSS_LU = 0.3
LOUDNESS_WARN_LU = 1.0  # a published loudness further than this from the target is said in the result's warnings


@dataclass(frozen=True)
class MasterJob:
    source: Path
    output: Path  # .mp3 or .m4a; written atomically
    label: str = ""  # how errors name the input (episode slug or file); default: the file name
    target_lufs: float = -16.0
    mono_target_lufs: float | None = None  # used instead of target_lufs when the output is mono
    true_peak: float = -1.0
    fmt: str = "mp3"
    bitrate: str = "128k"
    quality: int = 7  # libmp3lame compression_level (LAME -q): 0 best/slowest .. 9 fastest
    sample_rate: int = 44100
    channels: str = "auto"  # auto (keep mono mono, everything else stereo) | mono | stereo
    silence_threshold_db: float = -45.0
    min_silence: float = 0.5
    pad: float = 0.35
    trim: bool = True
    cuts: tuple[tuple[float, float], ...] = ()
    intro: Path | None = None
    outro: Path | None = None
    chapters: tuple[ChapterMark, ...] = ()
    tags: TagInfo | None = None
    ffmpeg: str | None = None
    work_dir: Path | None = None  # temporary files; default: beside the output
    write_file_tags: bool = True  # False: leave tags and (MP3) chapters to the caller (see tags.write_tags)
    # speech clean-up (settings.cleanup), in the order it is applied; None or False switches a part off
    highpass_hz: float | None = 80.0
    denoise_db: float | None = 24.0
    leveler: bool = True
    max_gain_db: float = 18.0
    pause_db: float = 12.0
    # who speaks when (raw seconds), for the report's loudness per speaker: (name, start, end)
    turns: tuple[tuple[str, float, float], ...] = ()


@dataclass
class MasterResult:
    file: Path
    fmt: str
    mime: str
    bytes: int
    duration: float  # published seconds
    lufs: float
    true_peak: float
    channels: int
    timeline: Timeline
    chapters: list[dict]  # Podcasting 2.0 JSON chapters, published times
    source_duration: float
    source_lufs: float  # integrated loudness of the kept stretches before gain
    gain_db: float
    limiter_ceiling: float
    attempts: int
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)  # the loudness report (see pipeline.audio.report)
    warnings: list[str] = field(default_factory=list)  # one line each, for the build summary and `kindcast status`

    def chapters_json(self) -> str:
        return chapters_json(self.chapters)



def _probe(path: Path, label: str) -> tuple[int, float]:
    """(channels, duration) of an input, its errors naming ``label`` (the episode, or the setting) and the file."""
    try:
        info = probe_audio(path)
    except KindcastError as exc:
        msg = str(exc)
        raise KindcastError(msg if msg.startswith(label) else f"{label}: {msg}") from None
    if info.duration <= 0:
        raise KindcastError(f"{label if path.name in label else f'{label}: {path.name}'}: zero-length recording")
    return info.channels or 2, info.duration


def _music_input(path: Path, role: str, channels: int, target: float, job: MasterJob, label: str) -> tuple[float, float]:
    """(gain dB, duration) for the intro or outro music."""
    length = _probe(path, f"{label}: settings.music.{role}")[1]
    m = measure(path, channels=channels, threshold_db=-90, min_silence=30, ffmpeg=job.ffmpeg,
                label=f"{label}: settings.music.{role}", duration_hint=length, blocks=False)
    if m.integrated is None or m.integrated <= -69.9:
        raise KindcastError(f"{label}: settings.music.{role}: {path.name}: the music is silent")
    return target - m.integrated, m.duration


def master(job: MasterJob, progress: Progress | None = None) -> MasterResult:
    """Master ``job.source`` into ``job.output``; see the module docstring for the passes."""
    started = time.perf_counter()
    report = progress or (lambda f: None)
    source = Path(job.source)
    label = job.label or str(source)
    named = label if source.name in label else f"{label}: {source.name}"  # the episode and its file, once each
    if job.fmt not in MIME:
        raise KindcastError(f"{label}: encode.format: {job.fmt!r} is not mp3 or m4a")
    in_channels, in_duration = _probe(source, label)
    channels = {"mono": 1, "stereo": 2}.get(job.channels, 1 if in_channels == 1 else 2)
    target = job.mono_target_lufs if (channels == 1 and job.mono_target_lufs is not None) else job.target_lufs

    m = measure(source, channels=channels, threshold_db=job.silence_threshold_db, min_silence=job.min_silence,
                ffmpeg=job.ffmpeg, label=label, duration_hint=in_duration,
                progress=lambda f: report(0.3 * f))
    duration = m.duration or in_duration
    problem = decode_problem(m)  # damaged in the middle, or shorter than its header says
    if problem:
        raise KindcastError(f"{named}: {problem}")
    warnings = [w for w in [decode_warning(m)] if w]
    if duration <= 0 or not len(m.block_end):
        raise KindcastError(f"{named}: no audio could be decoded (zero-length recording)")
    bounds = sound_bounds(m, duration)
    if bounds is None:
        raise KindcastError(f"{named}: the recording is silent (nothing louder than "
                            f"{job.silence_threshold_db:g} dB; check the file or settings.silence.threshold_db)")
    if not job.trim:
        bounds = None
    segments = plan_segments(duration, bounds, job.pad, job.cuts, label)
    speech_lufs = loudness_of(m, segments)
    if speech_lufs is None:
        raise KindcastError(f"{named}: the published part is silent (no loudness above -70 LUFS)")
    kept_blocks = [v for e, v in zip(m.block_end, m.block_lufs) if any(s - 0.05 <= e - 0.4 and e <= t + 0.05
                                                                       for s, t in segments)]
    blocks = kept_blocks or list(m.block_lufs)
    floor, credible = noise_floor(blocks), credible_floor(blocks)
    noisy = credible and floor > DENOISE_BELOW
    denoise = (job.denoise_db, floor + DENOISE_FLOOR_OFFSET) if job.denoise_db and noisy else None
    # without a credible floor (few pauses), every block above the silence is speech to the leveler
    plan_floor = floor if credible else loud_speech(blocks) - 2 * MIN_FLOOR_GAP
    plan = (plan_levels(m, target, max_gain_db=job.max_gain_db, segments=segments, denoised=denoise is not None,
                        floor=plan_floor) if job.leveler else None)

    inputs: list = [source]  # files, or (input options, file) for the envelope
    music: list[tuple[int, float, str]] = []
    intro_len = outro_len = 0.0
    for role, path in (("intro", job.intro), ("outro", job.outro)):
        if path is None:
            continue
        gain, length = _music_input(Path(path), role, channels, target, job, label)
        music.append((len(inputs), gain, role))
        inputs.append(Path(path))
        if role == "intro":
            intro_len = length
        else:
            outro_len = length

    timeline = Timeline.from_kept(segments, offset=intro_len)
    expected = intro_len + timeline.duration + outro_len
    chapters = remap_chapters(job.chapters, timeline, expected)

    out = Path(job.output)
    work = Path(job.work_dir) if job.work_dir else out.parent
    work.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    # beside the output, so that the final rename is atomic; a fixed safe name, so the tee muxer can take it
    tmp = out.parent / f".kindcast-master-{os.getpid()}-{threading.get_ident() % 100000}.{job.fmt}"
    meta_file = None
    if job.fmt == "m4a" and chapters:
        meta_file = work / f".chapters-{os.getpid()}.txt"
        meta_file.write_text(ffmetadata(chapters, expected), encoding="utf-8")

    envelope = None
    if plan is not None:
        envelope = work / f".level-{os.getpid()}-{threading.get_ident() % 100000}.f32"
        plan.write_envelope(envelope, duration, channels)
        inputs.append(((("-f", "f32le", "-ar", str(ENVELOPE_RATE), "-ac", str(channels))), envelope))
    cleanup = Cleanup(
        highpass_hz=job.highpass_hz or None,
        denoise=denoise,
        envelope_input=len(inputs) - 1 if plan is not None else None,
        pause_gate=(target - PAUSE_GATE_BELOW_TARGET, job.pause_db) if plan is not None and job.pause_db > 0 else None,
    )

    encoding = Encoding(job.fmt, job.bitrate, job.sample_rate, job.quality, job.ffmpeg)
    codec = -CODEC_GAIN_DB[job.fmt]
    headroom = MP3_HEADROOM_DB if job.fmt == "mp3" else AAC_HEADROOM_DB
    ceiling = job.true_peak - headroom
    # leveled: the plan's gains and a model of the limiter over every block's true peaks give the static gain
    loss = EXPANDER_LOSS_LU if (plan is not None and job.pause_db > 0) else 0.0
    planned = (gain_for(m, plan, segments, target + codec + loss, ceiling, denoise is not None)
               if plan is not None else None)
    if planned is not None:
        gain = planned
    else:
        gain = target - speech_lufs + codec
        if m.sample_peak is not None and m.sample_peak + gain > ceiling:
            gain += min(LIMITER_LOSS_MAX, LIMITER_LOSS_PER_DB * (m.sample_peak + gain - ceiling))
    base_gain = gain
    notes: list[str] = []
    lufs = peak = None
    attempts = 0
    try:
        while True:
            attempts += 1
            # the music gets the same codec make-up and corrections as the speech
            shift = gain - base_gain
            graph = build_graph(segments, duration, channels=channels, sample_rate=job.sample_rate, gain_db=gain,
                                ceiling_db=ceiling, music=[(i, g + codec + shift, r) for i, g, r in music],
                                cleanup=cleanup)
            span = 0.65 / MAX_ATTEMPTS
            base = 0.3 + span * (attempts - 1)
            verified = apply_and_verify(encoding, tmp, inputs, graph, channels, expected,
                                        lambda f, b=base, s=span: report(b + s * f), label, meta_file)
            lufs, peak = verified.lufs, verified.true_peak
            if lufs is None or peak is None:
                raise KindcastError(f"{label}: the mastered audio could not be measured")
            over = peak - job.true_peak
            off = target - lufs
            if (over <= 0 and abs(off) <= LOUDNESS_TOLERANCE) or attempts >= MAX_ATTEMPTS:
                break
            notes.append(f"attempt {attempts}: {lufs:.1f} LUFS, {peak:.1f} dBTP; correcting")
            if over > 0:
                ceiling -= over + 0.2
            if abs(off) > 0.1:
                gain += off * (1.15 if off > 0 else 1.0)  # more gain, more limiting: aim a little past
        if abs(lufs - target) > LOUDNESS_WARN_LU:
            warnings.append(f"loudness {lufs:.1f} LUFS, {abs(lufs - target):.1f} LU from the target {target:g} "
                            f"after {attempts} attempt{'s' if attempts != 1 else ''}")
        if peak > job.true_peak + 0.05:
            raise KindcastError(f"{label}: could not bring the true peak under {job.true_peak:g} dBTP "
                                f"(measured {peak:.1f} after {attempts} attempts)")
        if job.write_file_tags:
            write_tags(tmp, job.fmt, job.tags, chapters, expected)
        from mutagen import File as MutagenFile

        audio = MutagenFile(str(tmp))
        published = float(audio.info.length) if audio is not None and audio.info else expected
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
        if meta_file is not None and meta_file.exists():
            meta_file.unlink()
        if envelope is not None and envelope.exists():
            envelope.unlink()
    parts = {"highpass_hz": cleanup.highpass_hz, "denoise_db": cleanup.denoise[0] if cleanup.denoise else None,
             "leveler": plan is not None, "pause_db": cleanup.pause_gate[1] if cleanup.pause_gate else None}
    loudness = loudness_report(m, verified, segments=segments, timeline=timeline, target=target,
                               true_peak_limit=job.true_peak, before_lufs=speech_lufs, noise_floor=floor,
                               turns=job.turns, cleanup=parts, duration=published)
    report(1.0)
    return MasterResult(
        file=out, fmt=job.fmt, mime=MIME[job.fmt], bytes=out.stat().st_size, duration=round(published, 3),
        lufs=lufs, true_peak=peak, channels=channels, timeline=timeline, chapters=chapters,
        source_duration=round(duration, 3), source_lufs=round(speech_lufs, 2), gain_db=round(gain, 2),
        limiter_ceiling=round(ceiling, 2), attempts=attempts, seconds=time.perf_counter() - started, notes=notes,
        report=loudness,
        warnings=warnings,
    )
