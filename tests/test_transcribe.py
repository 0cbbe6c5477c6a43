"""Transcription: the real tiny.en model on short real and synthetic speech, the file formats read back by standard
parsers (webvtt-py, srt), speakers from stereo channels, bad input, the CLI, and caching in a real build."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
import srt
import webvtt

from conftest import SPEECH, ffmpeg_exe, kindcast, make_show, needs_speech, synth, write_episode
from pipeline.speech import whisper as core
from pipeline.errors import KindcastError
from pipeline.speech.transcript import FILES, LINE_CHARS, Word, load_words, make_cues, to_json, to_srt, to_text, to_vtt, write_all

JFK = SPEECH / "jfk.flac"
STEREO = SPEECH / "stereo_diarization.wav"
JFK_TEXT = "and so my fellow americans ask not what your country can do for you ask what you can do for your country"


def norm(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def british(words: list[str]) -> set[str]:
    """The words as a set, "neighbors" spelt "neighbours": the model writes either (on a new install the sequential
    decoder wrote "neighbors" where the batched one wrote "neighbours")."""
    return {"neighbours" if w == "neighbors" else w for w in words}


def ordered(words) -> bool:
    return all(a.start <= b.start for a, b in zip(words, words[1:])) and all(w.end >= w.start for w in words)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return core.resolve_model(None)


def check_files(out: Path, names: dict[str, str], speakers: bool = False) -> list:
    """Every format parses with a standard parser; returns the JSON segments."""
    data = json.loads((out / names["json"]).read_text())
    assert data["version"] == "1.0.0"
    times = [(s["startTime"], s["endTime"]) for s in data["segments"]]
    assert all(a[0] <= b[0] for a, b in zip(times, times[1:])) and all(e >= s for s, e in times)
    assert all(("speaker" in s) == speakers for s in data["segments"])
    captions = webvtt.read(str(out / names["vtt"])).captions
    subs = list(srt.parse((out / names["srt"]).read_text()))
    assert len(captions) == len(subs)
    for cap in captions:
        lines = cap.text.splitlines()
        assert 1 <= len(lines) <= 2
        assert all(len(re.sub(r"<[^>]+>", "", line)) <= 65 for line in lines)
        assert ("<v " in cap.raw_text) == speakers
    if data["segments"]:
        assert captions and subs
        assert abs(subs[0].start.total_seconds() - data["segments"][0]["startTime"]) < 0.01
    return data["segments"]


# --- formats, no model -------------------------------------------------------------------------------------------

def test_formats_parse_and_cues_are_readable(tmp_path):
    text = ("Welcome back to the show. Today we talk about kindness & courage <with> strangers, about listening "
            "before speaking, and about the small habits that make a neighbourhood feel like home again.")
    words, t = [], 0.0
    for i, token in enumerate(text.split()):
        speaker = "Ana Ruiz" if i < 20 else "Ben Okafor"
        words.append(Word(round(t, 3), round(t + 0.3, 3), token, speaker))
        t += 0.35 if i != 9 else 2.0  # one long pause
    out = tmp_path / "out"
    write_all(words, out, FILES)
    segments = check_files(out, FILES, speakers=True)
    assert [s["body"] for s in segments] == text.split()
    assert load_words(out / FILES["json"]) == words
    cues = make_cues(words)
    assert all(len(line) <= LINE_CHARS for c in cues for line in c.lines)
    assert all(len({w.speaker for w in words if c.start <= w.start < c.end and w.speaker == c.speaker}) == 1
               for c in cues)
    vtt = (out / FILES["vtt"]).read_text()
    assert "<v Ana Ruiz>" in vtt and "<v Ben Okafor>" in vtt
    assert "&amp;" in vtt and "&lt;with&gt;" in vtt  # escaped, so the cue text is not taken for tags
    assert "Ana Ruiz: Welcome back" in to_text(words) and "\n\nBen Okafor: " in to_text(words)
    # without speakers: no voice tags, no names
    plain = [Word(w.start, w.end, w.text) for w in words]
    assert "<v" not in to_vtt(plain) and "Ana" not in to_srt(plain) and '"speaker"' not in to_json(plain)


def test_glossary_becomes_a_punctuated_list():
    assert core.glossary_hotwords([" Ana Ruiz ", "Subiaco.", "", "Ana Ruiz"]) == "Ana Ruiz, Subiaco."
    assert core.glossary_hotwords([]) is None and core.glossary_hotwords(["", " "]) is None


def test_load_words_rejects_what_is_not_a_transcript(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(KindcastError, match="t.json"):
        load_words(bad)
    bad.write_text(json.dumps({"version": "1.0.0", "segments": [{"startTime": 1}]}))
    with pytest.raises(KindcastError, match=r"segments\[0\]"):
        load_words(bad)


# --- the real model ----------------------------------------------------------------------------------------------

@needs_speech
def test_jfk_words_timed_ordered_and_accurate(tmp_path, model_dir):
    fractions = []
    tr = core.transcribe_audio(JFK, model_dir=model_dir, progress=fractions.append)
    assert tr.language == "en" and tr.model == "tiny.en" and tr.speakers == []
    assert " ".join(norm(" ".join(w.text for w in tr.words))) == JFK_TEXT
    assert ordered(tr.words) and 0 <= tr.words[0].start < 1.0 and 9.0 < tr.words[-1].end <= 11.1
    assert all(w.speaker is None for w in tr.words)
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    write_all(tr.words, tmp_path, FILES)
    check_files(tmp_path, FILES)
    assert load_words(tmp_path / FILES["json"]) == tr.words


@needs_speech
def test_small_blocks_keep_every_word(monkeypatch, model_dir):
    """Memory bound: audio is transcribed in blocks cut at quiet moments; words and times survive the cuts."""
    blocks = list(core.audio_blocks(JFK, 1, block_seconds=3.0))
    assert len(blocks) >= 3
    assert sum(b.shape[1] for _, b in blocks) == pytest.approx(11.0 * 16000, abs=400)
    assert all(abs(o2 - (o1 + b1.shape[1] / 16000)) < 1e-6 for (o1, b1), (o2, _) in zip(blocks, blocks[1:]))
    monkeypatch.setattr(core, "BLOCK_SECONDS", 4.0)
    tr = core.transcribe_audio(JFK, model_dir=model_dir)
    hyp = norm(" ".join(w.text for w in tr.words))
    assert ordered(tr.words) and {"americans", "country", "ask"} <= set(hyp) and len(hyp) >= 18


@needs_speech
def test_stereo_channels_name_the_speakers(tmp_path, model_dir):
    tr = core.transcribe_audio(STEREO, model_dir=model_dir, channels={"left": "Lee", "right": "Rae"})
    assert tr.speakers == ["Lee", "Rae"] and ordered(tr.words)
    said = {name: norm(" ".join(w.text for w in tr.words if w.speaker == name)) for name in ("Lee", "Rae")}
    assert {"wizard", "curtain", "vanished"} <= set(said["Lee"]) and not {"horizon", "distant"} & set(said["Lee"])
    assert {"horizon", "distant"} <= set(said["Rae"]) and not {"wizard", "curtain"} & set(said["Rae"])
    # a mono file cannot tell them apart: no labels then
    downmix = tmp_path / "mono.wav"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-i", str(STEREO), "-ac", "1", str(downmix)],
                   check=True)
    mono = core.transcribe_audio(downmix, model_dir=model_dir, channels={"left": "Lee", "right": "Rae"})
    assert mono.speakers == [] and all(w.speaker is None for w in mono.words)


@pytest.fixture(scope="module")
def bleed_wav(tmp_path_factory) -> Path:
    """Two espeak-ng voices, one per channel, each also heard 26 dB down on the other channel (microphone bleed)."""
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    d = tmp_path_factory.mktemp("bleed")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(d / "a.wav"),
                    "Kindness is a practice we choose every single morning."], check=True)
    subprocess.run(["espeak-ng", "-v", "en-gb", "-s", "140", "-w", str(d / "b.wav"),
                    "Listening carefully to strangers changes how we see the world."], check=True)
    graph = ("[0:a]aresample=16000,apad=pad_dur=4,asplit[a1][a2];[1:a]aresample=16000,adelay=3500,apad=pad_dur=1,"
             "asplit[b1][b2];[a1][b1]amix=inputs=2:duration=shortest:weights='1 0.05':normalize=0[l];"
             "[a2][b2]amix=inputs=2:duration=shortest:weights='0.05 1':normalize=0[r];"
             "[l][r]join=inputs=2:channel_layout=stereo[o]")
    out = d / "bleed.wav"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(d / "a.wav"), "-i",
                    str(d / "b.wav"), "-filter_complex", graph, "-map", "[o]", str(out)], check=True)
    return out


def test_microphone_bleed_is_not_transcribed_twice(bleed_wav, model_dir):
    tr = core.transcribe_audio(bleed_wav, model_dir=model_dir, channels={"left": "Ann", "right": "Bob"})
    ann = set(norm(" ".join(w.text for w in tr.words if w.speaker == "Ann")))
    bob = set(norm(" ".join(w.text for w in tr.words if w.speaker == "Bob")))
    assert {"practice", "morning"} <= ann and not {"strangers", "world", "listening"} & ann
    assert {"strangers", "world"} <= bob and not {"practice", "morning"} & bob


def test_silence_gives_an_empty_but_valid_transcript(tmp_path, model_dir):
    quiet = synth(tmp_path / "quiet.wav", "anullsrc=r=44100:cl=stereo", 6)
    tr = core.transcribe_audio(quiet, model_dir=model_dir, channels={"left": "A", "right": "B"})
    assert tr.words == []
    tr = core.transcribe_audio(quiet, model_dir=model_dir)
    assert tr.words == [] and tr.duration == pytest.approx(6, abs=0.1)
    write_all(tr.words, tmp_path / "out", FILES)
    assert check_files(tmp_path / "out", FILES) == []
    assert load_words(tmp_path / "out" / FILES["json"]) == []


def test_unreadable_audio_is_a_clear_error(tmp_path, model_dir):
    bad = tmp_path / "notes.mp3"
    bad.write_text("this is not audio")
    with pytest.raises(KindcastError, match="notes.mp3"):
        core.transcribe_audio(bad, model_dir=model_dir)


def test_missing_or_broken_model_folder_is_named(tmp_path):
    with pytest.raises(KindcastError, match="nowhere.*no such model folder"):
        core.resolve_model("nowhere", tmp_path)
    half = tmp_path / "half"
    half.mkdir()
    (half / "config.json").write_text("{}")
    (half / "model.bin.part1").write_bytes(b"x")
    with pytest.raises(KindcastError, match=r"half.*missing model\.bin, tokenizer\.json.*model\.bin\.part1"):
        core.resolve_model("half", tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(core.default_model_dir(), broken, ignore=shutil.ignore_patterns("model.bin"))
    (broken / "model.bin").write_bytes(b"\0" * 64)
    folder = core.resolve_model(str(broken))  # all files there: only loading can tell
    with pytest.raises(KindcastError, match="broken.*cannot be loaded"):
        core.load_model(str(folder), "int8", 1)


# --- the command line --------------------------------------------------------------------------------------------

@needs_speech
def test_cli_transcribe_end_to_end(tmp_path):
    out = tmp_path / "out"
    proc = kindcast("transcribe", STEREO, "--out", out, "--speakers", "Lee,Rae", check=True)
    assert "words" in proc.stdout
    names = {k: f"stereo_diarization.{k}" for k in FILES}
    segments = check_files(out, names, speakers=True)
    assert {s["speaker"] for s in segments} == {"Lee", "Rae"}
    bad = kindcast("transcribe", JFK, "--out", out, "--model", tmp_path / "no-model")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "no-model" in bad.stderr
    assert "Traceback" not in bad.stderr


# --- the stage in a real build -------------------------------------------------------------------------------------

def _stage_error(report, slug: str):
    """The transcribe stage's error in this build (later stages are other areas: their failures are not ours)."""
    runs = [r for r in report.episodes[slug].runs if r.stage in ("probe", "master", "transcribe")]
    return next((r.error for r in runs if r.error), None)


