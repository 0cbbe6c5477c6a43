"""Audiograms: short captioned videos of an audio clip, in three shapes, rendered by one ffmpeg filtergraph.

What a frame holds: a background (a colour, or the artwork filling the frame, dimmed), the artwork as a tile, the
show and episode title (drawn once with Pillow into the background image), an animated waveform (ffmpeg
``showwaves``, drawn small then scaled up), and word-timed captions (an ASS script rendered by libass with the
current word highlighted).

Speed: the background is decoded once and looped inside the filtergraph (looping a PNG at the demuxer decodes it
every frame, which alone costs as much as the whole encode); the mostly still picture is cheap for libx264.
Memory: the audio is read with an input seek (``-ss`` before ``-i``), so only the clip is decoded.
Fonts: libass gets ``fontsdir=`` with the fonts shipped by the ``font-lato`` wheel (SIL OFL 1.1), plus a folder the
theme may name; nothing depends on system fonts. A theme font that none of those folders holds is a KindcastError.
Characters the theme's font lacks (emoji, arrows, other scripts) are set in the Noto fonts of the ``manimgx-fonts``
wheel (:mod:`.glyphs`); any that no font has are left out and named in the clip's warnings, never drawn as boxes.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from pipeline.errors import KindcastError
from pipeline.show import SOUNDBITE_MAX as MAX_CLIP
from pipeline.show import SOUNDBITE_MIN as MIN_CLIP
from pipeline.speech.transcript import Word
from pipeline.video.captions import Caption, CaptionStyle, clip_words, group_words, write_ass
from pipeline.video.glyphs import Glyphs, TextFont, describe, fallback_dir, family_name, with_fallbacks

SHAPES: dict[str, tuple[int, int]] = {"square": (1080, 1080), "vertical": (1080, 1920), "landscape": (1920, 1080)}
WAVE_STYLES = ("cline", "line", "p2p", "point")


# --- theme ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Theme:
    """Everything about the look; ``settings.audiogram.theme`` overrides any field (colours as ``#RRGGBB``)."""

    background: str = "#16213E"  # used when there is no artwork, or behind it
    artwork_mode: str = "tile"  # tile: artwork as a square beside the titles; fill: artwork fills the frame, dimmed; none
    text: str = "#FFFFFF"  # captions and episode title
    highlight: str = "#FFC93C"  # the word being spoken
    accent: str = "#9AD0EC"  # show title
    outline: str = "#0B0F1A"  # caption outline
    waveform: str = "#9AD0EC"
    waveform_style: str = "cline"  # showwaves mode: cline (filled, centred), line, p2p, point
    waveform_opacity: float = 0.9
    font: str = "Lato"  # a font family found in the font folders
    fonts_dir: str = ""  # an extra folder of .ttf/.otf files (relative to the show's folder)
    caption_bold: int = 1
    caption_scale: float = 1.0  # multiplies the caption size of each shape
    words_per_caption: int = 4
    caption_lines: int = 2
    dim: float = 0.65  # how dark the artwork gets in fill mode (0: not at all, 1: black)

    @classmethod
    def from_settings(cls, values: Mapping[str, object] | None, where: str = "settings.audiogram.theme") -> "Theme":
        values = dict(values or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise KindcastError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(fields)})")
        kwargs = {}
        for key, value in values.items():
            kind = type(getattr(cls, key))
            try:
                kwargs[key] = kind(value)
            except (TypeError, ValueError):
                raise KindcastError(f"{where}.{key}: {value!r} is not a {kind.__name__}") from None
        theme = cls(**kwargs)
        for key in ("background", "text", "highlight", "accent", "outline", "waveform"):
            parse_colour(getattr(theme, key), f"{where}.{key}")
        if theme.waveform_style not in WAVE_STYLES:
            raise KindcastError(f"{where}.waveform_style: {theme.waveform_style!r} is not one of {', '.join(WAVE_STYLES)}")
        if theme.artwork_mode not in ("tile", "fill", "none"):
            raise KindcastError(f"{where}.artwork_mode: {theme.artwork_mode!r} is not one of tile, fill, none")
        if not 1 <= theme.words_per_caption <= 12:
            raise KindcastError(f"{where}.words_per_caption: must be 1 to 12")
        if not 1 <= theme.caption_lines <= 3:
            raise KindcastError(f"{where}.caption_lines: must be 1 to 3")
        if not 0.5 <= theme.caption_scale <= 2.0:
            raise KindcastError(f"{where}.caption_scale: must be 0.5 to 2")
        return theme

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def parse_colour(value: str, where: str = "colour") -> tuple[int, int, int]:
    text = str(value).strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        if len(text) != 6:
            raise ValueError
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise KindcastError(f"{where}: {value!r} is not a colour (use #RRGGBB)") from None


