"""Which characters a font can draw, and which font draws the others.

An audiogram's titles (drawn with Pillow) and captions (drawn by libass) are set in the theme's font, Lato by
default, which has no emoji, no arrows, no Arabic or Devanagari. A character a font lacks is drawn as an empty box
(Pillow) or, by libass, in whatever system font fontconfig offers, or as a box when there is none. So each text is
cut into runs, each set in the first font that has its characters: the theme's font, then the Noto fonts of the
``manimgx-fonts`` wheel (Noto Sans, Noto Emoji, Noto Sans Symbols and Noto Sans for 19 scripts, SIL OFL 1.1); a
character none of them has is left out, and named in a warning, rather than drawn as a box. Which characters a font
has is read from its character map with fontTools.
"""
from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# Never drawn, so never missing: joiners, variation selectors, tag characters (they shape emoji sequences).
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5),
              (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x206F), (0xFE00, 0xFE0F),
              (0xFEFF, 0xFEFF), (0x1BCA0, 0x1BCA3), (0xE0000, 0xE0FFF))
# The order fallbacks are tried in: Latin, Greek and Cyrillic first, then emoji before symbols (both have some of
# the same characters, and the emoji's look is the one meant), then the scripts, by name.
_FIRST = ("NotoSans[wght].ttf", "NotoEmoji[wght].ttf", "NotoSansSymbols[wght].ttf")


def ignorable(ch: str) -> bool:
    code = ord(ch)
    return any(a <= code <= b for a, b in _IGNORABLE)


def attaches(ch: str) -> bool:
    """A character drawn with the one before it (a combining mark, a joiner, a variation selector)."""
    return ignorable(ch) or unicodedata.category(ch) in ("Mn", "Me", "Mc")


@functools.lru_cache(maxsize=64)
def font_chars(path: Path) -> frozenset[int]:
    """The code points ``path`` has a glyph for (its best character map)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True, fontNumber=0) as font:
        return frozenset((font.getBestCmap() or {}).keys())


@functools.lru_cache(maxsize=64)
def family_name(path: Path) -> str:
    """The family name libass matches a font by (FreeType's, as Pillow reads it)."""
    from PIL import ImageFont

    return ImageFont.truetype(str(path), 12).getname()[0] or Path(path).stem


def fallback_dir() -> Path | None:
    """The folder of Noto fonts shipped by the ``manimgx-fonts`` wheel, or None when it is not installed."""
    try:
        import manimgx_fonts
    except ImportError:
        return None
    return Path(manimgx_fonts.__file__).parent


@functools.lru_cache(maxsize=1)
def fallback_fonts() -> tuple[Path, ...]:
    """The fallback fonts in the order they are tried (upright only)."""
    folder = fallback_dir()
    if folder is None:
        return ()
    found = {p.name: p for p in folder.iterdir() if p.suffix.lower() in (".ttf", ".otf") and "Italic" not in p.name}
    first = [found.pop(name) for name in _FIRST if name in found]
    return tuple(first + [found[name] for name in sorted(found)])


@dataclass(frozen=True)
class Glyphs:
    """A font and its fallbacks: which of them draws each character of a text."""

    primary: Path
    fallbacks: tuple[Path, ...] = ()

    @property
    def fonts(self) -> tuple[Path, ...]:
        return (self.primary, *self.fallbacks)

    def font_for(self, ch: str) -> int | None:
        """Index into ``fonts`` of the first font that has ``ch``; None when none has it."""
        code = ord(ch)
        for i, path in enumerate(self.fonts):
            if code in font_chars(path):
                return i
        return None

    def runs(self, text: str) -> list[tuple[str, int]]:
        """``text`` as (run, font index) pieces; characters no font has are left out. Spaces are set in the main
        font; marks, joiners and variation selectors go with the character before them."""
        text = unicodedata.normalize("NFC", text)
        runs: list[list] = []
        for ch in text:
            if runs and attaches(ch):
                runs[-1][0] += ch
                continue
            if ch.isspace() or ignorable(ch):
                index: int | None = 0
            else:
                index = self.font_for(ch)
            if index is None:
                continue
            if runs and runs[-1][1] == index:
                runs[-1][0] += ch
            else:
                runs.append([ch, index])
        return [(run, index) for run, index in runs]

    def missing(self, text: str) -> list[str]:
        """The characters of ``text`` that no font here has (each once, in order)."""
        seen: list[str] = []
        for ch in unicodedata.normalize("NFC", text):
            if ch.isspace() or attaches(ch) or ch in seen:
                continue
            if self.font_for(ch) is None:
                seen.append(ch)
        return seen

    def needs_fallback(self, texts: Sequence[str]) -> bool:
        return any(index for text in texts for _, index in self.runs(text))


def with_fallbacks(primary: Path) -> Glyphs:
    return Glyphs(Path(primary), fallback_fonts())


def describe(chars: Sequence[str]) -> str:
    """'🫠 (U+1FAE0), ꙮ (U+A66E)'"""
    return ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in chars)


class TextFont:
    """Pillow fonts for a text set in a font and its fallbacks, at one size: measures and draws runs on a common
    baseline. ``bold`` sets variable fallback fonts to weight 700 (the main font is chosen bold by its file)."""

    def __init__(self, glyphs: Glyphs, size: int, bold: bool = False):
        self.glyphs = glyphs
        self.size = size
        self.bold = bold
        self._fonts: dict[int, object] = {}

    def font(self, index: int):
        from PIL import ImageFont

        if index not in self._fonts:
            font = ImageFont.truetype(str(self.glyphs.fonts[index]), self.size)
            if index and self.bold:
                _embolden(font)
            self._fonts[index] = font
        return self._fonts[index]

    def length(self, text: str) -> float:
        return sum(self.font(i).getlength(run) for run, i in self.glyphs.runs(text))

    def draw(self, draw, xy: tuple[float, float], text: str, fill) -> None:
        """Draw ``text`` with its top-left at ``xy`` (the main font's ascent above the common baseline)."""
        x, y = xy
        baseline = y + self.font(0).getmetrics()[0]
        for run, i in self.glyphs.runs(text):
            draw.text((x, baseline), run, font=self.font(i), fill=fill, anchor="ls")
            x += self.font(i).getlength(run)


def _embolden(font) -> None:
    """Set a variable font's weight axis to bold (700, or its heaviest); other fonts keep their own weight."""
    try:
        axes = font.get_variation_axes()
    except OSError:
        return  # not a variable font
    values = []
    for axis in axes:
        name = axis.get("name", b"")
        name = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        values.append(max(axis["minimum"], min(axis["maximum"], 700)) if name.lower() == "weight" else axis["default"])
    font.set_variation_by_axes(values)