def _stage_registered() -> bool:
    from pipeline.stages import episode_stages

    names = [s.name for s in episode_stages()]
    return "master" in names and "transcribe" in names


needs_build = pytest.mark.skipif(not _stage_registered(), reason="master and transcribe stages not both registered")


@needs_speech
@needs_build
def test_build_transcribes_the_master_once_and_again_only_when_something_changed(tmp_path, monkeypatch):
    from pipeline.engine.build import build

    calls: list[Path] = []
    options: list[dict] = []
    real = core.transcribe_audio

    def counting(path, **kwargs):
        calls.append(Path(path))
        options.append(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(core, "transcribe_audio", counting)
    # the speech clean-up is tested in test_sound.py; here the words of an 11 s file must not hang on it (tiny.en
    # hears "American" for "Americans" after either the denoiser or the leveler has touched this recording)
    root = make_show(tmp_path / "show", settings={"cleanup": {"denoise": False, "leveler": False}})
    write_episode(root, "ep-1", {"title": "One", "date": "2026-01-01", "guid": "g-1", "number": 1,
                                 "audio": JFK.name}, JFK)
    report = build(root, jobs=1)
    assert _stage_error(report, "ep-1") is None, report.episodes["ep-1"].error
    out = root / "feeds" / "episodes" / "ep-1"
    state = json.loads((root / ".kindcast" / "state" / "ep-1.json").read_text())["stages"]
    master, result = state["master"]["result"], state["transcribe"]["result"]
    assert [c.name for c in calls] == [master["file"]]  # the mastered file (while staged), not the raw recording
    assert options[0]["hotwords"] == "Hana Host." and options[0]["channels"] == {}  # glossary: the host's name
    assert result["words"] >= 18 and result["language"] == "en" and result["model"] == "tiny.en"
    assert result["files"] == FILES and result["speakers"] == []
    words = load_words(out / "transcript.json")
    assert words[-1].end <= master["duration"] + 0.05
    assert words[-1].text == "country." and any(w.text == "Americans" for w in words)  # the glossary kept punctuation
    check_files(out, FILES)

    build(root, jobs=1)
    assert len(calls) == 1  # nothing changed: not transcribed again

    show_yaml = root / "episodes" / "show.yaml"
    data = yaml.safe_load(show_yaml.read_text())
    data["settings"]["transcription"] = {"beam_size": 4}
    show_yaml.write_text(yaml.safe_dump(data))
    build(root, jobs=1)
    assert len(calls) == 2  # a setting changed

    (out / "transcript.vtt").unlink()
    build(root, jobs=1)
    assert len(calls) == 3 and (out / "transcript.vtt").is_file()  # an output went missing


@needs_speech
@needs_build
def test_build_names_speakers_from_a_mono_master_through_the_raw_recording(tmp_path):
    """The master is downmixed to mono: channels are read from the raw stereo recording, times mapped through the
    master's timeline (leading silence trimmed), and the speakers are still named."""
    from pipeline.engine.build import build

    root = make_show(tmp_path / "show", settings={"encode": {"channels": "mono"}},
                     hosts=[{"name": "Lee Left", "role": "host", "channel": "left"}])
    padded = tmp_path / "padded.wav"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(STEREO), "-af",
                    "adelay=3000:all=1", str(padded)], check=True)
    write_episode(root, "ep-2", {"title": "Two", "date": "2026-01-02", "guid": "g-2", "number": 2,
                                 "audio": padded.name, "guests": [{"name": "Rae Right", "channel": "right"}]}, padded)
    report = build(root, jobs=1)
    assert _stage_error(report, "ep-2") is None, report.episodes["ep-2"].error
    state = json.loads((root / ".kindcast" / "state" / "ep-2.json").read_text())["stages"]
    assert state["master"]["result"]["channels"] == 1
    assert state["transcribe"]["result"]["speakers"] == ["Lee Left", "Rae Right"]
    words = load_words(root / "feeds" / "episodes" / "ep-2" / "transcript.json")
    horizon = next(w for w in words if w.text.lower().startswith("horizon"))
    assert horizon.speaker == "Rae Right"
    assert horizon.start < 2.5  # the 3 s of leading silence were trimmed by the master, and the times follow
    assert {w.speaker for w in words if w.text.lower().startswith(("wizard", "curtain"))} == {"Lee Left"}


