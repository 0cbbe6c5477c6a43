"""Transcript formats: the word list, and the files players read (Podcasting 2.0 JSON, WebVTT, SRT, plain text).

Light on purpose (no model, no numpy): later stages read ``transcript.json`` back with :func:`load_words`.

- ``transcript.json``: ``{"version": "1.0.0", "segments": [{"startTime", "endTime", "body", "speaker"?}]}``, one
  segment per word, times in seconds (the Podcasting 2.0 JSON transcript format).
- ``transcript.vtt`` / ``.srt``: cues of readable length (at most two lines of ``LINE_CHARS`` characters, at most
  ``CUE_SECONDS`` long), split at sentence ends, pauses and speaker changes; VTT carries ``<v Speaker>`` voice tags
  and SRT a ``Speaker:`` prefix when speakers are known.
- ``transcript.txt``: paragraphs, each starting with the speaker's name when known.
"""
from __future__ import annotations

import json
import math
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from pipeline.errors import KindcastError
from pipeline.fsutil import write_text
from pipeline.timeline import format_timestamp

JSON_VERSION = "1.0.0"
LINE_CHARS = 42  # per cue line (the usual subtitle width; well under the ~65 players tolerate)
CUE_LINES = 2
CUE_SECONDS = 7.0
CUE_GAP = 1.2  # a pause this long (seconds) starts a new cue
PARAGRAPH_GAP = 2.5  # ... and this long a new paragraph in the text file
PARAGRAPH_CHARS = 600  # a paragraph longer than this ends at the next sentence end


@dataclass(frozen=True)
class Word:
    """One word as spoken: published-audio times in seconds, its text (with punctuation), and who said it if known."""

    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True)
class Sentence:
    """A sentence of a transcript (or of plain text, without times): its words joined, where it starts and ends in
    the published audio, and who said it if known."""

    text: str
    start: float | None = None
    end: float | None = None
    speaker: str | None = None

    def to_json(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None
    words: tuple[Word, ...] = ()


# --- JSON ------------------------------------------------------------------------------------------------------------

def to_json(words: list[Word]) -> str:
    segments = []
    for w in words:
        seg = {"startTime": round(w.start, 3), "endTime": round(w.end, 3), "body": w.text}
        if w.speaker:
            seg["speaker"] = w.speaker
        segments.append(seg)
    return json.dumps({"version": JSON_VERSION, "segments": segments}, ensure_ascii=False, indent=1) + "\n"


def load_words(path: Path) -> list[Word]:
    """The words of a ``transcript.json`` (Podcasting 2.0), in time order. Raises KindcastError naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KindcastError(f"{path}: no such transcript") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KindcastError(f"{path}: not a readable JSON transcript ({exc})") from None
    segments = data.get("segments") if isinstance(data, dict) else None
    if not isinstance(segments, list):
        raise KindcastError(f"{path}: segments: not a Podcasting 2.0 transcript (expected an object with a "
                            "'segments' list)")
    return words_from_segments(segments, str(path))


def _seconds(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise KindcastError(f"{where}: expected a number of seconds, got {value!r}")
    return float(value)


def words_from_segments(segments: Iterable[dict], where: str = "transcript") -> list[Word]:
    """Words of Podcasting 2.0 segments, in time order. Segments are usually one word each; a segment holding
    several words has its time shared out by word length."""
    words: list[Word] = []
    for i, seg in enumerate(segments):
        if not isinstance(seg, dict):
            raise KindcastError(f"{where}: segments[{i}]: expected an object with startTime, endTime and body")
        start = _seconds(seg.get("startTime"), f"{where}: segments[{i}].startTime")
        end = _seconds(seg.get("endTime"), f"{where}: segments[{i}].endTime")
        body = seg.get("body")
        if not isinstance(body, str):
            raise KindcastError(f"{where}: segments[{i}].body: expected text, got {body!r}")
        speaker = str(seg["speaker"]) if seg.get("speaker") else None
        parts = body.split()
        end = max(end, start)
        if len(parts) == 1:
            words.append(Word(start, end, parts[0], speaker))
            continue
        total = sum(len(p) for p in parts)
        cursor = start
        for part in parts:
            share = (end - start) * len(part) / total
            words.append(Word(cursor, cursor + share, part, speaker))
            cursor += share
    words.sort(key=lambda w: (w.start, w.end))
    return words


_ENDS_SENTENCE = re.compile(r"[.!?…][\"')\]]*$")
_ABBREVIATION = re.compile(r"\b(?:Mr|Mrs|Ms|Dr|St|Prof|Sr|Jr|vs|etc|e\.g|i\.e|No|Cllr)\.$", re.IGNORECASE)


def ends_sentence(text: str) -> bool:
    """Does a word (with its punctuation) end a sentence? ``"Dr."`` and the like do not."""
    return bool(_ENDS_SENTENCE.search(text)) and not _ABBREVIATION.search(text)


def sentences(words: Sequence[Word], pause: float = 1.0) -> list[Sentence]:
    """Words grouped into sentences: one ends at terminal punctuation, at a change of speaker, or at a pause of at
    least ``pause`` seconds."""
    out: list[Sentence] = []
    current: list[Word] = []
    for i, w in enumerate(words):
        current.append(w)
        nxt = words[i + 1] if i + 1 < len(words) else None
        if nxt is None or ends_sentence(w.text) or nxt.start - w.end >= pause or nxt.speaker != w.speaker:
            out.append(Sentence(" ".join(x.text for x in current), current[0].start, current[-1].end, w.speaker))
            current = []
    return out


# --- cues ------------------------------------------------------------------------------------------------------------

def _wrap(text: str) -> list[str]:
    return textwrap.wrap(text, LINE_CHARS, break_long_words=False, break_on_hyphens=False) or [text]


def _fits(words: list[Word]) -> bool:
    return len(_wrap(" ".join(w.text for w in words))) <= CUE_LINES


def make_cues(words: list[Word]) -> list[Cue]:
    """Group words into subtitle cues. Each speaker's words are grouped on their own (speech may overlap on a stereo
    recording), then all cues are put in time order."""
    by_speaker: dict[str | None, list[Word]] = {}
    for w in words:
        by_speaker.setdefault(w.speaker, []).append(w)
    cues: list[Cue] = []
    for speaker, stream in by_speaker.items():
        current: list[Word] = []

        def close() -> None:
            if current:
                text = " ".join(w.text for w in current)
                cues.append(Cue(current[0].start, max(current[-1].end, current[0].start + 0.001),
                                tuple(_wrap(text)), speaker, tuple(current)))
                current.clear()

        for w in stream:
            if current:
                last = current[-1]
                if (w.start - last.end > CUE_GAP or w.end - current[0].start > CUE_SECONDS
                        or not _fits(current + [w])):
                    close()
            current.append(w)
            if ends_sentence(w.text) and sum(len(x.text) + 1 for x in current) >= LINE_CHARS // 2:
                close()
        close()
    cues.sort(key=lambda c: (c.start, c.end))
    return cues



def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timed_lines(cue: Cue) -> list[str]:
    """The cue's lines with a WebVTT timestamp tag (``<00:01:02.500>``) before every word but the first, so players
    that support it can highlight each word as it is spoken. Falls back to the plain lines if the words do not match
    the wrapped text."""
    plain = [_vtt_escape(line) for line in cue.lines]
    if not cue.words or sum(len(line.split()) for line in cue.lines) != len(cue.words):
        return plain
    words = iter(cue.words)
    last = cue.start
    out = []
    for line in cue.lines:
        parts = []
        for token in line.split():
            word = next(words)
            if word.text != token:
                return plain
            at = min(max(word.start, last), cue.end)
            if parts or out:
                if at > last and at < cue.end:
                    parts.append(f"<{format_timestamp(at)}>{_vtt_escape(token)}")
                    last = at
                    continue
            parts.append(_vtt_escape(token))
        out.append(" ".join(parts))
    return out


def to_vtt(words: list[Word]) -> str:
    """WebVTT: one cue per line group, ``<v Name>`` when the speaker is known, and each word's start time inline."""
    out = ["WEBVTT", ""]
    for i, cue in enumerate(make_cues(words), 1):
        out.append(str(i))
        out.append(f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}")
        lines = _timed_lines(cue)
        if cue.speaker:
            voice = _vtt_escape(cue.speaker)
            lines[0] = f"<v {voice}>{lines[0]}"
        out.extend(lines)
        out.append("")
    return "\n".join(out) + ("\n" if len(out) == 2 else "")