# --- fonts ---------------------------------------------------------------------------------------------------------

def packaged_fonts_dir() -> Path:
    try:
        import font_lato
    except ImportError:
        raise KindcastError("audiogram fonts are missing: pip install font-lato") from None
    return Path(font_lato.font_directory)


@dataclass(frozen=True)
class FontSet:
    family: str
    regular: Path
    bold: Path
    dirs: tuple[Path, ...]


def font_families(dirs: Sequence[Path]) -> dict[str, dict[str, Path]]:
    """{family: {style: file}} for every .ttf/.otf in ``dirs`` (names read from the font files themselves)."""
    from PIL import ImageFont

    found: dict[str, dict[str, Path]] = {}
    for folder in dirs:
        for path in sorted(Path(folder).iterdir()) if Path(folder).is_dir() else []:
            if path.suffix.lower() not in (".ttf", ".otf"):
                continue
            try:
                family, style = ImageFont.truetype(str(path), 12).getname()
            except OSError:
                continue
            if family:
                found.setdefault(family, {}).setdefault(style or "Regular", path)
    return found


def find_fonts(theme: Theme, base: Path | None = None, where: str = "settings.audiogram.theme.font") -> FontSet:
    """The theme's font family (regular and bold files) among the packaged fonts and ``theme.fonts_dir``."""
    dirs = [packaged_fonts_dir()]
    if theme.fonts_dir:
        extra = Path(theme.fonts_dir).expanduser()
        if not extra.is_absolute() and base is not None:
            extra = Path(base) / extra
        if not extra.is_dir():
            raise KindcastError(f"{where.rsplit('.', 1)[0]}.fonts_dir: {extra}: no such folder")
        dirs.insert(0, extra)
    families = font_families(dirs)
    styles = next((v for k, v in families.items() if k.lower() == theme.font.lower()), None)
    if not styles:
        raise KindcastError(f"{where}: {theme.font!r} is not installed (available: {', '.join(sorted(families))}; "
                            "add a folder of .ttf files with theme.fonts_dir or --fonts-dir)")
    regular = styles.get("Regular") or next(iter(styles.values()))
    bold = styles.get("Bold") or styles.get("Black") or regular
    family = next(k for k in families if k.lower() == theme.font.lower())
    return FontSet(family, regular, bold, tuple(dirs))


# --- layout --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    art: tuple[int, int, int] | None  # x, y, side
    title: tuple[int, int, int, str]  # x, y, width, align (left|center)
    title_size: int
    show_size: int
    caption_centre: tuple[int, int]
    caption_width: int
    caption_size: int
    wave: tuple[int, int, int, int]  # x, y, w, h