def _four_sentences(tmp_path: Path) -> Path:
    """Four spoken sentences, 0.6 s apart, as a 16 kHz mono file."""
    lines = ["The garden opened on Saturday morning.", "Forty neighbours brought their own tools.",
             "Nobody expected so many children to come.", "She planted the first apple tree herself."]
    parts = []
    for i, line in enumerate(lines):
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(tmp_path / f"{i}.wav"), line], check=True)
        parts.append(str(tmp_path / f"{i}.wav"))
    wav = tmp_path / "four.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *sum((["-i", p] for p in parts), []), "-filter_complex",
                    "".join(f"[{i}]apad=pad_dur=0.6[a{i}];" for i in range(4)) + "".join(f"[a{i}]" for i in range(4))
                    + "concat=n=4:v=0:a=1", "-ar", "16000", "-ac", "1", str(wav)], check=True)
    return wav


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_a_repetition_loop_of_the_batched_pass_is_dropped_and_its_speech_decoded_again(tmp_path, model_dir,
                                                                                       monkeypatch):
    """The batched pass decodes at one temperature only and can fall into a loop ("children children children
    ..."). Whisper's compression test finds it; its words are dropped and the speech under it is decoded again with
    the holes, by the real model: the sentence comes back once, in its place. Part of a stretch under the loop is a
    hole even when words of a neighbour start in the rest of the stretch. The hotwords go to the batched pass only."""
    wav = _four_sentences(tmp_path)
    unpacked = core._unpacked

    def looping(segments, pieces):  # the batched pass's real segments, the one with "children" made a loop
        for read, seg in unpacked(segments, pieces):
            if "children" in seg.text:
                loop = [replace(w, word=" children") for w in seg.words]
                seg = replace(seg, text=" children" * len(loop), words=loop, compression_ratio=9.9)
            yield read, seg

    monkeypatch.setattr(core, "_unpacked", looping)
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    prompts = []  # (decoder, the hotwords it was given), in the order of the calls
    for cls, label in ((BatchedInferencePipeline, "batched"), (WhisperModel, "sequential")):
        def spy(self, *a, _real=cls.transcribe, _label=label, **k):
            prompts.append((_label, k.get("hotwords")))
            return _real(self, *a, **k)
        monkeypatch.setattr(cls, "transcribe", spy)
    out = core.transcribe_audio(wav, model_dir=model_dir, hotwords="Mina Patel, Sam Whitfield.")
    text = norm(" ".join(w.text for w in out.words))
    assert text.count("children") == 1, " ".join(text)
    assert text.index("garden") < text.index("nobody") < text.index("children") < text.index("come") \
        < text.index("herself"), " ".join(text)
    # the names prompt the batched pass only: in a hole (often a quiet voice) the model writes them for the speech
    assert prompts[0] == ("batched", "Mina Patel, Sam Whitfield.") and len(prompts) > 1, prompts
    assert all(hotwords is None for _, hotwords in prompts[1:]), prompts

    from faster_whisper.transcribe import Word as FWord

    stretches = [(1.0, 3.0), (3.6, 6.0)]
    found = [FWord(1.1, 1.4, " Forty", 1.0), FWord(1.5, 1.9, " neighbours", 1.0)]  # the loop's (2.0-6.0) dropped
    assert core._holes(stretches, found) == [(3.6, 6.0)]
    assert core._holes(stretches, found, looped=[(2.0, 6.0)]) == [(2.0, 6.0)]  # 2.0-3.0 and the next stretch


