"""The speech leveler's plan: a gain for every moment of the recording, from the loudness blocks already measured.

Quiet and loud speakers (and quiet and loud passages) are brought to the same loudness without lifting the noise in
the pauses. Everything is decided offline from the measure pass's 400 ms momentary-loudness blocks (100 ms apart),
so the leveler sees ahead as far as it likes and the audio itself still never passes through Python:

1. **noise floor**: a low percentile of the block loudnesses (the pauses between words and turns);
2. **speech blocks**: blocks more than ``SPEECH_ABOVE_NOISE`` LU above that floor;
3. **local speech loudness** of each speech block: an energy mean of the speech blocks within ``WINDOW`` seconds,
   each weighted by how close its loudness is to this block's (a bilateral filter: a turn change of several LU
   stays a sharp step, the ups and downs inside one voice are averaged out);
4. **gain** = target - that loudness, median-smoothed over a second, at most ``max_gain_db`` above and ``MAX_CUT_DB``
   below the gain of the loud speech (a quiet voice is lifted at most ``max_gain_db`` more than the loud one, however
   quiet the whole recording is: its overall level is the static gain's job);
5. **pauses** keep the lower of the neighbouring speech gains and never more than the gain of the loudest speech
   (its ``LOUD_PERCENTILE``), so the noise between a quiet speaker's sentences is not lifted with their voice.

The gains become an envelope (100 values a second, smoothed over about 100 ms) written as raw 32-bit floats; the
render pass reads it as a second input and multiplies (``amultiply``), streaming like everything else. A short
downward expander after it (render's ``agate``) lowers what is left in the pauses, at a finer grain than the blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.audio.measure import Measurement

BLOCK = 0.4  # seconds: the momentary block
HOP = 0.1  # seconds between blocks
NOISE_PERCENTILE = 2.0  # the noise floor: this percentile of the block loudnesses (digital silence left out); a
# conversation of long turns has few pauses (the 5th percentile sat 1.9 LU above the noise in one of a guest's long
# answers)
SILENT = -100.0  # LUFS given to digital silence
SPEECH_ABOVE_NOISE = 6.0  # LU above the noise floor that count as speech
# A "floor" closer than this to the loud speech (the LOUD_BLOCKS_PERCENTILE of the blocks) may be soft speech, not
# noise: a recording with few pauses (read speech, a monologue) has no quiet blocks to measure. The loud speech, not
# the integrated loudness: a quiet guest who talks most pulls the integrated loudness down towards the noise.
# Measured: the development interviews' noise sits 22-23 LU under the loud speech; LJSpeech's 5th percentile (soft
# words) 12.6 LU, and treated as noise it cost 2.1 WER points (its 2nd percentile, 20 LU under, costs 0.9).
MIN_FLOOR_GAP = 17.5
LOUD_BLOCKS_PERCENTILE = 95.0
# ... or a floor nearer the loud speech than that but steady is noise all the same: a guest who talks most, 11 LU
# under the host, has the noise only about 10 LU under their voice (and 15.7 LU under the loud speech). Measured, the
# quietest 2 % of the blocks (at least 2 s of them): within 0.1-0.5 LU of each other on the development interviews
# and the sample show (steady noise), 34.4 LU on LJSpeech, 11.8 on 11 s of clean espeak-ng speech (soft words).
STEADY_LU = 2.5
STEADY_BLOCKS = 20
STEADY_MIN_GAP = 10.0  # and something well above it: a steady tone or hum alone is the programme, not noise
WINDOW = 1.5  # seconds each side over which a speech block's loudness is averaged
SIMILAR_LU = 3.0  # bilateral weight width: blocks this far apart in loudness weigh exp(-1/2)
SMOOTH_BLOCKS = 5  # median over +-5 blocks (one second) of gains
MAX_CUT_DB = 12.0
LOUD_PERCENTILE = 2.0  # pauses never get more gain than this percentile of the speech gains (the loud speech, even
# when its speaker talks little: a host who asks short questions of a quiet guest's long answers)
ENVELOPE_RATE = 100  # envelope values per second
ENVELOPE_SMOOTH = 5  # two passes of a 50 ms moving average


@dataclass
class LevelPlan:
    """The leveler's decisions, in raw-recording time."""

    times: np.ndarray  # block centres (s)
    gains_db: np.ndarray  # gain at each block centre
    speech: np.ndarray  # bool: the block is speech
    noise_floor: float  # LUFS of the pauses (momentary blocks), before any processing
    speech_threshold: float  # LUFS above which a block counts as speech

    def gain_at(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, self.gains_db)

    def write_envelope(self, path: Path, duration: float, channels: int = 1) -> int:
        """Write the gain envelope (linear, float32 little-endian, ``ENVELOPE_RATE`` per second, interleaved
        ``channels``) covering ``duration`` seconds; returns the number of frames."""
        n = int(np.ceil(duration * ENVELOPE_RATE)) + ENVELOPE_RATE  # a second to spare: amultiply stops at the shorter
        with open(path, "wb") as fh:
            chunk = 360_000  # an hour at a time keeps memory flat for very long recordings
            kernel = np.ones(ENVELOPE_SMOOTH) / ENVELOPE_SMOOTH
            pad = 2 * ENVELOPE_SMOOTH
            for lo in range(0, n, chunk):
                hi = min(n, lo + chunk)
                a, b = max(0, lo - pad), min(n, hi + pad)
                t = np.arange(a, b) / ENVELOPE_RATE
                g = self.gain_at(t)
                g = np.convolve(np.convolve(g, kernel, "same"), kernel, "same")
                lin = (10 ** (g[lo - a: lo - a + (hi - lo)] / 20)).astype("<f4")
                if channels > 1:
                    lin = np.repeat(lin, channels)
                fh.write(lin.tobytes())
        return n


