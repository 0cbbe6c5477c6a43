"""Word-timed captions for audiograms: group a transcript's words into short captions, write ASS.

Each caption shows a few words (at most two lines that fit the caption box); while a word is spoken it is drawn in
the highlight colour. One ASS event per spoken word keeps the highlight exact without karaoke effects, and every
event ends at or before the clip's end, so no caption outlives the clip.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from typing import Callable, Sequence

from pipeline.speech.transcript import Word, ends_sentence


def clip_words(words: Sequence[Word], start: float, duration: float) -> list[Word]:
    """Words spoken inside ``[start, start + duration)``, moved to clip time and cut at the clip's edges."""
    out = []
    for w in words:
        middle = (w.start + w.end) / 2
        if middle < start or w.start >= start + duration:
            continue
        s = max(0.0, w.start - start)
        e = min(duration, max(w.end - start, s))
        out.append(Word(s, e, w.text, w.speaker))
    return out


# --- grouping ------------------------------------------------------------------------------------------------------

_CLAUSE_END = re.compile(r"[,;:—–-][\"')\]]*$")


@dataclass(frozen=True)
class Caption:
    words: tuple[Word, ...]
    lines: tuple[tuple[int, int], ...]  # (first, last+1) word index per line
    start: float
    end: float


def group_words(
    words: Sequence[Word],
    measure: Callable[[str], float],
    max_width: float,
    max_words: int = 4,
    max_lines: int = 2,
    max_seconds: float = 3.2,
    pause: float = 0.7,
    clip_end: float | None = None,
) -> list[Caption]:
    """Split words into captions of a few words, breaking at sentence ends, long pauses, a change of speaker and what
    fits the box.

    ``measure(text)`` gives the drawn width of a line in the same units as ``max_width``.
    """
    groups: list[list[Word]] = []
    current: list[Word] = []
    for w in words:
        if current:
            prev = current[-1]
            candidate = current + [w]
            if (
                len(candidate) > max_words
                or w.start - prev.end > pause
                or w.speaker != prev.speaker  # one voice per caption
                or w.end - current[0].start > max_seconds
                or ends_sentence(prev.text)
                or (_CLAUSE_END.search(prev.text) and len(current) >= 2)
                or _layout(candidate, measure, max_width, max_lines) is None
            ):
                groups.append(current)
                current = []
        current.append(w)
    if current:
        groups.append(current)

    captions: list[Caption] = []
    for i, group in enumerate(groups):
        lines = _layout(group, measure, max_width, max_lines) or _force_layout(group, max_lines)
        start = group[0].start
        end = group[-1].end
        if i + 1 < len(groups):
            nxt = groups[i + 1][0].start
            # Hold a caption through a short pause so the screen does not blink between captions.
            end = nxt if nxt - end < 1.0 else end + 0.4
        else:
            end += 0.6
        if clip_end is not None:
            end = min(end, clip_end)
        if end > start:
            captions.append(Caption(tuple(group), tuple(lines), start, end))
    return captions


def _layout(group: Sequence[Word], measure, max_width: float, max_lines: int) -> list[tuple[int, int]] | None:
    """Line breaks for ``group`` within ``max_width``: one line if it fits, else the most balanced split."""
    texts = [w.text for w in group]
    if measure(" ".join(texts)) <= max_width:
        return [(0, len(texts))]
    if max_lines < 2 or len(texts) < 2:
        return None
    best = None
    for cut in range(1, len(texts)):
        a, b = measure(" ".join(texts[:cut])), measure(" ".join(texts[cut:]))
        if a <= max_width and b <= max_width:
            score = abs(a - b)
            if best is None or score < best[0]:
                best = (score, cut)
    if best is None:
        return None
    return [(0, best[1]), (best[1], len(texts))]


def _force_layout(group: Sequence[Word], max_lines: int) -> list[tuple[int, int]]:
    """A single word too wide for the box: it gets a line of its own (libass shrinks nothing; rare)."""
    if len(group) == 1 or max_lines < 2:
        return [(0, len(group))]
    half = len(group) // 2
    return [(0, half), (half, len(group))]


# --- ASS -----------------------------------------------------------------------------------------------------------

def ass_colour(rgb: tuple[int, int, int], alpha: int = 0) -> str:
    """ASS colours are &HAABBGGRR (alpha 0 = opaque)."""
    r, g, b = rgb
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def _tag_colour(rgb: tuple[int, int, int]) -> str:
    """The colour form of an override tag: ``&HBBGGRR&``."""
    r, g, b = rgb
    return f"&H{b:02X}{g:02X}{r:02X}&"


def ass_time(t: float) -> str:
    cs = max(0, int(t * 100 + 1e-6))  # floor: an end never rounds up past the clip
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    s, cs = divmod(rest, 100)
    return f"{h}:{m:02d}:{s:02d}.{cs:02d}"


def _escape(text: str) -> str:
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")").replace("\n", " ")


def _markup(text: str, runs, font: str) -> str:
    """A word for an ASS event: escaped, its pieces in other font families wrapped in ``\\fn`` switches."""
    if runs is None:
        return _escape(text)
    return "".join(f"{{\\fn{family}}}{_escape(piece)}{{\\fn{font}}}" if family else _escape(piece)
                   for piece, family in runs(text))


@dataclass(frozen=True)
class CaptionStyle:
    font: str
    size: int
    bold: bool
    colour: tuple[int, int, int]
    highlight: tuple[int, int, int]
    outline_colour: tuple[int, int, int]
    outline: float
    shadow: float
    line_spacing: float = 0.0  # extra pixels between lines (not used by libass styles; kept for layout)


def write_ass(
    captions: Sequence[Caption],
    width: int,
    height: int,
    style: CaptionStyle,
    centre: tuple[int, int],
    runs: Callable[[str], Sequence[tuple[str, str | None]]] | None = None,
) -> str:
    """An ASS script: one event per spoken word, the current word highlighted, captions centred at ``centre``.

    ``runs(text)`` cuts a word into (piece, font family or None for the style's font): pieces in another family are
    set in it with ``\\fn`` (characters the caption font lacks).
    """
    header = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 2",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
        "Style: Caption,{font},{size},{pc},{pc},{oc},{bc},{bold},0,0,0,100,100,0,0,1,{outline},{shadow},5,0,0,0,1".format(
            font=style.font, size=style.size, pc=ass_colour(style.colour), oc=ass_colour(style.outline_colour),
            bc=ass_colour(style.outline_colour, 0x60), bold=-1 if style.bold else 0, outline=style.outline,
            shadow=style.shadow),
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    hi, normal = _tag_colour(style.highlight), _tag_colour(style.colour)
    pos = f"{{\\an5\\pos({centre[0]},{centre[1]})}}"
    events = []
    for cap in captions:
        n = len(cap.words)
        for i, word in enumerate(cap.words):
            start = cap.start if i == 0 else word.start
            end = cap.words[i + 1].start if i + 1 < n else cap.end
            end = min(end, cap.end)
            if end - start < 0.01:
                continue
            lines = []
            for a, b in cap.lines:
                parts = []
                for j in range(a, b):
                    text = _markup(cap.words[j].text, runs, style.font)
                    parts.append(f"{{\\c{hi}}}{text}{{\\c{normal}}}" if j == i else text)
                lines.append(" ".join(parts))
            events.append(f"Dialogue: 0,{ass_time(start)},{ass_time(end)},Caption,,0,0,0,,{pos}" + "\\N".join(lines))
    return "\n".join(header + events) + "\n"