class _Spied:
    """A CTranslate2 model with one of its methods watched: ``seen(*args, **kwargs)`` is called before each call."""

    def __init__(self, real, method: str, seen):
        self.real, self.method, self.seen = real, method, seen

    def __getattr__(self, name):
        if name != self.method:
            return getattr(self.real, name)
        return lambda *a, **k: (self.seen(*a, **k), getattr(self.real, name)(*a, **k))[1]


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_a_hole_is_decoded_the_same_way_every_time(tmp_path, model_dir, monkeypatch):
    """Speech the model can hardly read (here 5 dB under noise) fails Whisper's checks. faster-whisper's own answer is
    to sample again at rising temperatures, which made the same recording come out differently from run to run (and
    cost seconds a window); the hole rounds decode at temperature 0 only: the decoder never samples, and two runs
    write the same words."""
    import numpy as np

    subprocess.run(["espeak-ng", "-s", "160", "-w", str(tmp_path / "line.wav"),
                    "So from then on, Rohan would ask about her day. He learned about her tomatoes, about the lake, "
                    "about her grandson in the Navy."], check=True)
    speech = next(core.audio_blocks(tmp_path / "line.wav", 1))[1][0]
    noise = np.random.default_rng(1).standard_normal(len(speech) + 32000).astype(np.float32)
    samples = noise * np.float32(np.sqrt(np.mean(speech ** 2)) * 10 ** (5 / 20))
    samples[16000:16000 + len(speech)] += speech
    samples *= np.float32(0.5 / np.abs(samples).max())
    stretches = [(1.0, 1.0 + len(speech) / 16000)]

    model = core.load_model(str(model_dir), "int8", 2)
    sampled = []  # the temperature of every call of the model's decoder

    monkeypatch.setattr(model, "model", _Spied(model.model, "generate",
                                               lambda *a, **k: sampled.append(k.get("sampling_temperature", 0.0))))
    # the speech is hard enough: faster-whisper's own call, with its fallback, samples on it
    clip = [stretches[0][0] - 0.1, stretches[0][1] + 0.1]
    list(model.transcribe(samples, language="en", beam_size=5, condition_on_previous_text=False,
                          clip_timestamps=clip)[0])
    assert max(sampled) > 0, sampled
    for window in (0, core.SHORT_WINDOW_SECONDS):  # the sequential decoder (for a long clip), then a short window
        monkeypatch.setattr(core, "SHORT_WINDOW_SECONDS", window)
        sampled.clear()
        runs = [core._fill_holes(model, samples, stretches, [], "en", 5) for _ in range(2)]
        assert sampled and set(sampled) == {0.0}, (window, sampled)
        assert [(w.word, w.start) for w in runs[0]] == [(w.word, w.start) for w in runs[1]]
        assert runs[0], "the hole was decoded"


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_what_the_batched_pass_skipped_is_decoded_again_in_one_clip(tmp_path, model_dir, monkeypatch):
    """The batched pass sometimes keeps only the last sentence of a chunk. Words lost from neighbouring stretches of
    speech are found as holes, joined into one clip, and decoded again by the real model (sequentially, so it cannot
    skip); the words around them stay as they were. (The clip here is 6 s: short windows are turned off, so that it
    is read as a clip longer than a short window is; see test_a_short_hole_is_read_in_a_short_window.)"""
    from faster_whisper import BatchedInferencePipeline

    monkeypatch.setattr(core, "SHORT_WINDOW_SECONDS", 0)

    samples = next(core.audio_blocks(_four_sentences(tmp_path), 1))[1][0]
    stretches = core.speech_stretches(samples)
    model = core.load_model(str(model_dir), "int8", 2)
    segments, _ = BatchedInferencePipeline(model).transcribe(samples, language="en", word_timestamps=True,
                                                             vad_filter=True)
    full = [w for seg in segments for w in seg.words]
    assert {"neighbours", "children"} <= set(norm(" ".join(w.word for w in full)))
    # what a skip leaves: the second and third sentences gone, the first word after them stretched over them
    gone = (stretches[1][0] - 0.05, stretches[2][1] + 0.05)
    assert gone[1] < stretches[3][0]
    found = [w for w in full if not gone[0] <= w.start < gone[1]]
    assert not {"neighbours", "children"} & set(norm(" ".join(w.word for w in found)))
    assert core._holes(stretches, found) == [(stretches[1][0], stretches[2][1])]  # two holes, one clip

    calls = []
    decode = model.transcribe
    model.transcribe = lambda *a, **k: (calls.append(k["clip_timestamps"]), decode(*a, **k))[1]
    out = core._fill_holes(model, samples, stretches, found, "en", 5)
    assert len(calls) == 1 and len(calls[0]) == 2
    text = norm(" ".join(w.word for w in sorted(out, key=lambda w: w.start)))
    assert {"neighbours", "tools", "children"} <= british(text), " ".join(text)
    assert text[:3] == ["the", "garden", "opened"] and text[-2:] == ["tree", "herself"]
    kept = [w for w in out if not gone[0] <= w.start < gone[1]]
    assert kept == found  # the words around the holes are untouched

    # when the sequential decoder steps over a turn of the long clip too (it did over a quiet guest's answer), what
    # is still a hole is decoded once more, each hole a clip of its own, by the batched decoder: here the sequential
    # decoder finds nothing at all
    model.transcribe = lambda *a, **k: (calls.append(k["clip_timestamps"]), (iter(()), None))[1]
    batched = []
    real = BatchedInferencePipeline.transcribe

    def spy(self, *a, **k):
        batched.append(k["clip_timestamps"])
        return real(self, *a, **k)

    BatchedInferencePipeline.transcribe = spy
    try:
        again = core._fill_holes(model, samples, stretches, found, "en", 5)
    finally:
        BatchedInferencePipeline.transcribe = real
        model.transcribe = decode
    assert len(batched) == 1 and [round(c["start"] + 0.1, 3) for c in batched[0]] == \
        [round(a, 3) for a, b in stretches[1:3]]  # one clip per hole
    text = norm(" ".join(w.word for w in sorted(again, key=lambda w: w.start)))
    assert {"neighbours", "tools", "children"} <= british(text), " ".join(text)
    assert [w for w in again if not gone[0] <= w.start < gone[1]] == found


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_a_short_hole_is_read_in_a_short_window(tmp_path, model_dir, monkeypatch):
    """Most hole clips are a few seconds long, and the encoder's time goes with its window, not with the speech in it.
    A clip of at most SHORT_WINDOW_SECONDS is read by the batched decoder in a window of that length instead of 30 s:
    the sentence comes back the same, at the same times, as from the sequential decoder's 30 s window. A longer clip
    still goes to the sequential decoder, in 30 s windows."""
    import numpy as np

    four = next(core.audio_blocks(_four_sentences(tmp_path), 1))[1][0]
    cut = round(core.speech_stretches(four)[0][1] * 16000) + 4000  # in the pause after the first sentence
    samples = np.concatenate([four[:cut], np.zeros(3 * 16000, np.float32), four[cut:]])  # holes too far apart to join
    first, second = core.speech_stretches(samples)[:2]
    end = len(samples) / 16000
    first = (0.0, first[1])  # the speech starts at once (a hole keeps only the words that start in it)
    long = (second[0], end - 0.2)  # three sentences with the pauses, longer than a short window
    assert second[0] - first[1] > core.HOLE_JOIN_SECONDS
    assert first[1] - first[0] < core.SHORT_WINDOW_SECONDS - 0.3 and core.SHORT_WINDOW_SECONDS < long[1] - long[0]
    model = core.load_model(str(model_dir), "int8", 2)
    windows = []  # the length of every window the encoder reads (frames of 10 ms)

    monkeypatch.setattr(model, "model", _Spied(model.model, "encode",
                                               lambda features, **k: windows.append(features.shape[-1])))
    sequential = []  # the clips given to the sequential decoder
    decode = model.transcribe
    monkeypatch.setattr(model, "transcribe", lambda *a, **k: (sequential.append(k["clip_timestamps"]),
                                                              decode(*a, **k))[1])
    seconds = core.SHORT_WINDOW_SECONDS
    sentence = ["the", "garden", "opened", "on", "saturday", "morning"]

    def read(window):
        """The two holes decoded again, short clips in windows of ``window`` seconds (0: none, as before)."""
        monkeypatch.setattr(core, "SHORT_WINDOW_SECONDS", window)
        windows.clear(), sequential.clear()
        return sorted(core._fill_holes(model, samples, [first, long], [], "en", 5), key=lambda w: w.start)

    out = read(seconds)
    assert windows[0] == 100 * seconds and set(windows[1:]) == {3000}, windows
    assert len(sequential) == 1 and sequential[0] == pytest.approx([long[0] - 0.1, long[1] + 0.1]), sequential
    text = norm(" ".join(w.word for w in out))
    assert text[:6] == sentence and {"tools", "children", "herself"} <= set(text), " ".join(text)

    # round 2: a short hole that round 1 stepped over is read again, alone, in a short window
    real = core._read_short
    rounds = []
    monkeypatch.setattr(core, "_read_short", lambda *a: (rounds.append(a[2]), real(*a) if len(rounds) > 1 else [])[1])
    again = read(seconds)
    assert [len(clips) for clips in rounds] == [2, 1] and rounds[1][0][0] == 0.0, rounds  # the short hole, again
    assert windows.count(100 * seconds) == 1, windows
    assert norm(" ".join(w.word for w in again))[:6] == sentence
    monkeypatch.setattr(core, "_read_short", real)

    before = read(0)  # both clips to the sequential decoder, in 30 s windows (one on each replica)
    assert sorted(len(clips) for clips in sequential) == [2, 2] and set(windows) == {3000}, (sequential, windows)
    mine, theirs = ([w for w in words if w.start < first[1]] for words in (out, before))
    assert [w.word for w in mine] == [w.word for w in theirs]
    assert all(abs(a.start - b.start) < 0.1 for a, b in zip(mine, theirs)), (mine, theirs)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_two_replicas_write_what_one_writes(tmp_path, model_dir, monkeypatch):
    """On 2 cores the model is two replicas of one thread each: the batched pass generates a batch in two parts at
    once and encodes and aligns its windows two at a time, and the sequential decoder reads its clips in two groups
    at once. The words and their times are those of one replica of one thread, reading everything in turn."""
    import threading

    import numpy as np
    from faster_whisper import BatchedInferencePipeline

    four = next(core.audio_blocks(_four_sentences(tmp_path), 1))[1][0]
    gap = core.HOLE_JOIN_SECONDS + 2  # too far apart to be read as one clip
    cut = round(core.speech_stretches(four)[1][1] * 16000) + 4000  # in the pause after the second sentence
    other = np.concatenate([four[cut:], four[:cut]])  # the same sentences in another order
    samples = np.concatenate([four, np.zeros(round(gap * 16000), np.float32), other])
    clips = [(0.0, len(four) / 16000), (len(four) / 16000 + gap, len(samples) / 16000)]
    assert all(not core._short(a, b) for a, b in clips)
    assert core.replicas(2) == (2, 1) and core.replicas(1) == (1, 1) and core.replicas(8) == (2, 4)

    def read(threads):
        model = core.load_model(str(model_dir), "int8", threads)
        batches, readers, windows = [], set(), set()  # batch sizes generated; threads reading clips, windows
        real = _Spied(model.model.real, "generate", lambda features, prompts, **k: batches.append(len(prompts)))
        for method in ("encode", "align"):
            real = _Spied(real, method, lambda *a, m=method, **k: windows.add((m, threading.current_thread().name)))
        monkeypatch.setattr(model.model, "real", real)
        decode = model.transcribe
        monkeypatch.setattr(model, "transcribe", lambda *a, **k: (readers.add(threading.current_thread().name),
                                                                  decode(*a, **k))[1])
        batched, _ = BatchedInferencePipeline(model).transcribe(
            samples, language="en", beam_size=5, batch_size=8, word_timestamps=True,
            clip_timestamps=[{"start": a, "end": b} for a, b in clips])
        batched = [(w.start, w.end, w.word) for s in batched for w in s.words]
        elsewhere = {method for method, thread in windows if thread != threading.current_thread().name}
        holes = [(w.start, w.end, w.word) for w in core._fill_holes(model, samples, clips, [], "en", 5)]
        monkeypatch.undo()
        return batched, holes, batches, readers, elsewhere

    one = read(1)
    two = read(2)
    assert one[2][0] == 2 and two[2][0] == 1 and two[2][1] == 1, (one[2], two[2])  # the batch of 2, in two parts
    assert len(one[3]) == 1 and len(two[3]) == 2, (one[3], two[3])  # the two clips, read on two threads
    assert one[4] == set() and two[4] == {"encode", "align"}  # the windows, on the replicas' threads
    assert len(norm(" ".join(w for *_, w in one[0]))) > 20 and len(norm(" ".join(w for *_, w in one[1]))) > 20
    assert two[0] == one[0] and two[1] == one[1]


