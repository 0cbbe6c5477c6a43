"""Audiograms: real renders with the real ffmpeg, checked with PyAV (streams, size, duration, atom order) and read
back by tesseract OCR; captions and clip choice as data; bad input through the real CLI.

The one long render (60 s square of real speech, transcribed by the real Whisper model) carries the OCR check; the
other shapes are rendered as short clips through the core renderer (the 15 s minimum is a rule of the command and
the stage, tested separately), so the file stays within its time budget.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from conftest import SPEECH, make_artwork, make_show, needs_speech, synth, write_episode

LJ = SPEECH / "ljspeech_LJ001-0001_to_0032.16k.flac"
LJ_TEXT = SPEECH / "ljspeech_LJ001-0001_to_0032.16k.txt"


# --- helpers -------------------------------------------------------------------------------------------------------

def top_level_atoms(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order, read from the bytes."""
    names, data = [], Path(path).read_bytes()
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8:pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        names.append(kind)
        if size < 8:
            break
        pos += size
    return names


def check_video(path: Path, size: tuple[int, int], duration: float) -> None:
    import av

    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264"
        assert v.codec_context.pix_fmt == "yuv420p"
        assert (v.codec_context.width, v.codec_context.height) == size
        assert abs(float(v.average_rate) - 30) < 0.01
        assert a.codec_context.name == "aac"
        assert a.codec_context.profile == "LC"
        vdur = float(v.duration * v.time_base)
        adur = float(a.duration * a.time_base)
        assert abs(vdur - duration) <= 0.25, vdur
        assert abs(adur - duration) <= 0.25, adur
        assert abs(c.duration / 1e6 - duration) <= 0.25
    atoms = top_level_atoms(path)
    assert "moov" in atoms and "mdat" in atoms
    assert atoms.index("moov") < atoms.index("mdat"), atoms