def noise_floor(values: np.ndarray) -> float:
    """The noise floor (LUFS) of momentary block loudnesses: a low percentile of the blocks that are not digital
    silence (an edit's or a padding's silence is no noise to remove); SILENT when all are."""
    v = np.asarray(values, dtype=float)
    v = v[v > SILENT]
    return float(np.percentile(v, NOISE_PERCENTILE)) if len(v) else SILENT


def loud_speech(values: np.ndarray) -> float:
    """The loudness (LUFS) of the loud speech among momentary block loudnesses: a high percentile."""
    v = np.maximum(np.asarray(values, dtype=float), SILENT)
    return float(np.percentile(v, LOUD_BLOCKS_PERCENTILE)) if len(v) else SILENT


def credible_floor(values: np.ndarray) -> bool:
    """Is the noise floor of these block loudnesses really the noise between words, rather than soft speech? It is
    when it lies well under the loud speech, or when it is steady (the quietest blocks, ``NOISE_PERCENTILE`` of them
    and at least ``STEADY_BLOCKS``, within ``STEADY_LU`` of each other, as steady noise is and soft words are not) and
    at least ``STEADY_MIN_GAP`` under the loud speech."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[v > SILENT]
    if not len(v):
        return False
    gap = loud_speech(v) - noise_floor(v)
    if gap >= MIN_FLOOR_GAP:
        return True
    k = max(int(np.ceil(len(v) * NOISE_PERCENTILE / 100)), STEADY_BLOCKS)
    return gap >= STEADY_MIN_GAP and len(v) >= k and float(v[k - 1] - v[0]) <= STEADY_LU


def without_noise(lufs: np.ndarray, floor: float) -> np.ndarray:
    """Block loudness with the noise floor's power taken out: what is left once the denoiser has removed it."""
    power = 10 ** (lufs / 10) - 10 ** (floor / 10)
    return np.where(lufs > floor + 0.2, 10 * np.log10(np.maximum(power, 10 ** ((floor - 20) / 10))), lufs)