# --- what the batched pass reads ----------------------------------------------------------------------------------

def _segment(*words):
    """A segment of the batched pass as faster-whisper yields it, from ``(start, end, word)`` in the packed audio."""
    from faster_whisper.transcribe import Segment, Word as FWord

    fw = [FWord(start=a, end=b, word=w, probability=1.0) for a, b, w in words]
    return Segment(id=0, seek=0, start=fw[0].start, end=fw[-1].end, text="".join(w.word for w in fw), tokens=[],
                   avg_logprob=0.0, compression_ratio=1.0, no_speech_prob=0.0, words=fw, temperature=0.0)


def test_the_batched_pass_reads_the_padded_speech_end_to_end_and_its_times_come_back():
    stretches = [(1.0, 3.0), (3.2, 5.0), (20.0, 61.0)]
    pieces = core._pieces(stretches, 70.0)
    # 0.4 s either side, half the pause when it is shorter; a stretch longer than a window is cut into parts
    assert [(p.start, p.end) for p in pieces] == [(0.6, 3.1), (3.1, 5.4), (19.6, 49.6), (49.6, 61.4)]
    assert [p.at for p in pieces] == pytest.approx([0.0, 2.5, 4.8, 34.8])
    groups = core._chunks(pieces)
    assert [len(g) for g in groups] == [2, 1, 1]  # 4.8 s, then 30 s (would not fit beside it), then 11.8 s
    assert all(g[-1].until - g[0].at <= 30.0 for g in groups)

    # packed times 0.5, 3.0 and 5.8 s are 0.5 s into the first piece, 0.5 s into the second and 1.0 s into the third
    out = [moved for _, moved in core._unpacked([_segment((0.5, 1.0, " Hello"), (3.0, 3.4, " there")),
                                                 _segment((5.8, 6.3, " again"))], pieces)]
    assert [(w.start, w.end) for s in out for w in s.words] == [(1.1, 1.6), (3.6, 4.0), (20.6, 21.1)]
    assert (out[0].start, out[0].end, out[1].start) == (1.1, 4.0, 20.6)