def frame_at(path: Path, t: float):
    """The decoded frame at ``t`` seconds, as a PIL image."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        c.seek(int(max(0.0, t - 1.0) / v.time_base), stream=v)
        for frame in c.decode(v):
            if frame.time is not None and frame.time >= t - 1e-3:
                return frame.to_image()
    raise AssertionError(f"no frame at {t}")


def ocr_words(img) -> list[str]:
    """Words tesseract reads in ``img`` (made dark text on white first)."""
    from PIL import ImageOps

    gray = ImageOps.grayscale(img)
    bw = gray.point(lambda p: 0 if p > 140 else 255)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "frame.png"
        bw.save(png)
        out = subprocess.run(["tesseract", str(png), "stdout", "--psm", "6"], capture_output=True, text=True,
                             check=True).stdout
    return [w for w in re.findall(r"[a-z]+", out.lower()) if len(w) >= 3]


def norm(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


# --- the 60 s square render: formats and OCR ----------------------------------------------------------------------

@needs_speech
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract-ocr (Debian package)")
def test_square_60s_captions_follow_speech(tmp_path):
    from pipeline.video.audiogram import make_clip

    art = make_artwork(tmp_path / "art.png", 1400, (40, 120, 90))
    out = tmp_path / "clip-square.mp4"
    poster = tmp_path / "clip.jpg"
    start = 20.0
    result = make_clip(LJ, {"square": out}, start=start, duration=60.0, words=None, show_title="Test Show",
                       episode_title="The art of printing", artwork=art, poster=poster)
    check_video(out, (1080, 1080), 60.0)

    # The clip was transcribed by the real model: its words are the reader's text.
    reference = set(norm(w) for w in LJ_TEXT.read_text().split())
    spoken = [norm(w.text) for w in result.words if norm(w.text)]
    assert len(spoken) > 100
    assert sum(w in reference for w in spoken) / len(spoken) > 0.85

    for t in (10.0, 30.0, 50.0):
        seen = [w for w in ocr_words(frame_at(out, t).crop((0, 380, 1080, 740)))]
        # On screen: the caption holding the word spoken at t (a caption spans at most ~3.2 s, held over short pauses).
        near = {norm(w.text) for w in result.words if w.start <= t + 3.5 and w.end >= t - 4.0}
        far = {norm(w.text) for w in result.words if abs(w.start - t) > 8.0} - near
        hits = [w for w in seen if w in near]
        assert hits and len(hits) * 2 >= len(seen), (t, seen, sorted(near))
        assert len(hits) > len([w for w in seen if w in far]), (t, seen)
        spoken_now = [norm(w.text) for w in result.words if w.start <= t][-3:]  # the word at t and the two before
        assert any(w in seen for w in spoken_now if len(w) >= 3) or len(hits) >= 2, (t, seen, spoken_now)

    # The poster is the loudest moment, a real frame (not a blank one) of the square video.
    from PIL import Image, ImageStat

    assert 0.5 <= result.poster_time <= 59.5
    with Image.open(poster) as img:
        assert img.format == "JPEG" and img.size == (1080, 1080)
        assert max(ImageStat.Stat(img.convert("L")).stddev) > 20  # text, artwork and waveform on it


# --- every shape, short clips ---------------------------------------------------------------------------------------

@needs_speech
@pytest.mark.slow
def test_vertical_and_landscape_short_clip(tmp_path):
    from pipeline.video.audiogram import make_clip
    from pipeline.speech.transcript import Word

    words = [Word(3.0 + 0.5 * i, 3.4 + 0.5 * i, w) for i, w in enumerate("kindness is a daily practice".split())]
    outs = {"vertical": tmp_path / "v.mp4", "landscape": tmp_path / "l.mp4"}
    result = make_clip(LJ, outs, start=3.0, duration=4.0, words=words, show_title="Show", episode_title="Episode",
                       artwork=None, poster=tmp_path / "p.jpg", check_limits=False)
    check_video(outs["vertical"], (1080, 1920), 4.0)
    check_video(outs["landscape"], (1920, 1080), 4.0)
    assert (tmp_path / "p.jpg").stat().st_size > 1000
    assert [w.text for w in result.words] == "kindness is a daily practice".split()


# --- captions as data ----------------------------------------------------------------------------------------------

def _ass_events(script: str) -> list[tuple[float, float, str]]:
    events = []
    for line in script.splitlines():
        if line.startswith("Dialogue:"):
            parts = line.split(",", 9)
            t = [sum(float(x) * m for x, m in zip(p.split(":"), (3600, 60, 1))) for p in parts[1:3]]
            events.append((t[0], t[1], parts[9]))
    return events


def test_captions_highlight_each_word_and_never_outlive_the_clip():
    from pipeline.video.audiogram import Theme, caption_script, find_fonts, layout_for
    from pipeline.speech.transcript import Word
    from pipeline.video.captions import clip_words

    text = ("Printing, in the only sense with which we are at present concerned, differs from most if not from all "
            "the arts and crafts represented in the Exhibition").split()
    words = [Word(100 + 0.4 * i, 100.3 + 0.4 * i, w) for i, w in enumerate(text)]
    local = clip_words(words, 101.0, 6.0)  # cuts both ends
    assert local[0].start >= 0 and all(w.end <= 6.0 for w in local)
    assert local[0].text == text[3] and len(local) == 15
    theme = Theme()
    script, captions = caption_script(local, 6.0, layout_for("square", True), theme, find_fonts(theme))
    events = _ass_events(script)
    assert max(e for _, e, _ in events) <= 6.0
    assert all(len(c.words) <= theme.words_per_caption for c in captions)
    assert len(events) == len(local)  # one event per spoken word
    highlight = r"\c&H3CC9FF&"  # #FFC93C as &HBBGGRR&
    for (s, e, body), word in zip(events, local):
        assert "{" + highlight + "}" + word.text in body
        assert body.count(highlight) == 1
        assert s <= word.start + 0.011 and e > s
    assert "Printing," not in script  # before the clip
    # A sentence end starts a new caption.
    words = [Word(0, 0.3, "Hello."), Word(0.4, 0.7, "New"), Word(0.8, 1.0, "start")]
    _, caps = caption_script(words, 15.0, layout_for("vertical", False), theme, find_fonts(theme))
    assert [[w.text for w in c.words] for c in caps] == [["Hello."], ["New", "start"]]


def test_theme_and_fonts_errors(tmp_path):
    from pipeline.video.audiogram import Theme, find_fonts
    from pipeline.errors import KindcastError

    with pytest.raises(KindcastError, match=r"settings.audiogram.theme.font: 'Comic Sans MS' is not installed"):
        find_fonts(Theme.from_settings({"font": "Comic Sans MS"}))
    with pytest.raises(KindcastError, match="highlight: 'yellowish' is not a colour"):
        Theme.from_settings({"highlight": "yellowish"})
    with pytest.raises(KindcastError, match="unknown key 'colour'"):
        Theme.from_settings({"colour": "#fff"})
    # A show's own font folder: the font is found by the family name inside the file.
    from pipeline.video.audiogram import packaged_fonts_dir

    own = tmp_path / "templates" / "fonts"
    own.mkdir(parents=True)
    shutil.copy(packaged_fonts_dir() / "Lato-Black.ttf", own / "x.ttf")
    fonts = find_fonts(Theme.from_settings({"fonts_dir": "templates/fonts"}), tmp_path)
    assert fonts.dirs[0] == own


# --- characters the caption font lacks ------------------------------------------------------------------------

MIXED = "Tea ☕ with 👩\u200d💻 → مرحبا and 中文 today"


def test_each_character_goes_to_a_font_that_has_it():
    from pipeline.video.audiogram import Theme, find_fonts
    from pipeline.video.glyphs import family_name, font_chars, with_fallbacks

    glyphs = with_fallbacks(find_fonts(Theme()).bold)
    runs = [(text, family_name(glyphs.fonts[i])) for text, i in glyphs.runs(MIXED)]
    assert runs == [("Tea ", "Lato"), ("☕", "Noto Emoji"), (" with ", "Lato"), ("👩\u200d💻", "Noto Emoji"),
                    (" ", "Lato"), ("→", "Noto Sans Symbols"), (" ", "Lato"), ("مرحبا", "Noto Sans Arabic"),
                    (" and  today", "Lato")]  # the Chinese (no font here has it) is left out, not boxed
    assert glyphs.missing(MIXED) == ["中", "文"]
    assert ord("☕") not in font_chars(glyphs.primary)  # really missing from Lato
    assert glyphs.missing("Café, naïve, Zoë – “quotes”…") == [] and not glyphs.needs_fallback(["Café – “ok”…"])


def test_titles_draw_the_fallback_glyph_not_a_box():
    from PIL import Image, ImageDraw, ImageFont

    from pipeline.video.audiogram import Theme, find_fonts
    from pipeline.video.glyphs import TextFont, fallback_fonts, with_fallbacks

    def drawn(draw_text) -> bytes:
        img = Image.new("L", (200, 120), 0)
        draw_text(ImageDraw.Draw(img))
        return img.tobytes()

    lato = find_fonts(Theme()).bold
    ours = TextFont(with_fallbacks(lato), 60, bold=True)
    noto = ours.font(2)  # Noto Emoji, set bold as the titles are
    assert Path(noto.path).name == "NotoEmoji[wght].ttf" == fallback_fonts()[1].name
    baseline = 10 + ours.font(0).getmetrics()[0]
    mine = drawn(lambda d: ours.draw(d, (10, 10), "☕", 255))
    assert mine == drawn(lambda d: d.text((10, baseline), "☕", font=noto, fill=255, anchor="ls"))
    box = drawn(lambda d: d.text((10, baseline), "☕", font=ImageFont.truetype(str(lato), 60), fill=255, anchor="ls"))
    assert box != mine and any(box)  # Lato alone draws something else: its empty box


def libass_log(script: str, fonts, tmp_path: Path) -> str:
    """ffmpeg's verbose log of libass drawing ``script`` (3 s, 10 frames a second), with no system font to fall
    back on."""
    from pipeline.media import ffmpeg_path
    from pipeline.video.audiogram import _filter_path, _merged_fonts

    ass = tmp_path / "captions.ass"
    ass.write_text(script, encoding="utf-8")
    folder = tmp_path / "merge"
    folder.mkdir(exist_ok=True)
    fonts_dir = _merged_fonts(fonts, folder) if len(fonts.dirs) > 1 else fonts.dirs[0]
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><cachedir>{tmp_path}/fc-cache</cachedir></fontconfig>')
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    return subprocess.run([ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "verbose", "-f", "lavfi", "-i",
                           "color=c=black:s=1080x1080:d=3:r=10", "-vf",
                           f"ass=filename={_filter_path(ass)}:fontsdir={_filter_path(fonts_dir)}",
                           "-f", "null", "-"], capture_output=True, text=True, env=env, check=True).stderr


def test_captions_set_missing_characters_in_a_fallback_font_libass_finds(tmp_path):
    import dataclasses

    from pipeline.speech.transcript import Word
    from pipeline.video.audiogram import Theme, caption_script, find_fonts, glyph_warnings, layout_for
    from pipeline.video.captions import CaptionStyle, write_ass
    from pipeline.video.glyphs import fallback_dir

    theme = Theme()
    fonts = find_fonts(theme)
    words = [Word(0.3 * i, 0.3 * i + 0.25, w) for i, w in enumerate(MIXED.split())]
    script, captions = caption_script(words, 3.0, layout_for("square", False), theme, fonts)
    assert "{\\fnNoto Emoji}☕{\\fnLato}" in script and "{\\fnNoto Sans Arabic}مرحبا{\\fnLato}" in script
    assert "中" not in script and "中文" not in [w.text for c in captions for w in c.words]
    with_noto = dataclasses.replace(fonts, dirs=fonts.dirs + (fallback_dir(),))
    log = libass_log(script, with_noto, tmp_path)
    assert "fontselect: (Noto Emoji, 700, 0)" in log and "fontselect: (Noto Sans Arabic, 700, 0)" in log
    assert "not found" not in log, [line for line in log.splitlines() if "not found" in line]
    # the same captions written without the font switches, as before: libass looks in vain for the emoji
    style = CaptionStyle("Lato", 84, True, (255, 255, 255), (255, 201, 60), (0, 0, 0), 4.7, 0)
    plain = write_ass(captions, 1080, 1080, style, (540, 560))
    assert "Glyph 0x2615 not found" in libass_log(plain, fonts, tmp_path)
    assert glyph_warnings("Show", "Tea ☕ 中文", words, theme, fonts) == [
        "no font here can draw 中 (U+4E2D), 文 (U+6587) (in the episode title and captions): left out of the video"]
    assert glyph_warnings("Show", "Tea ☕", words[:3], theme, fonts) == []


# --- clip choice ---------------------------------------------------------------------------------------------------

def _sentence_words(sentences: list[tuple[float, str]]):
    from pipeline.speech.transcript import Word

    out = []
    for start, text in sentences:
        t = start
        for w in text.split():
            out.append(Word(t, t + 0.3, w))
            t += 0.4
    return out


def test_pick_clip_prefers_condition_evidence_and_sentence_bounds():
    from pipeline.video.clips import pick_clip

    # 20 sentences of 10 words each (4 s), one every 6 s: 120 s of audio.
    text = "one two three four five six seven eight nine ten."
    words = _sentence_words([(6.0 * i, text) for i in range(20)])
    starts = {round(6.0 * i - 0.15, 2) for i in range(20)} | {0.0}
    start, duration = pick_clip(words, 125.0, 30.0, evidence=[(80.0, 84.0, 0.9)])
    assert round(start, 2) in starts  # begins at a sentence start
    assert start <= 80.0 and start + duration >= 84.0  # holds the evidence
    assert 15.0 <= duration <= 45.0
    end = start + duration - 0.35
    assert any(abs(end - (6.0 * i + 3.9)) < 0.01 for i in range(20))  # ends at a sentence end
    # Without evidence: the densest speech wins (sentences 10-14 are spoken twice as fast).
    fast = _sentence_words([(6.0 * i, text) for i in range(10)])
    from pipeline.speech.transcript import Word

    dense = [Word(60 + 0.2 * k, 60.15 + 0.2 * k, "word." if k % 10 == 9 else "word") for k in range(120)]
    slow = _sentence_words([(90.0 + 6.0 * i, text) for i in range(5)])
    start, duration = pick_clip(fast + dense + slow, 125.0, 20.0)
    assert 59.0 <= start <= 66.0, start
    assert pick_clip([], 10.0, 30.0) is None


# --- the stage -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_stage_renders_soundbites_on_the_published_timeline(tmp_path):
    from pipeline.show import load_project
    from pipeline.stages.audiogram import AudiogramStage
    from pipeline.engine.stage import EpisodeContext
    from pipeline.timeline import Timeline

    root = make_show(tmp_path / "show", settings={"audiogram": {"sizes": ["square"],
                                                                "theme": {"highlight": "#FF8800"}}})
    audio = synth(tmp_path / "raw.wav", "sine=f=220:sample_rate=16000", 40.0)
    write_episode(root, "ep-1", {"title": "First", "date": "2026-11-01", "guid": "g-1",
                                 "soundbites": [{"start": 12, "duration": 16, "title": "A kind moment"}]}, audio)
    project = load_project(root)
    episode = project.episodes[0]
    ctx = EpisodeContext(show=project.show, episode=episode)
    out = ctx.out_dir
    out.mkdir(parents=True)
    # Mastering trimmed the first 2 s and cut 20-22 s of the raw recording: raw 12 s is published 10 s, and the
    # 16 s soundbite holds 2 s of cut audio, so 14 s -> stretched back to the 15 s minimum.
    timeline = Timeline.from_kept([(2.0, 20.0), (22.0, 40.0)])
    synth(out / "ep-1.mp3", "sine=f=220:sample_rate=16000", timeline.duration)
    words = [{"startTime": 10.5 + 0.5 * i, "endTime": 10.9 + 0.5 * i, "body": w}
             for i, w in enumerate("this is a test of the audiogram stage".split())]
    (out / "transcript.json").write_text(json.dumps({"version": "1.0.0", "segments": words}))
    ctx.results = {"master": {"file": "ep-1.mp3", "timeline": timeline.to_json(), "duration": timeline.duration},
                   "transcribe": {"files": {"json": "transcript.json"}}}
    stage = AudiogramStage()
    result = stage.run(ctx)
    clip = result["clips"][0]
    assert clip["name"] == "clip-1" and clip["title"] == "A kind moment"
    assert clip["start"] == pytest.approx(10.0, abs=0.01)
    assert clip["duration"] == pytest.approx(15.0, abs=0.01)
    assert clip["files"] == {"square": "audiograms/clip-1-square.mp4"}
    assert clip["poster"] == "audiograms/clip-1.jpg"
    assert sorted(result["outputs"]) == ["feeds/episodes/ep-1/audiograms/clip-1-square.mp4",
                                         "feeds/episodes/ep-1/audiograms/clip-1.jpg"]
    assert {str(p.relative_to(root)) for p in stage.outputs(ctx)} == set(result["outputs"])
    check_video(out / clip["files"]["square"], (1080, 1080), 15.0)
    json.dumps(result)  # JSON-able


# --- the command line ----------------------------------------------------------------------------------------------

def _cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "pipeline", "audiogram", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


@pytest.mark.parametrize("extra, message", [
    (["--start", "0", "--duration", "10"], r"duration: 10 s is out of range \(15 to 90 s\)"),
    (["--start", "3:50", "--duration", "20"], r"start: 230 s \+ 20 s lies outside the audio \(221\.\d s long\)"),
    (["--start", "0", "--duration", "20", "--artwork", "missing.png"], r"missing.png: --artwork: file not found"),
    (["--start", "0", "--duration", "20", "--font", "Nope Sans"], r"--font: 'Nope Sans' is not installed"),
])
@needs_speech
def test_cli_bad_input_is_one_clear_line(tmp_path, extra, message):
    proc = _cli(LJ, *extra, "-o", tmp_path / "out.mp4", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kindcast: error: "), proc.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not list(tmp_path.glob("*.mp4"))


@needs_speech
@pytest.mark.slow
def test_cli_renders_with_no_system_fonts(tmp_path):
    """A fontconfig that knows no font at all: the captions still come from the fonts shipped in the wheel."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(f'<?xml version="1.0"?><fontconfig><cachedir>{tmp_path}/fc-cache</cachedir></fontconfig>')
    env = {**os.environ, "FONTCONFIG_FILE": str(conf)}
    transcript = tmp_path / "t.json"
    words = [{"startTime": 31.0 + 0.45 * i, "endTime": 31.35 + 0.45 * i, "body": w}
             for i, w in enumerate("kindness matters most when nobody else is watching us ☕ 中文".split())]
    transcript.write_text(json.dumps({"version": "1.0.0", "segments": words}))
    art = make_artwork(tmp_path / "art.jpg", 1400, (200, 200, 40))
    proc = _cli(LJ, "--start", "30", "--duration", "15", "--transcript", transcript, "--title", "Fonts → ☕",
                "--artwork", art, "-o", tmp_path / "clip", env=env)
    assert proc.returncode == 0, proc.stderr
    # the emoji and the arrow come from the Noto fonts; the Chinese from no font here: left out, and said
    assert proc.stderr.strip().splitlines() == [f"warning: {tmp_path / 'clip'}: no font here can draw 中 (U+4E2D), "
                                                "文 (U+6587) (in the captions): left out of the video"]
    check_video(tmp_path / "clip.mp4", (1080, 1080), 15.0)
    assert (tmp_path / "clip.jpg").is_file()
    if shutil.which("tesseract"):
        seen = ocr_words(frame_at(tmp_path / "clip.mp4", 2.0).crop((0, 380, 1080, 740)))
        assert {"kindness", "matters", "most"} & set(seen), seen