def layout_for(shape: str, has_art: bool) -> Layout:
    """Boxes per shape, inside each platform's safe area (vertical: clear of the top 220 px and the bottom 420 px,
    where TikTok/Reels/Shorts draw their own buttons and text; others: 6 % margins)."""
    w, h = SHAPES[shape]
    if shape == "square":
        m = 64
        art = (m, m, 240) if has_art else None
        tx = m + 240 + 40 if has_art else m
        return Layout(w, h, art, (tx, m + (20 if has_art else 0), w - tx - m, "left"), 54, 34,
                      (w // 2, 560), w - 2 * m - 40, 84, (m, 790, w - 2 * m, 200))
    if shape == "vertical":
        top, bottom, m = 220, 420, 72
        art = ((w - 480) // 2, top + 30, 480) if has_art else None
        ty = top + 30 + 480 + 40 if has_art else top + 120
        return Layout(w, h, art, (m, ty, w - 2 * m, "center"), 58, 36,
                      (w // 2, 1200 if has_art else 1000), w - 2 * m - 40, 88,
                      (m, h - bottom - 200, w - 2 * m, 180))
    m, top = 110, 70
    art = (m, 190, 600) if has_art else None
    col = m + 600 + 80 if has_art else m
    cw = w - col - m
    return Layout(w, h, art, (col, top + 30, cw, "left"), 58, 36,
                  (col + cw // 2, 520), cw - 20, 84, (col, 760, cw, 200))


# --- background (Pillow, once per clip and shape) ------------------------------------------------------------------

def _fit_lines(font: TextFont, text: str, width: int, max_lines: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        trial = f"{line} {word}".strip()
        if font.length(trial) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and font.length(last + "…") > width:
            last = last[:-1].rstrip()
        lines[-1] = last + "…"
    return lines


def draw_background(path: Path, lay: Layout, theme: Theme, fonts: FontSet, show_title: str, episode_title: str,
                    artwork: Path | None) -> None:
    from PIL import Image, ImageDraw, ImageOps

    bg = parse_colour(theme.background)
    img = Image.new("RGB", (lay.width, lay.height), bg)
    art_img = None
    if artwork is not None and theme.artwork_mode != "none":
        try:
            with Image.open(artwork) as src:
                art_img = src.convert("RGB")
        except OSError:
            raise KindcastError(f"{artwork}: artwork is not a readable image") from None
    if art_img is not None and theme.artwork_mode == "fill":
        cover = ImageOps.fit(art_img, (lay.width, lay.height), Image.LANCZOS)
        img = Image.blend(cover, Image.new("RGB", cover.size, (0, 0, 0)), max(0.0, min(1.0, theme.dim)))
    elif art_img is not None and lay.art is not None:
        x, y, side = lay.art
        img.paste(ImageOps.fit(art_img, (side, side), Image.LANCZOS), (x, y))
    draw = ImageDraw.Draw(img)
    tx, ty, tw, align = lay.title
    glyphs = with_fallbacks(fonts.bold)
    show_font = TextFont(glyphs, lay.show_size, bold=True)
    title_font = TextFont(glyphs, lay.title_size, bold=True)
    lines = [(t, show_font, parse_colour(theme.accent)) for t in _fit_lines(show_font, show_title.upper(), tw, 1)]
    lines += [(t, title_font, parse_colour(theme.text)) for t in _fit_lines(title_font, episode_title, tw, 3)]
    y = ty
    for text, font, colour in lines:
        if not text:
            continue
        x = tx + (tw - font.length(text)) / 2 if align == "center" else tx
        font.draw(draw, (x, y), text, colour)
        y += int(font.size * 1.25)
    img.save(path, "PNG", compress_level=1)


# --- captions ------------------------------------------------------------------------------------------------------

def caption_glyphs(theme: Theme, fonts: FontSet) -> Glyphs:
    """The caption font and its fallbacks."""
    return with_fallbacks(fonts.bold if theme.caption_bold else fonts.regular)


def caption_script(words: Sequence[Word], duration: float, lay: Layout, theme: Theme, fonts: FontSet) -> tuple[str, list[Caption]]:
    """The ASS script for clip-relative ``words``; every caption ends by ``duration``. Characters the caption font
    lacks are set in a fallback font (``\\fn``), or left out when no font has them."""
    from PIL import ImageFont

    size = int(round(lay.caption_size * theme.caption_scale))
    glyphs = caption_glyphs(theme, fonts)
    probe = ImageFont.truetype(str(glyphs.primary), 100)
    ascent, descent = probe.getmetrics()
    # libass sizes a font by its line height (ascent + descent), Pillow by its em: convert for measuring.
    em = size * 100 / max(1, ascent + descent)
    measure_font = TextFont(glyphs, max(8, int(round(em))), bold=bool(theme.caption_bold))
    outline = max(2.0, size / 18)
    words = [w for w in words if glyphs.runs(w.text)]  # a word made only of characters no font has
    captions = group_words(words, lambda t: measure_font.length(t) + 2 * outline, lay.caption_width,
                           max_words=theme.words_per_caption, max_lines=theme.caption_lines, clip_end=duration)
    style = CaptionStyle(fonts.family, size, bool(theme.caption_bold), parse_colour(theme.text),
                         parse_colour(theme.highlight), parse_colour(theme.outline), round(outline, 1), 0)

    def runs(text: str) -> list[tuple[str, str | None]]:
        return [(run, family_name(glyphs.fonts[i]) if i else None) for run, i in glyphs.runs(text)]

    return write_ass(captions, lay.width, lay.height, style, lay.caption_centre, runs), captions


def glyph_warnings(show_title: str, episode_title: str, words: Sequence[Word], theme: Theme,
                   fonts: FontSet) -> list[str]:
    """One line naming the characters that no font here can draw (left out of the video), or nothing."""
    places: dict[str, list[str]] = {}
    title = with_fallbacks(fonts.bold)
    for where, glyphs, texts in (("show title", title, [show_title.upper()]), ("episode title", title, [episode_title]),
                                 ("captions", caption_glyphs(theme, fonts), [w.text for w in words])):
        for text in texts:
            for ch in glyphs.missing(text):
                places.setdefault(ch, [])
                if where not in places[ch]:
                    places[ch].append(where)
    if not places:
        return []
    where = sorted({w for ws in places.values() for w in ws}, key=["show title", "episode title", "captions"].index)
    return [f"no font here can draw {describe(list(places))} (in the {' and '.join(where)}): "
            "left out of the video"]


# --- rendering -----------------------------------------------------------------------------------------------------

def _filter_path(path: Path) -> str:
    """A path quoted for an ffmpeg filter option value."""
    text = str(path)
    for ch in ("\\", ":", "'", ",", "[", "]", ";"):
        text = text.replace(ch, "\\" + ch)
    return text


def check_clip(audio_duration: float, start: float, duration: float, where: str = "clip", *,
               limits: bool = True) -> None:
    if limits and not MIN_CLIP <= duration <= MAX_CLIP:
        raise KindcastError(f"{where}: duration: {duration:g} s is out of range ({MIN_CLIP:g} to {MAX_CLIP:g} s)")
    if duration <= 0:
        raise KindcastError(f"{where}: duration: must be positive")
    if start < 0 or start + duration > audio_duration + 0.05:
        raise KindcastError(f"{where}: start: {start:g} s + {duration:g} s lies outside the audio "
                            f"({audio_duration:.1f} s long)")


def render(
    audio: Path,
    out: Path,
    *,
    start: float,
    duration: float,
    shape: str,
    words: Sequence[Word],
    show_title: str,
    episode_title: str,
    artwork: Path | None,
    theme: Theme,
    fonts: FontSet,
    fps: int = 30,
    ffmpeg: str | None = None,
    progress: Callable[[float], None] | None = None,
    workdir: Path | None = None,
) -> list[Caption]:
    """Render one shape of one clip to ``out`` (MP4: H.264 yuv420p, AAC-LC, faststart). ``words`` are clip-relative."""
    from pipeline.media import run_ffmpeg

    if shape not in SHAPES:
        raise KindcastError(f"size: {shape!r} is not one of {', '.join(SHAPES)}")
    lay = layout_for(shape, artwork is not None and theme.artwork_mode == "tile")
    with tempfile.TemporaryDirectory(prefix="audiogram-", dir=workdir) as tmp:
        tmp_dir = Path(tmp)
        bg_png = tmp_dir / "background.png"
        draw_background(bg_png, lay, theme, fonts, show_title, episode_title, artwork)
        script, captions = caption_script(words, duration, lay, theme, fonts)
        ass = tmp_dir / "captions.ass"
        ass.write_text(script, encoding="utf-8")
        wx, wy, ww, wh = lay.wave
        r, g, b = parse_colour(theme.waveform)
        alpha = max(0.0, min(1.0, theme.waveform_opacity))
        extra = fallback_dir()
        if extra is not None and caption_glyphs(theme, fonts).needs_fallback([w.text for w in words]):
            fonts = dataclasses.replace(fonts, dirs=fonts.dirs + (extra,))  # libass must see the fallback fonts
        fonts_arg = _filter_path(fonts.dirs[0]) if len(fonts.dirs) == 1 else _filter_path(_merged_fonts(fonts, tmp_dir))
        graph = (
            # The waveform is drawn at half size (cheaper), then scaled up.
            f"[0:a]asplit=2[aout][aw];"
            f"[aw]aformat=channel_layouts=mono,showwaves=s={ww // 2}x{wh // 2}:mode={theme.waveform_style}:rate={fps}"
            f":scale=cbrt:draw=full:colors=0x{r:02X}{g:02X}{b:02X}@{alpha:.2f},format=yuva420p,"
            f"scale={ww}:{wh}[wave];"
            # The background is decoded once and repeated: a still image costs libx264 almost nothing.
            f"[1:v]format=yuv420p,loop=loop=-1:size=1:start=0,settb=1/{fps},setpts=N[bg];"
            f"[bg][wave]overlay=x={wx}:y={wy}:shortest=1:format=yuv420:eof_action=endall,"
            f"ass=filename={_filter_path(ass)}:fontsdir={fonts_arg},format=yuv420p[vout]"
        )
        args = [
            "-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(audio),
            "-i", str(bg_png),
            "-filter_complex", graph,
            "-map", "[vout]", "-map", "[aout]",
            "-c:v", "libx264", "-preset", "veryfast", "-crf", "22", "-pix_fmt", "yuv420p", "-profile:v", "high",
            "-r", str(fps), "-g", str(fps * 2),
            "-c:a", "aac", "-profile:a", "aac_low", "-b:a", "160k", "-ar", "44100",
            "-t", f"{duration:.3f}", "-movflags", "+faststart",
        ]
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        run_ffmpeg(args + [str(out)], ffmpeg=ffmpeg, duration=duration, progress=progress, what=f"{out.name}")
    return captions


def _merged_fonts(fonts: FontSet, tmp_dir: Path) -> Path:
    """libass takes one fonts folder: link every font of every folder into one."""
    merged = tmp_dir / "fonts"
    merged.mkdir(exist_ok=True)
    for folder in fonts.dirs:
        for path in Path(folder).iterdir():
            if path.suffix.lower() in (".ttf", ".otf") and not (merged / path.name).exists():
                try:
                    os.symlink(path.resolve(), merged / path.name)
                except OSError:
                    import shutil

                    shutil.copy2(path, merged / path.name)
    return merged


# --- poster --------------------------------------------------------------------------------------------------------

def loudest_moment(audio: Path, start: float, duration: float, ffmpeg: str | None = None,
                   window: float = 0.4, skip: float = 0.5) -> float:
    """Clip-relative time of the loudest ``window`` of the clip (decoded at 8 kHz mono: bounded and cheap)."""
    import numpy as np

    from pipeline.media import ffmpeg_output

    rate = 8000
    pcm = ffmpeg_output(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(audio), "-vn", "-ac", "1",
                         "-ar", str(rate), "-f", "s16le", "pipe:1"], ffmpeg=ffmpeg,
                        what=f"{audio}: reading the clip's audio")
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    hop = int(window * rate)
    if samples.size < hop * 2:
        return min(duration / 2, max(0.0, duration - 0.1))
    n = samples.size // hop
    energy = (samples[: n * hop].reshape(n, hop) ** 2).mean(axis=1)
    first = min(n - 1, int(skip / window))
    last = max(first + 1, n - int(skip / window))
    best = first + int(np.argmax(energy[first:last]))
    return min(duration - 0.1, (best + 0.5) * window)


def extract_frame(video: Path, at: float, out: Path, ffmpeg: str | None = None) -> None:
    from pipeline.media import run_ffmpeg

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-ss", f"{at:.3f}", "-i", str(video), "-frames:v", "1", "-q:v", "3", str(out)], ffmpeg=ffmpeg,
               what=out.name)


# --- a whole clip --------------------------------------------------------------------------------------------------

@dataclass
class ClipResult:
    files: dict[str, Path]
    poster: Path | None
    poster_time: float
    captions: int
    words: list[Word]
    warnings: list[str] = dataclasses.field(default_factory=list)  # one line each (characters left out)


def make_clip(
    audio: Path,
    outputs: Mapping[str, Path],
    *,
    start: float,
    duration: float,
    words: Sequence[Word] | None,
    show_title: str,
    episode_title: str,
    artwork: Path | None = None,
    theme: Theme | None = None,
    fonts: FontSet | None = None,
    poster: Path | None = None,
    fps: int = 30,
    ffmpeg: str | None = None,
    progress: Callable[[float], None] | None = None,
    workdir: Path | None = None,
    check_limits: bool = True,
    transcribe: Callable[[Path, float, float], list[Word]] | None = None,
    audio_duration: float | None = None,
) -> ClipResult:
    """Render ``outputs`` ({shape: path}) for the clip ``[start, start + duration)`` of ``audio``, and a poster.

    ``words``: the transcript's words with times relative to the whole file; None transcribes the clip with
    ``transcribe(audio, start, duration)`` (default: :func:`transcribe_clip`). Each file is written atomically.
    """
    from pipeline.fsutil import atomic_path
    from pipeline.media import probe_audio

    theme = theme or Theme()
    fonts = fonts or find_fonts(theme)
    if audio_duration is None:
        audio_duration = probe_audio(audio).duration
    check_clip(audio_duration, start, duration, str(audio), limits=check_limits)
    if artwork is not None and not Path(artwork).is_file():
        raise KindcastError(f"{artwork}: artwork not found")
    for shape in outputs:
        if shape not in SHAPES:
            raise KindcastError(f"size: {shape!r} is not one of {', '.join(SHAPES)}")
    report = progress or (lambda f: None)
    steps = len(outputs) + (1 if words is None else 0)
    done = 0
    if words is None:
        words = (transcribe or transcribe_clip)(audio, start, duration)
        done += 1
        report(done / steps)
    local = clip_words(words, start, duration)
    files: dict[str, Path] = {}
    n_captions = 0
    for shape, path in outputs.items():
        base = done

        def part(f: float, base=base) -> None:
            report((base + f) / steps)

        with atomic_path(Path(path)) as tmp:
            caps = render(audio, tmp, start=start, duration=duration, shape=shape, words=local, show_title=show_title,
                          episode_title=episode_title, artwork=artwork, theme=theme, fonts=fonts, fps=fps,
                          ffmpeg=ffmpeg, progress=part, workdir=workdir)
        n_captions = len(caps)
        files[shape] = Path(path)
        done += 1
        report(done / steps)
    poster_time = loudest_moment(audio, start, duration, ffmpeg)
    if poster is not None and files:
        first = files.get("square") or next(iter(files.values()))
        with atomic_path(Path(poster)) as tmp:
            extract_frame(first, poster_time, tmp, ffmpeg)
    warnings = glyph_warnings(show_title, episode_title, local, theme, fonts)
    return ClipResult(files, poster, poster_time, n_captions, list(local), warnings)


def transcribe_clip(audio: Path, start: float, duration: float, model: str | None = None,
                    language: str = "en", speakers: Sequence[str] = (), workdir: Path | None = None) -> list[Word]:
    """Words of just the clip (whole-file times), by the transcriber of ``pipeline.speech.whisper`` on the clip alone.
    ``model``: a model folder (or None: the bundled tiny.en); ``workdir``: where the clip's audio is made."""
    from pipeline.media import run_ffmpeg
    from pipeline.speech.whisper import glossary_hotwords, resolve_model, transcribe_audio

    with tempfile.TemporaryDirectory(prefix="audiogram-asr-", dir=workdir) as tmp:
        wav = Path(tmp) / "clip.wav"
        run_ffmpeg(["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(audio), "-vn", "-ac", "1",
                    "-ar", "16000", str(wav)], what="clip audio")
        result = transcribe_audio(wav, model_dir=resolve_model(model), language=language, speakers=list(speakers),
                                  hotwords=glossary_hotwords(list(speakers)))  # names spelt right, as in a build
    return [Word(w.start + start, w.end + start, w.text, w.speaker) for w in result.words]


def output_names(out: Path, sizes: Sequence[str]) -> dict[str, Path]:
    """``-o OUT`` for one size is OUT itself (``.mp4`` added if missing); for several, ``OUT-<shape>.mp4``."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix.lower() == ".mp4" else out
    if len(sizes) == 1:
        return {sizes[0]: stem.with_name(stem.name + ".mp4")}
    return {s: stem.with_name(f"{stem.name}-{s}.mp4") for s in sizes}


def words_to_json(words: Sequence[Word]) -> str:
    return json.dumps({"version": "1.0.0", "segments": [
        {"startTime": round(w.start, 3), "endTime": round(w.end, 3), "body": w.text} for w in words]}, indent=1)