def test_a_phrase_said_three_times_in_a_row_is_a_loop_and_kept_once():
    """Under a louder voice or noise Whisper can write what it hears again and again, a loop too short for its
    compression test; the texts are tiny.en's own, from generated interviews. The last copy is kept (it ends the
    sentence). A word said three times ("no, no, no") and a phrase said twice are speech, and stay. The voices are
    not compared: the speakers' turns can change inside a loop."""
    def said(text, speaker="Ana"):
        return [Word(i * 0.3, i * 0.3 + 0.25, w, speaker) for i, w in enumerate(text.split())]

    def kept(words):
        return " ".join(w.text for w in core._unrepeated(words))

    assert kept(said("kids rolling up Right, okay. Right, okay. Right, okay. different shops,")) == \
        "kids rolling up Right, okay. different shops,"
    assert kept(said("at the end one another one another one another and one")) == "at the end one another and one"
    assert kept(said("a child there no no no no no then we need")) == "a child there no then we need"
    assert kept(said("No, no, no, that's not it")) == "No, no, no, that's not it"
    assert kept(said("that is the point, the point of it all")) == "that is the point, the point of it all"
    words = said("we said thank you so much Thank you so much. thank you, so much! for the soup")
    out = core._unrepeated(words)
    assert kept(words) == "we said thank you, so much! for the soup"
    assert out[2] is words[10]  # the words kept are the words found, times and all
    loop = said("Right, okay. Right,", "Owen") + said("okay. Right, okay.", "Leila")  # held-out d4, diarized
    assert kept(loop) == "Right, okay."
    assert core._unrepeated([]) == []


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_a_transcript_keeps_a_phrase_said_three_times_once(tmp_path, model_dir):
    """The transcript goes through it: a phrase said three times in a row comes out once (the cost of catching the
    model's short loops, see above)."""
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(tmp_path / "thanks.wav"),
                    "We planted the beans on Sunday. Thank you, thank you, thank you. Then the rain came."], check=True)
    text = norm(" ".join(w.text for w in core.transcribe_audio(tmp_path / "thanks.wav", model_dir=model_dir).words))
    assert text.count("thank") == 1 and {"beans", "sunday", "rain"} <= set(text), text


