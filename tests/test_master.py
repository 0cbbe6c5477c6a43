"""Mastering with real speech and real ffmpeg: loudness and true peak measured by ffmpeg's ebur128 on the output,
trimming, cuts, intro/outro music, chapter remapping (chapters.json and ID3 CHAP), bad input, and a real build."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ffmpeg_exe, kindcast, make_show, speech_source, synth, write_episode
from pipeline.errors import KindcastError
from pipeline.audio.master import MasterJob, master
from pipeline.audio.tags import ChapterMark, TagInfo



def ff(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) as ffmpeg's ebur128 filter reports them."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-af",
                          "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
                         capture_output=True, text=True, check=True).stderr
    summary = out[out.rindex("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return lufs, peak


def duration_of(path: Path) -> float:
    import mutagen

    return mutagen.File(str(path)).info.length


def speech(tmp: Path, name: str, *, start: float = 0.0, seconds: float = 14.0, gain_db: float = 0.0,
           lead: float = 0.0, trail: float = 0.0, stereo: bool = False, limit: float | None = None) -> Path:
    """A clip of speech (LJSpeech, else a generated interview), attenuated or boosted, with digital silence added at
    both ends."""
    chain = []
    if limit is not None:
        chain.append(f"alimiter=limit={limit}:level=0:latency=1")
    chain += [f"volume={gain_db}dB", "aresample=44100"]
    if lead:
        chain.append(f"adelay={int(lead * 1000)}:all=1")
    if trail:
        chain.append(f"apad=pad_dur={trail}")
    chain.append(f"aformat=channel_layouts={'stereo' if stereo else 'mono'}")
    out = tmp / name
    ff("-ss", str(start), "-t", str(seconds), "-i", str(speech_source()), "-af", ",".join(chain), str(out))
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("clips")
    return {
        # about -35 LUFS, 2.5 s of silence before and 3 s after, stereo: the "quiet recording" in small
        "quiet": speech(tmp, "quiet.wav", gain_db=-14.0, lead=2.5, trail=3.0, stereo=True, limit=0.95),
        # about -9 LUFS with peaks at full scale, mono
        "loud": speech(tmp, "loud.flac", start=30.0, gain_db=12.0, limit=1.0),
    }


def test_quiet_stereo_recording_via_the_cli(clips, tmp_path):
    src = clips["quiet"]
    before, _ = ebur128(src)
    assert before < -30  # the fixture really is quiet
    out = tmp_path / "quiet.mp3"
    proc = kindcast("master", src, out)
    assert proc.returncode == 0, proc.stderr
    lufs, peak = ebur128(out)
    assert abs(lufs + 16.0) <= 0.5
    assert peak <= -1.0
    assert duration_of(src) - duration_of(out) >= 4.0  # 5.5 s of silence, 0.35 s of breath kept each side
    import mutagen

    assert mutagen.File(str(out)).info.channels == 2
    assert "LUFS" in proc.stdout and "dBTP" in proc.stdout


def test_loud_mono_recording_cli_defaults_to_minus_16_and_stays_mono(clips, tmp_path):
    src = clips["loud"]
    before, _ = ebur128(src)
    assert before > -12
    out = tmp_path / "loud.mp3"
    proc = kindcast("master", src, out, "--true-peak", "-1.5")
    assert proc.returncode == 0, proc.stderr
    lufs, peak = ebur128(out)
    assert abs(lufs + 16.0) <= 0.5  # the single-file contract: -16 whatever the channel count
    assert peak <= -1.5
    import mutagen

    assert mutagen.File(str(out)).info.channels == 1


def test_mono_target_and_m4a(clips, tmp_path):
    out = tmp_path / "mono.m4a"
    r = master(MasterJob(source=clips["loud"], output=out, fmt="m4a", target_lufs=-16, mono_target_lufs=-19,
                         cuts=((3.0, 5.0),), chapters=(ChapterMark(0, "One"), ChapterMark(9.0, "Two; =three")),
                         trim=False, tags=TagInfo(title="T", album="Show", artist="Author", track=3)))
    lufs, peak = ebur128(out)
    assert r.channels == 1 and abs(lufs + 19.0) <= 0.5 and peak <= -1.0
    assert (r.lufs, r.true_peak) == (lufs, peak)
    from mutagen.mp4 import MP4

    tags = MP4(str(out)).tags
    assert tags["\xa9nam"] == ["T"] and tags["\xa9alb"] == ["Show"] and tags["trkn"] == [(3, 0)]
    import av  # the chapters ffmpeg wrote into the MP4 survive the tagging, at published times

    with av.open(str(out)) as container:
        chapters = [(round(float(c["start"] * c["time_base"]), 2), c["metadata"]["title"]) for c in container.chapters()]
    assert chapters == [(0.0, "One"), (7.0, "Two; =three")]


def test_cuts_intro_outro_and_chapter_remapping(tmp_path):
    # raw: 6 s speech | 4 s of a loud 1 kHz tone (a false start to cut) | 6 s speech
    a = speech(tmp_path, "a.wav", start=0, seconds=6, gain_db=-6)
    b = speech(tmp_path, "b.wav", start=20, seconds=6, gain_db=-6)
    tone = synth(tmp_path / "tone.wav", "sine=f=1000:sample_rate=44100", 4, "-af", "volume=-1dB")
    raw = tmp_path / "raw.wav"
    ff("-i", str(a), "-i", str(tone), "-i", str(b), "-filter_complex",
       "[0:a][1:a][2:a]concat=n=3:v=0:a=1", str(raw))
    intro = synth(tmp_path / "intro.wav", "sine=f=330:sample_rate=44100", 2, "-af", "volume=-20dB")
    outro = synth(tmp_path / "outro.wav", "sine=f=220:sample_rate=44100", 1.5, "-af", "volume=-20dB")
    art = tmp_path / "art.jpg"
    from conftest import make_artwork

    make_artwork(art.with_suffix(".png"), size=1400)
    from PIL import Image

    Image.open(art.with_suffix(".png")).convert("RGB").save(art, "JPEG")
    chapters = (ChapterMark(0, "Welcome"), ChapterMark(7.0, "Inside the cut"), ChapterMark(11.0, "Second part"),
                ChapterMark(15.9, "Too late"))
    out = tmp_path / "ep.mp3"
    r = master(MasterJob(source=raw, output=out, cuts=((6.0, 10.0),), intro=intro, outro=outro, chapters=chapters,
                         trim=False, tags=TagInfo(title="Ep", album="Show", artist="Author", track=7,
                                                  date="2026-11-01", artwork=art)))
    # the loud tone was cut, and the loudness was computed without it: the speech itself is at target
    lufs, peak = ebur128(out)
    assert abs(lufs + 16.0) <= 0.5 and peak <= -1.0
    assert abs(r.source_lufs - ebur128(a)[0]) < 1.5  # the tone (about -4 LUFS) would have dominated
    assert r.timeline.offset == pytest.approx(2.0, abs=0.01)
    segs = [(s.raw_start, s.raw_end, s.published_start) for s in r.timeline.segments]
    assert segs[0][:2] == (0.0, 6.0) and segs[1][:2] == (10.0, 16.0)
    assert abs(segs[1][2] - 8.0) < 0.01
    assert abs(duration_of(out) - (2 + 12 + 1.5)) < 0.15
    # raw 0 -> 2 (after the intro); 7 (inside the cut) -> where the audio resumes, 8; 11 -> 9; 15.9 -> 13.9
    starts = [(c["title"], c["startTime"]) for c in r.chapters]
    assert starts == [("Welcome", 2.0), ("Inside the cut", 8.0), ("Second part", 9.0), ("Too late", 13.9)]
    # the same times in the ID3 chapters
    from mutagen.id3 import ID3

    id3 = ID3(str(out))
    chaps = sorted(id3.getall("CHAP"), key=lambda c: c.start_time)
    assert [(c.sub_frames["TIT2"].text[0], c.start_time) for c in chaps] == [
        ("Welcome", 2000), ("Inside the cut", 8000), ("Second part", 9000), ("Too late", 13900)]
    assert chaps[-1].end_time == pytest.approx(15500, abs=60)
    toc = id3.getall("CTOC")[0]
    assert list(toc.child_element_ids) == [c.element_id for c in chaps]
    assert id3["TIT2"].text == ["Ep"] and id3["TALB"].text == ["Show"] and id3["TPE1"].text == ["Author"]
    assert id3["TRCK"].text == ["7"] and str(id3["TDRC"].text[0]).startswith("2026")
    apic = id3.getall("APIC")[0]
    assert apic.mime == "image/jpeg" and apic.data == art.read_bytes()
    assert json.loads(r.chapters_json())["version"] == "1.2.0"


def test_silent_recording_is_a_clear_error(tmp_path):
    silent = synth(tmp_path / "silent.wav", "anullsrc=r=44100:cl=stereo", 5)
    with pytest.raises(KindcastError, match=r"silent\.wav.*silent"):
        master(MasterJob(source=silent, output=tmp_path / "x.mp3"))
    proc = kindcast("master", silent, tmp_path / "x.mp3")
    assert proc.returncode == 1
    assert "silent" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.mp3").exists()


@pytest.mark.parametrize("content", [b"", b"this is not audio at all\n" * 50])
def test_not_audio_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "recording.mp3"
    bad.write_bytes(content)
    proc = kindcast("master", bad, tmp_path / "out.mp3")
    assert proc.returncode == 1
    assert "recording.mp3" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out.mp3").exists()


def test_cut_outside_the_recording(clips, tmp_path):
    with pytest.raises(KindcastError, match=r"cuts\[0\].*after the recording ends"):
        master(MasterJob(source=clips["loud"], output=tmp_path / "x.mp3", cuts=((100.0, 110.0),), label="ep-9"))


def test_build_masters_each_episode_once_and_a_bad_one_does_not_stop_the_others(tmp_path):
    root = make_show(tmp_path / "show", settings={"silence": {"pad": 0.2}})
    good = speech(tmp_path, "talk.wav", start=60, seconds=10, gain_db=-10, lead=2.0, trail=2.0)
    write_episode(root, "ep-01", {"title": "Good one", "date": "2026-11-01", "number": 1, "guid": "g-1",
                                  "chapters": [{"start": 0, "title": "Hello"}, {"start": "0:07", "title": "Later"}],
                                  "cuts": [{"start": 4, "end": 5}]}, good)
    silent = synth(tmp_path / "quiet.wav", "anullsrc=r=44100:cl=mono", 4)
    write_episode(root, "ep-02", {"title": "Silent one", "date": "2026-11-02", "number": 2, "guid": "g-2"}, silent)
    first = kindcast("build", "--root", root)
    assert first.returncode == 1  # ep-02 failed
    assert "ep-02" in first.stderr and "silent" in first.stderr
    out = root / "feeds" / "episodes" / "ep-01" / "ep-01.mp3"
    assert out.is_file()
    lufs, peak = ebur128(out)
    assert abs(lufs + 19.0) <= 0.5 and peak <= -1.0  # a mono recording: the show's mono target
    state = json.loads((root / ".kindcast" / "state" / "ep-01.json").read_text())["stages"]
    result = state["master"]["result"]
    assert result["file"] == "ep-01.mp3" and result["mime"] == "audio/mpeg" and result["channels"] == 1
    assert result["bytes"] == out.stat().st_size
    assert abs(result["duration"] - duration_of(out)) < 0.01
    # sound from 2.0 s (0.2 s of breath kept: 1.8), raw 7 s is 1 s after the cut: published 7 - 1.8 - 1 = 4.2
    chapters = json.loads((out.parent / "chapters.json").read_text())
    assert chapters["chapters"][0] == {"startTime": 0.0, "title": "Hello"}
    assert abs(chapters["chapters"][1]["startTime"] - 4.2) < 0.06
    assert chapters["chapters"] == result["chapters"]
    from mutagen.id3 import ID3

    id3 = ID3(str(out))
    assert id3["TIT2"].text == ["Good one"] and id3["TALB"].text == ["Test Show"]
    assert id3["TPE1"].text == ["Test Author"] and id3.getall("APIC")
    assert sorted(c.start_time for c in id3.getall("CHAP")) == [0, round(chapters["chapters"][1]["startTime"] * 1000)]
    mtime = out.stat().st_mtime_ns
    second = kindcast("build", "--root", root, "--episode", "ep-01")
    assert second.returncode == 0, second.stderr
    assert "master" not in second.stdout and out.stat().st_mtime_ns == mtime


def test_sound_bounds_skip_blips_at_the_ends():
    from array import array

    from pipeline.audio.measure import Measurement
    from pipeline.audio.plan import sound_bounds

    def bounds(silences, duration=60.0):
        return sound_bounds(Measurement(duration, array("d"), array("d"), silences, None), duration)

    # silence 0-3, a click 3-3.1, silence 3.1-6, talk, a pause 30-31, talk, silence from 55 to the end
    assert bounds([(0, 3.0), (3.1, 6.0), (30.0, 31.0), (55.0, 60.0)]) == (6.0, 55.0)
    # a bump near the end too; silence reported without an end runs to the end
    assert bounds([(0, 2.0), (40.0, 50.0), (50.1, None)]) == (2.0, 40.0)
    # a real (long) sound is never skipped; no silence at all keeps everything
    assert bounds([(0, 2.0), (2.5, 4.0)]) == (2.0, 60.0)
    assert bounds([]) == (0.0, 60.0)
    assert bounds([(0, 60.0)]) is None and bounds([(0.0, None)]) is None
    assert bounds([(0, 2.0), (2.1, 60.0)]) is None  # only a click: silent