def test_output_names_for_all_sizes(tmp_path):
    from pipeline.video.audiogram import output_names

    assert output_names(tmp_path / "x.mp4", ["square"]) == {"square": tmp_path / "x.mp4"}
    assert output_names(tmp_path / "x", ["square", "vertical", "landscape"]) == {
        "square": tmp_path / "x-square.mp4", "vertical": tmp_path / "x-vertical.mp4",
        "landscape": tmp_path / "x-landscape.mp4"}


def test_stage_without_soundbites_on_audio_too_short_for_a_clip(tmp_path):
    from pipeline.show import load_project
    from pipeline.stages.audiogram import AudiogramStage
    from pipeline.engine.stage import EpisodeContext
    from pipeline.timeline import Timeline

    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "raw.wav", "sine=f=220:sample_rate=16000", 10.0)
    write_episode(root, "short", {"title": "Short", "date": "2026-11-01", "guid": "g-2"}, audio)
    project = load_project(root)
    ctx = EpisodeContext(show=project.show, episode=project.episodes[0])
    ctx.out_dir.mkdir(parents=True)
    synth(ctx.out_dir / "short.mp3", "sine=f=220:sample_rate=16000", 10.0)
    (ctx.out_dir / "transcript.json").write_text(json.dumps({"version": "1.0.0", "segments": [
        {"startTime": 1.0, "endTime": 1.4, "body": "Hello."}]}))
    ctx.results = {"master": {"file": "short.mp3", "timeline": Timeline.from_kept([(0.0, 10.0)]).to_json()},
                   "transcribe": {"files": {"json": "transcript.json"}}}
    stage = AudiogramStage()
    assert stage.outputs(ctx) == []
    assert stage.run(ctx) == {"clips": [], "outputs": []}