def test_a_window_that_gives_back_the_hotwords_is_read_again():
    """The names in the prompt, written out in place of a window's speech, are not taken as words (they are decoded
    again with the holes); speech that says the names among other words is kept. The texts are the batched pass's
    own, from tiny.en on generated interviews."""
    echoes = [
        ("Hannah Price, Declan Murray.",
         " Hannah Price, Declan Murray, Declan Murray, Declan Murray, Declan Murray, Declan"),
        ("Ines Carvalho, Walter Ashby, Priya Raman.", " Ines Carvalho Ashby, Priya Raman. Ines Carvalho Ashby, Priya Raman."),
        ("Tom Whitfield, Mina Patel.", " Tom Whitfield, Mina Patel, Mina Patel, Mina Patel."),
        ("Siobh\u00e1n O\u2019Brien, Tom Ryan.", " Siobh\u00e1n O'Brien, Tom Ryan, Tom Ryan, Tom Ryan."),  # typed curly
    ]
    for hotwords, text in echoes:
        assert core._echoes_hotwords(text, hotwords), text
    speech = [
        ("Delia Farrant, Esperanza Villanueva.", " Esperanza, what does the choir give them in? Esperanza Villanueva, "
         "thank you so much. That radical kindness, find voiceless ideas and sing with it."),
        ("Hannah Price, Declan Murray.", " Declan Murray, thanks so much."),
        ("Hannah Price, Declan Murray.", " Cheers, Hannah."),  # too short to tell
        ("Radical Kindness, Ruth Adeyemi.", " Welcome to Radical Kindness. I'm Ruth Adeyemi."),  # nothing twice
        ("Hannah Price, Declan Murray.", " Hannah Price, Declan Murray. Welcome, Hannah. Welcome, Declan."),
        ("Hannah Price, Declan Murray.", " That was Hannah Price and Declan Murray. Hannah, Declan, thanks."),
        ("Mar\u00eda de la Cruz, Tom Ryan.", " la casa de la m\u00fasica de la ciudad"),  # a name's words, not the name
        ("Food Bank, Community Land Trust.", " The food bank and the land trust and the food bank."),  # 4 of 10
    ]
    for hotwords, text in speech:
        assert not core._echoes_hotwords(text, hotwords), text
    assert not core._echoes_hotwords(" Hannah Price, Declan Murray, Declan Murray.", None)  # no hotwords given


def test_the_echo_check_gives_the_same_answer_in_every_process():
    """Two hotword entries of the same length that overlap in the text ("Jo Li", "Li Jo") are tried in a fixed
    order, not in the order of Python's string hashing, which changes from one process to the next."""
    import os
    import sys

    code = ("from pipeline.speech.whisper import _echoes_hotwords as echo; "
            "print(echo('Jo Li and Li Jo Li Jo said hi', 'Jo Li, Li Jo'))")
    root = Path(__file__).resolve().parents[1]
    answers = {subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip() for seed in range(1, 9)}
    assert len(answers) == 1, answers


def test_quiet_speech_is_read_in_windows_of_its_own():
    """A voice far under the loudest tenth of the speech gets windows of its own, after the loud ones; at one level
    nothing moves."""
    import numpy as np

    rng = np.random.default_rng(1)
    samples = np.zeros(80 * 16000, np.float32)
    stretches = [(1.0, 4.0), (5.0, 17.0), (18.0, 20.0), (21.0, 40.0), (41.0, 42.0), (43.0, 70.0)]
    quiet = [False, True, False, True, False, True]  # a host's short questions, a guest 14 dB under them
    for (a, b), q in zip(stretches, quiet):
        part = rng.standard_normal(int((b - a) * 16000)).astype(np.float32) * (0.02 if q else 0.1)
        samples[int(a * 16000):int(a * 16000) + len(part)] = part
    pieces = core._pieces(stretches, 80.0)
    laid = core._by_level(pieces, samples)
    assert [p.quiet for p in laid] == [False] * 3 + [True] * 3
    assert [(p.start, p.end) for p in laid] == [(p.start, p.end) for p in pieces if p.start in (0.6, 17.6, 40.6)] + \
        [(p.start, p.end) for p in pieces if p.start in (4.6, 20.6, 42.6)]
    lengths = [p.end - p.start for p in laid]
    assert [p.at for p in laid] == pytest.approx([sum(lengths[:i]) for i in range(len(laid))], abs=1e-3)
    groups = core._chunks(laid)
    assert all(len({p.quiet for p in g}) == 1 for g in groups)  # loud and quiet never share a window
    assert [len(g) for g in groups] == [3, 1, 1, 1]  # 8.4 s loud; the quiet pieces (12.8, 19.8, 27.8 s) one a window
    assert all(g[-1].until - g[0].at <= 30.0 for g in groups)
    # the batched pass's times still come back to the track: 0.5 s into the first quiet piece
    seg = _segment((laid[3].at + 0.5, laid[3].at + 0.9, " yes"))
    assert [(x.start, x.end) for x in next(core._unpacked([seg], laid))[1].words] == [(5.1, 5.5)]
    # a loop in the loud window is a hole where its pieces lie, not over the quiet speech read between them
    loop = core._track_spans(groups[0][0].at, groups[0][-1].until, laid)
    assert loop == [(0.6, 4.4), (17.6, 20.4), (40.6, 42.4)]
    from faster_whisper.transcribe import Word as FWord

    read = [FWord(start=t, end=t + 0.3, word=" la", probability=1.0)
            for (a, b), q in zip(stretches, quiet) if q for t in np.arange(a, b - 0.3, 0.5)]
    assert core._holes(stretches, read, looped=loop) == [(1.0, 4.0), (18.0, 20.0), (41.0, 42.0)]

    even = samples.copy()
    for (a, b), q in zip(stretches, quiet):
        if q:
            even[int(a * 16000):int(b * 16000)] *= 5  # every voice at one level
    assert core._by_level(pieces, even) == pieces
    one = even.copy()
    one[43 * 16000:70 * 16000] /= 5  # one quiet stretch, 27.8 s with its pads
    assert [(p.start, p.quiet) for p in core._by_level(pieces, one)][-2:] == [(40.6, False), (42.6, True)]
    few = even.copy()
    for a, b in stretches[::2]:
        few[int(a * 16000):int(b * 16000)] /= 5  # three short quiet stretches, 8.4 s with their pads: they stay
    assert sum(p.end - p.start for p in pieces[::2]) < core.QUIET_AT_LEAST_SECONDS
    assert core._by_level(pieces, few) == pieces


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_blocks_cost_no_extra_windows_and_silence_is_not_decoded(tmp_path, model_dir, monkeypatch):
    """The file is read in blocks; a block's last window, half full, waits for the next block's speech instead of
    being decoded half empty; a long silence is not read at all. Same words as in one block."""
    from faster_whisper import BatchedInferencePipeline

    texts = ["The library on Mill Street opened its doors to everyone in the valley. On the first evening the farmers "
             "and the students sat at the same long table, arguing about rain, prices and football. Nobody left "
             "early. By midnight the old miller was teaching a chemistry student how to read the clouds, and she was "
             "showing him how the weather maps on her phone were drawn.",
             "A year later the same table holds a seed exchange every second Saturday. Twelve families bring "
             "tomatoes, beans and stories. The council wanted to close the building in March, but four hundred "
             "letters arrived in one week, most of them written by people who had never agreed about anything "
             "before. The doors are still open."]
    for i, text in enumerate(texts):
        subprocess.run(["espeak-ng", "-s", "160", "-w", str(tmp_path / f"{i}.wav"), text], check=True)
    wav = tmp_path / "talk.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(tmp_path / "0.wav"), "-i", str(tmp_path / "1.wav"),
                    "-filter_complex", "[0]apad=pad_dur=25[a];[a][1]concat=n=2:v=0:a=1", "-ar", "16000", "-ac", "1",
                    str(wav)], check=True)
    whole = next(core.audio_blocks(wav, 1, block_seconds=1000.0))[1][0]
    duration = len(whole) / 16000
    needed = len(core._chunks(core._pieces(core.speech_stretches(whole), duration)))

    clips = []
    real = BatchedInferencePipeline.transcribe

    def spy(self, *a, **k):
        clips.extend(k["clip_timestamps"])
        return real(self, *a, **k)

    monkeypatch.setattr(BatchedInferencePipeline, "transcribe", spy)
    one = core.transcribe_audio(wav, model_dir=model_dir)
    monkeypatch.setattr(core, "FILL_HOLES", False)  # only the batched pass is counted from here
    clips.clear()
    monkeypatch.setattr(core, "BLOCK_SECONDS", 25.0)
    assert len(list(core.audio_blocks(wav, 1))) >= 3
    blocks = core.transcribe_audio(wav, model_dir=model_dir)
    assert duration > 60 and all(c["end"] - c["start"] <= 30.0 for c in clips)
    assert len(clips) == needed  # no more windows than one block would need
    assert sum(c["end"] - c["start"] for c in clips) < duration - 20  # the silence was not read
    a, b = norm(" ".join(w.text for w in one.words)), norm(" ".join(w.text for w in blocks.words))
    assert len(a) > 100 and abs(len(a) - len(b)) <= 6 and ordered(blocks.words)
    assert {"library", "farmers", "football", "tomatoes", "letters", "open"} <= set(a) & set(b)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_windows_are_encoded_and_aligned_one_at_a_time_with_the_same_words(tmp_path, model_dir, monkeypatch):
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    lines = ["Forty neighbours brought their own tools to the garden.", "Nobody expected so many children to come."]
    parts = []
    for i, line in enumerate(lines):
        subprocess.run(["espeak-ng", "-s", "150", "-w", str(tmp_path / f"{i}.wav"), line], check=True)
        parts.append(next(core.audio_blocks(tmp_path / f"{i}.wav", 1))[1][0])
    import numpy as np

    samples = np.concatenate(parts)
    clips = [{"start": 0.0, "end": len(parts[0]) / 16000}, {"start": len(parts[0]) / 16000,
                                                            "end": len(samples) / 16000}]
    ours = core.load_model(str(model_dir), "int8", 2)
    theirs = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True)
    batches = []
    real_encode, real_align = WhisperModel.encode, WhisperModel.find_alignment
    monkeypatch.setattr(WhisperModel, "encode", lambda self, f: (batches.append(("encode", type(self).__name__,
                                                                                 f.shape[0])), real_encode(self, f))[1])
    monkeypatch.setattr(WhisperModel, "find_alignment", lambda self, tok, tt, *a, **k: (
        batches.append(("align", type(self).__name__, len(tt))), real_align(self, tok, tt, *a, **k))[1])
    found = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        segments, _ = BatchedInferencePipeline(model).transcribe(
            samples, language="en", word_timestamps=True, vad_filter=False, clip_timestamps=clips, batch_size=8)
        found[name] = [w for s in segments for w in s.words]
    assert sorted(set(b for b in batches if b[1] == "WindowByWindow")) == [("align", "WindowByWindow", 1),
                                                                          ("encode", "WindowByWindow", 1)]
    assert ("encode", "WhisperModel", 2) in batches  # faster-whisper's own model: both windows at once
    assert [w.word for w in found["ours"]] == [w.word for w in found["theirs"]]
    assert {"neighbours", "children"} <= set(norm(" ".join(w.word for w in found["ours"])))
    assert all(abs(a.start - b.start) < 0.2 and abs(a.end - b.end) < 0.2 for a, b in zip(found["ours"],
                                                                                        found["theirs"]))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (Debian package) for speech")