def plan_levels(m: Measurement, target: float, *, max_gain_db: float = 18.0,
                segments: list[tuple[float, float]] | None = None, denoised: bool = False,
                floor: float | None = None) -> LevelPlan:
    """Gains that bring every stretch of speech to ``target`` LUFS (see the module docstring).

    ``segments`` (raw times): only what will be published decides the noise floor and the loud-speech gain.
    ``denoised``: the noise floor will be removed before the gains apply, so speech is levelled without it.
    ``floor``: the noise floor to use instead of the one measured here (when the measured one is not credible).
    """
    ends = np.frombuffer(m.block_end, dtype=float) if len(m.block_end) else np.zeros(0)
    lufs = np.maximum(np.frombuffer(m.block_lufs, dtype=float), SILENT) if len(m.block_lufs) else np.zeros(0)
    times = ends - BLOCK / 2
    kept = np.ones(len(times), bool)
    if segments:
        kept = np.zeros(len(times), bool)
        for s, e in segments:
            kept |= (ends - BLOCK >= s - 0.05) & (ends <= e + 0.05)
        if not kept.any():
            kept[:] = True
    if floor is None:
        floor = noise_floor(lufs[kept])
    threshold = floor + SPEECH_ABOVE_NOISE
    speech = lufs > threshold
    if denoised:
        lufs = without_noise(lufs, floor)
    gains = np.zeros(len(lufs))
    idx = np.flatnonzero(speech)
    if len(idx) == 0:
        return LevelPlan(times, gains, speech, floor, threshold)

    # 3. bilateral local loudness of each speech block (vectorised over a window of neighbours)
    half = int(round(WINDOW / HOP))
    offsets = np.arange(-half, half + 1)
    power = 10 ** (lufs / 10)
    local = np.empty(len(idx))
    time_w = np.exp(-0.5 * (offsets * HOP / (WINDOW / 2)) ** 2)
    step = 20000  # blocks at a time: bounded memory for very long recordings
    for lo in range(0, len(idx), step):
        rows = idx[lo:lo + step]
        j = rows[:, None] + offsets[None, :]
        valid = (j >= 0) & (j < len(lufs))
        jc = np.clip(j, 0, len(lufs) - 1)
        valid &= speech[jc]
        w = time_w[None, :] * np.exp(-0.5 * ((lufs[jc] - lufs[rows][:, None]) / SIMILAR_LU) ** 2) * valid
        local[lo:lo + step] = 10 * np.log10((w * power[jc]).sum(axis=1) / w.sum(axis=1))

    # the lift and the cut are counted from the loud speech's gain (its ``LOUD_PERCENTILE``), not from 0 dB: how loud
    # the whole recording is does not matter (the static gain after the plan brings it to the target), only how far a
    # quiet passage is under the loud speech
    wanted = target - local
    in_kept = kept[idx]
    loud_wanted = float(np.percentile(wanted[in_kept] if in_kept.any() else wanted, LOUD_PERCENTILE))
    raw = np.clip(wanted, loud_wanted - MAX_CUT_DB, loud_wanted + max_gain_db)
    # 4. median over neighbouring speech blocks (a second)
    full = np.full(len(lufs), np.nan)
    full[idx] = raw
    padded = np.pad(full, SMOOTH_BLOCKS, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * SMOOTH_BLOCKS + 1)[idx]
    smooth = np.nanmedian(windows, axis=1)
    gains[idx] = smooth

    # 5. pauses: the lower neighbouring speech gain, at most the loud speech's gain
    kept_speech = speech & kept
    loud_gain = float(np.percentile(gains[kept_speech] if kept_speech.any() else smooth, LOUD_PERCENTILE))
    pos = np.arange(len(lufs))
    prev_i = np.maximum.accumulate(np.where(speech, pos, -1))
    next_i = np.minimum.accumulate(np.where(speech, pos, len(lufs))[::-1])[::-1]
    prev_g = np.where(prev_i >= 0, gains[np.clip(prev_i, 0, None)], loud_gain)
    next_g = np.where(next_i < len(lufs), gains[np.clip(next_i, None, len(lufs) - 1)], loud_gain)
    pause_g = np.minimum(np.minimum(prev_g, next_g), loud_gain)
    gains = np.where(speech, gains, pause_g)
    return LevelPlan(times, gains, speech, floor, threshold)


def _block_gains(plan: LevelPlan) -> np.ndarray:
    """The gain each block's loudest part gets: the highest of the gains at its four 100 ms frames (a block that
    straddles a pause and speech is loud because of the speech, which gets the speech's gain)."""
    ends = plan.times + BLOCK / 2
    return np.max([plan.gain_at(ends - HOP * (i + 0.5)) for i in range(4)], axis=0)


LIMITER_LOSS = 1.0  # LU lost per dB that a block's frames exceed the limiter's ceiling, on average over its frames
# (fitted on the development interviews and the sample show at targets -14 to -23: first attempts then land within
# 0.3 LU of the loudness of the limited, encoded file)


def predicted_loudness(m: Measurement, plan: LevelPlan | None, segments: list[tuple[float, float]], gain_db: float,
                       ceiling_db: float, denoised: bool = False) -> float | None:
    """Integrated loudness of the kept blocks after the denoiser (``denoised``: the noise floor's power gone), the
    plan's gains, ``gain_db`` and a limiter at ``ceiling_db``: each block loses ``LIMITER_LOSS`` times the mean
    excess of its frames' true peaks over the ceiling."""
    from array import array

    from pipeline.audio.measure import loudness_of

    lufs = np.frombuffer(m.block_lufs, dtype=float) if len(m.block_lufs) else np.zeros(0)
    if denoised and plan is not None:
        lufs = without_noise(np.maximum(lufs, SILENT), plan.noise_floor)
    gains = _block_gains(plan) if plan is not None else np.zeros(len(lufs))
    moved = lufs + gains + gain_db
    if m.block_peak is not None and len(m.block_peak) == len(lufs) and len(lufs):
        frame_gain = plan.gain_at(np.frombuffer(m.block_end, dtype=float) - HOP / 2) if plan is not None else 0.0
        excess = np.maximum(0.0, np.frombuffer(m.block_peak, dtype=float) + frame_gain + gain_db - ceiling_db)
        moved = moved - LIMITER_LOSS * np.convolve(excess, np.ones(4) / 4, "full")[: len(excess)]
    moved = np.where(lufs > SILENT, moved, lufs)
    return loudness_of(Measurement(m.duration, m.block_end, array("d", moved.tolist()), [], None), segments)


def gain_for(m: Measurement, plan: LevelPlan | None, segments: list[tuple[float, float]], target: float,
             ceiling_db: float, denoised: bool = False) -> float | None:
    """The static gain (dB) after the plan that brings the limited loudness to ``target`` (a few secant steps)."""
    gain = 0.0
    for _ in range(6):
        got = predicted_loudness(m, plan, segments, gain, ceiling_db, denoised)
        if got is None:
            return None
        off = target - got
        if abs(off) < 0.02:
            break
        gain += off * 1.1
    return gain