def to_srt(words: list[Word]) -> str:
    out = []
    for i, cue in enumerate(make_cues(words), 1):
        lines = list(cue.lines)
        if cue.speaker:
            lines[0] = f"{cue.speaker}: {lines[0]}"
        out.append(f"{i}\n{format_timestamp(cue.start, ',')} --> {format_timestamp(cue.end, ',')}\n" + "\n".join(lines) + "\n")
    return "\n".join(out)


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of a transcript: its words (one speaker's), where it starts and ends in the published audio."""

    start: float
    end: float
    speaker: str | None
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def paragraphs(words: Sequence[Word], max_chars: int = PARAGRAPH_CHARS, gap: float = PARAGRAPH_GAP) -> list[Paragraph]:
    """Words grouped into paragraphs: a new one at a pause of more than ``gap`` seconds, or at a sentence end once
    the paragraph is longer than ``max_chars``. Each speaker's words make their own paragraphs (speech may overlap),
    put in order of their first word."""
    by_speaker: dict[str | None, list[Word]] = {}
    for w in sorted(words, key=lambda w: (w.start, w.end)):
        by_speaker.setdefault(w.speaker, []).append(w)
    groups: list[tuple[str | None, list[Word]]] = []
    for speaker, stream in by_speaker.items():
        last: Word | None = None
        length = 0
        for w in stream:
            if last is None or w.start - last.end > gap or (length > max_chars and ends_sentence(last.text)):
                groups.append((speaker, []))
                length = 0
            groups[-1][1].append(w)
            length += len(w.text) + 1
            last = w
    groups.sort(key=lambda g: (g[1][0].start, g[1][0].end))
    return [Paragraph(ws[0].start, max(w.end for w in ws), speaker, tuple(ws)) for speaker, ws in groups]


def to_text(words: list[Word]) -> str:
    """Paragraphs (see :func:`paragraphs`), each starting with the speaker's name when known."""
    blocks = []
    for para in paragraphs(words):
        body = f"{para.speaker}: {para.text}" if para.speaker else para.text
        blocks.append(textwrap.fill(body, 80, break_long_words=False, break_on_hyphens=False))
    return "\n\n".join(blocks) + "\n" if blocks else ""


FILES = {"json": "transcript.json", "vtt": "transcript.vtt", "srt": "transcript.srt", "txt": "transcript.txt"}


def write_all(words: list[Word], out_dir: Path, names: dict[str, str] | None = None) -> dict[str, str]:
    """Write every format into ``out_dir`` atomically (unchanged files are left alone). Returns {format: file name}."""
    names = names or FILES
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    render = {"json": to_json, "vtt": to_vtt, "srt": to_srt, "txt": to_text}
    for kind, name in names.items():
        write_text(out_dir / name, render[kind](words))
    return dict(names)