def test_a_window_of_the_sequential_decoder_gets_tokens_for_the_audio_it_holds(tmp_path, model_dir, monkeypatch):
    """On a sliver of pause at the end of a clip Whisper can loop on the hotwords up to 448 tokens, at every fallback
    temperature (3 s for nothing, on a 70 s interview): each window of the sequential decoder may now generate 10
    tokens a second of the audio it holds, and 16 more. Real speech needs at most about 6 a second."""
    import numpy as np
    from faster_whisper import WhisperModel

    subprocess.run(["espeak-ng", "-s", "150", "-w", str(tmp_path / "line.wav"),
                    "Forty neighbours brought their own tools to the garden."], check=True)
    speech = next(core.audio_blocks(tmp_path / "line.wav", 1))[1][0]
    budgets = []
    real = WhisperModel.generate_with_fallback
    monkeypatch.setattr(WhisperModel, "generate_with_fallback", lambda self, enc, prompt, tok, options: (
        budgets.append(options.max_new_tokens), real(self, enc, prompt, tok, options))[1])
    ours = core.load_model(str(model_dir), "int8", 2)
    theirs = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True)
    said = {}
    for name, model in (("ours", ours), ("theirs", theirs)):
        segments, _ = model.transcribe(speech, language="en", beam_size=5, word_timestamps=True,
                                       hotwords="Mina Patel, Sam Whitfield.")
        said[name] = [w.word for s in segments for w in s.words]
    seconds = len(speech) / 16000
    assert len(budgets) == 2 and budgets[1] is None  # faster-whisper's own model: up to its 448 tokens
    assert abs(budgets[0] - (10 * seconds + 16)) <= 2, (budgets[0], seconds)
    assert said["ours"] == said["theirs"] and {"neighbours", "garden"} <= british(norm(" ".join(said["ours"])))

    budgets.clear()  # a full 30 s window: 316 tokens, within what the model's 448 leave after the prompt
    segments, _ = ours.transcribe(np.concatenate([speech, np.zeros(40 * 16000, np.float32)]), language="en",
                                  beam_size=5)
    list(segments)
    assert budgets[0] == 316
