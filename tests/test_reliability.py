"""Release-day reliability: every value a producer can write ends as one line naming file and field, nothing escapes
the show folder, and a build that fails or is killed never breaks what is published.

Bad input is checked through the real command line (``kindcast check`` / ``build``): exit code, the file and field
named on one line, no traceback, the other episodes unharmed and nothing under ``episodes/`` modified.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import kindcast, make_show, synth, write_episode
from pipeline.cli import main
from pipeline.engine.staging import is_temporary

GOOD = {"title": "A good one", "date": "2026-01-05", "guid": "g-good", "number": 1}


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` and a digest of its bytes (what a producer would not want changed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    return synth(tmp_path_factory.mktemp("audio") / "tone.wav", "sine=f=330", 6, "-af", "volume=-12dB")


@pytest.fixture
def show(tmp_path, tone) -> Path:
    """A valid show with one good episode; tests add the bad one."""
    root = make_show(tmp_path / "show")
    write_episode(root, "good", GOOD, tone)
    return root


def check(root: Path, capsys) -> tuple[int, list[str]]:
    """``kindcast check`` in this process (fast); returns the exit code and stderr's lines."""
    code = main(["check", "--root", str(root)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip().splitlines()


def episode_md(root: Path, slug: str, front: str, notes: str = "Notes.\n", audio: Path | None = None) -> Path:
    folder = root / "episodes" / slug
    folder.mkdir(parents=True, exist_ok=True)
    if audio is not None:
        shutil.copy2(audio, folder / audio.name)
    (folder / "episode.md").write_text("---\n" + front.strip("\n") + "\n---\n" + notes, encoding="utf-8")
    return folder


# --- every field of episode.md ---------------------------------------------------------------------------------------

BASE = "title: Bad one\nguid: g-bad\nnumber: 2\n"
EPISODE_CASES = [
    # (front matter, field named, words in the message)
    ("title: Bad one\nguid: g-bad\ndate: 2026-13-45", "date", "month"),
    ("title: Bad one\nguid: g-bad\ndate: 2026-02-30", "date", "day"),
    ("title: Bad one\nguid: g-bad\ndate: next tuesday", "date", "date"),
    ("title: Bad one\nguid: g-bad", "date", "missing"),
    (BASE + "date: 2026-01-06\nseason: 1.5", "season", "integer"),
    ("title: Bad one\nguid: g-bad\ndate: 2026-01-06\nnumber: four", "number", "integer"),
    ("title: Bad one\nguid: g-bad\ndate: 2026-01-06\nnumber: -3", "number", "greater than or equal to 0"),
    (BASE + "date: 2026-01-06\nexplicit: maybe", "explicit", "boolean"),
    (BASE + "date: 2026-01-06\nepisode_type: special", "episode_type", "full"),
    (BASE + "date: 2026-01-06\nchapters: [{start: '1:75', title: A}]", "chapters[0].start", "0 to 59"),
    (BASE + "date: 2026-01-06\nchapters: [{start: -5, title: A}]", "chapters[0].start", "negative"),
    (BASE + "date: 2026-01-06\nchapters: [{start: .nan, title: A}]", "chapters[0].start", "not a time"),
    (BASE + "date: 2026-01-06\nchapters: [{start: 1}]", "chapters[0].title", "missing"),
    (BASE + "date: 2026-01-06\ncuts: [{start: 4, end: 2}]", "cuts[0]", "after start"),
    (BASE + "date: 2026-01-06\ncuts: [{start: 40, end: 50}]", "cuts[0]", "after the recording ends"),
    (BASE + "date: 2026-01-06\nsoundbites: [{start: 0, duration: 10}]", "soundbites[0].duration", "15 to 90"),
    (BASE + "date: 2026-01-06\nsoundbites: [{start: 1, duration: 30}]", "soundbites[0]", "past the end"),
    (BASE + "date: 2026-01-06\nguests: Amina", "guests", "list"),
    (BASE + "date: 2026-01-06\nguests: [{role: guest}]", "guests[0].name", "missing"),
    (BASE + "date: 2026-01-06\nconditions: [42]", "conditions[0]", "unknown condition"),
    (BASE + "date: 2026-01-06\nconditions: [2, social-mixing]", "conditions[1]", "twice"),
    (BASE + "date: 2026-01-06\ntitel: typo", "titel", "did you mean 'title'"),
    ("title: Bad one\nguid: g-bad\ndate: 2026-01-06\ntitle: again", "", "given twice"),
    ("title: [unclosed\nguid: g-bad\ndate: 2026-01-06", "", "line"),
    ('title: "Tools \\x07 bell"\nguid: g-bad\ndate: 2026-01-06', "title", "control character (U+0007)"),
    ('title: Fine\nguid: g-bad\ndate: 2026-01-06\nguests: [{name: "a\\x01b"}]', "guests[0].name", "U+0001"),
    ('title: Fine\nguid: g-bad\ndate: 2026-01-06\nsummary: "zero\\0byte"', "summary", "U+0000"),
    (BASE + "date: 2026-01-06\naudio: /etc/hostname", "audio", "inside the show"),
    (BASE + "date: 2026-01-06\naudio: ../../../outside.wav", "audio", "outside the show"),
    (BASE + "date: 2026-01-06\nartwork: ../../../art.png", "artwork", "outside the show"),
    (BASE + "date: 2026-01-06\naudio: missing.wav", "audio", "not found"),
    (BASE + "date: 2026-01-06\nguests: [{name: G, href: 'javascript:alert(1)'}]", "guests[0].href", "http(s)"),
    (BASE + "date: 2026-01-06\nguests: [{name: G, img: 'data:image/png;base64,AAAA'}]", "guests[0].img", "http(s)"),
    (BASE + "date: 2026-01-06\nchapters: [{start: 0, title: A, url: 'javascript:x()'}]", "chapters[0].url", "http"),
    (BASE + "date: 2026-01-06\nchapters: [{start: 0, title: A, url: 'https://'}]", "chapters[0].url", "host"),
    (BASE + "date: 2026-01-06\nnumber: 1", "", "given twice"),
]


@pytest.mark.parametrize("front, field, words", EPISODE_CASES, ids=[f"{c[1] or 'file'}-{i}" for i, c in
                                                                     enumerate(EPISODE_CASES)])
def test_a_bad_episode_field_is_one_line_naming_file_and_field(show, tone, capsys, front, field, words):
    episode_md(show, "bad", front, audio=tone)
    before = fingerprint(show / "episodes")
    code, lines = check(show, capsys)
    assert code == 1
    where = "episodes/bad/episode.md: " + (f"{field}: " if field else "")
    named = [line for line in lines if line.startswith("error: " + where)]
    assert named and any(words.lower() in line.lower() for line in named), lines
    assert not any("episodes/good" in line for line in lines if line.startswith("error"))  # the other one is fine
    assert fingerprint(show / "episodes") == before  # check writes nothing under episodes/


def test_yaml_mistakes_name_the_right_line(show, tone, capsys):
    episode_md(show, "bad", "title: One\nguid: g-bad\ndate: 2026-01-06\nguests: [a, b\nnumber: 3", audio=tone)
    _, lines = check(show, capsys)
    line = next(x for x in lines if "episodes/bad/episode.md" in x)
    assert "not valid YAML at line 6" in line, line  # '---' is line 1; the unclosed list is found at line 6


def test_every_problem_is_listed_at_once(show, tone, capsys):
    """A wrong field elsewhere does not hide a chapter past the end of the recording."""
    episode_md(show, "bad", "title: ''\nguid: g-bad\ndate: 2026-01-06\nnumber: x\n"
                            "chapters: [{start: 0, title: A}, {start: 99, title: B}]", audio=tone)
    _, lines = check(show, capsys)
    fields = {line.split(": ")[2] for line in lines if line.startswith("error: episodes/bad/episode.md")}
    assert {"title", "number", "chapters[1].start"} <= fields, lines


def test_not_utf8_and_not_closed(show, tone, capsys):
    folder = episode_md(show, "latin", "title: Caf\xe9\nguid: g-l\ndate: 2026-01-06", audio=tone)
    (folder / "episode.md").write_bytes((folder / "episode.md").read_text().encode("latin-1"))
    (show / "episodes" / "open").mkdir()
    (show / "episodes" / "open" / "episode.md").write_text("---\ntitle: x\n")
    _, lines = check(show, capsys)
    assert any(x.startswith("error: episodes/latin/episode.md") and "UTF-8" in x for x in lines), lines
    assert any(x.startswith("error: episodes/open/episode.md") and "not closed" in x for x in lines), lines


def test_a_recording_linked_from_outside_the_show_is_refused(show, tone, capsys, tmp_path):
    folder = episode_md(show, "linked", "title: L\nguid: g-l\ndate: 2026-01-06")
    (folder / "talk.wav").symlink_to(tone)
    code, lines = check(show, capsys)
    assert code == 1 and any("episodes/linked/episode.md: audio:" in x and "outside the show" in x for x in lines)


@pytest.mark.parametrize("payload, words", [
    (b"", "empty"),
    (bytes(range(256)) * 64, "not a readable audio file"),
    (b"just some text, renamed\n" * 50, "not a readable audio file"),
])
def test_unreadable_recordings_are_named(show, capsys, payload, words):
    folder = episode_md(show, "broken", "title: B\nguid: g-b\ndate: 2026-01-06")
    (folder / "talk.mp3").write_bytes(payload)
    code, lines = check(show, capsys)
    assert code == 1
    assert any(x.startswith("error: episodes/broken/episode.md: audio: talk.mp3") and words in x for x in lines), lines


# --- every field of show.yaml ----------------------------------------------------------------------------------------

SHOW_CASES = [
    ({"settings": {"output_dir": "../../anything"}}, "settings.output_dir", "outside the show"),
    ({"settings": {"output_dir": "."}}, "settings.output_dir", "folder of its own"),
    ({"settings": {"output_dir": "episodes"}}, "settings.output_dir", "folder of its own"),
    ({"settings": {"output_dir": "episodes/feeds"}}, "settings.output_dir", "folder of its own"),
    ({"settings": {"music": {"intro": "/tmp/intro.wav"}}}, "settings.music.intro", "inside the show"),
    ({"settings": {"conditions": {"taxonomy": "../../etc/mine.yaml"}}}, "settings.conditions.taxonomy", "outside"),
    ({"settings": {"audiogram": {"theme": {"fonts_dir": "../.."}}}}, "settings.audiogram.theme.fonts_dir", "outside"),
    ({"settings": {"transcription": {"model": "../../models/base"}}}, "settings.transcription.model", "outside"),
    ({"artwork": "../../art.png"}, "artwork", "outside the show"),
    ({"funding": [{"url": "javascript:alert(1)"}]}, "funding[0].url", "http(s)"),
    ({"link": "ftp://example.org/"}, "link", "http(s)"),
    ({"base_url": "example.org/podcast/"}, "base_url", "absolute"),
    ({"base_url": "https://example.org/p/?utm=1"}, "base_url", "query"),
    ({"hosts": [{"name": "H", "href": "javascript:x"}]}, "hosts[0].href", "http(s)"),
    ({"title": "Show \x0b title"}, "title", "U+000B"),
    ({"owner": {"name": "O", "email": "not-an-address"}}, "owner.email", "email"),
    ({"category": "Kindness"}, "category", "not an Apple Podcasts category"),
    ({"settings": {"loudness": {"target_lufs": 3}}}, "settings.loudness.target_lufs", "less than or equal"),
]


@pytest.mark.parametrize("fields, field, words", SHOW_CASES, ids=[c[1] for c in SHOW_CASES])
def test_a_bad_show_field_is_one_line_naming_file_and_field(tmp_path, capsys, fields, field, words):
    root = make_show(tmp_path / "show", **fields)
    code, lines = check(root, capsys)
    assert code == 1
    assert any(x.startswith(f"error: episodes/show.yaml: {field}:") and words in x for x in lines), lines


def test_show_yaml_that_is_not_a_mapping_or_not_yaml(tmp_path, capsys):
    root = make_show(tmp_path / "show")
    (root / "episodes" / "show.yaml").write_text("title: [x\n")
    code, lines = check(root, capsys)
    assert code == 1 and any("episodes/show.yaml: line 2: not valid YAML" in x for x in lines), lines
    (root / "episodes" / "show.yaml").write_text("- a list\n")
    code, lines = check(root, capsys)
    assert code == 1 and any("episodes/show.yaml: must be a mapping" in x for x in lines), lines


# --- markup and control characters reach pages and the feed safely ------------------------------------------------

@pytest.mark.slow
def test_markup_and_pasted_control_characters_build_a_well_formed_feed(tmp_path, tone):
    from lxml import etree

    root = make_show(tmp_path / "show", title="Show <b>&</b> \"quotes\"")
    write_episode(root, "ep", {**GOOD, "title": "<script>alert(1)</script> & ]]> \u2028 café",
                               "summary": "Less < more > ' \""},
                  tone, notes="A vertical\x0btab and a form\x0cfeed from a word processor, <i>markup</i>.\n")
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "warning: episodes/ep/episode.md: notes: control characters" in proc.stderr
    feed = etree.parse(str(root / "feeds" / "feed.xml"))  # well-formed XML, or this raises
    title = feed.find("channel/item/title").text
    assert title.startswith("<script>alert(1)</script> & ]]>")
    page = (root / "feeds" / "episodes" / "ep" / "notes.html").read_text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "\x0b" not in page and "\x0c" not in page


# --- builds that fail, or are killed, never break what is published ---------------------------------------------

def published_tree(root: Path) -> dict[str, str]:
    return fingerprint(root / "feeds")


def no_temporaries(root: Path) -> list[str]:
    return [str(p) for p in (root / "feeds").rglob("*") if is_temporary(p.name)]


@pytest.fixture(scope="module")
def built(tmp_path_factory, tone) -> Path:
    """A published show of two episodes, built once for the module; tests work on copies."""
    root = make_show(tmp_path_factory.mktemp("built") / "show")
    write_episode(root, "one", {**GOOD, "guid": "g-one", "title": "One"}, tone)
    other = synth(tmp_path_factory.mktemp("audio2") / "other.wav", "sine=f=520", 17, "-af", "volume=-18dB")
    write_episode(root, "two", {**GOOD, "guid": "g-two", "title": "Two", "number": 2, "date": "2026-01-06",
                                "soundbites": [{"start": 0.5, "duration": 15, "title": "A moment"}]}, other)
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def copy_of(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(built, root, symlinks=True)
    return root


def feed_items(root: Path) -> dict[str, tuple[str, int]]:
    """guid -> (title, enclosure length) of the published feed, checking every enclosure's file and length."""
    from lxml import etree

    items = {}
    for item in etree.parse(str(root / "feeds" / "feed.xml")).findall("channel/item"):
        enc = item.find("enclosure")
        path = root / "feeds" / enc.get("url").split("/podcast/", 1)[1]
        assert path.stat().st_size == int(enc.get("length")), path
        items[item.findtext("guid")] = (item.findtext("title"), int(enc.get("length")))
    return items


@pytest.mark.slow
def test_a_new_episode_that_fails_holds_nothing(built, tmp_path):
    root = copy_of(built, tmp_path)
    silent = synth(tmp_path / "quiet.wav", "anullsrc=r=44100:cl=mono", 4)
    write_episode(root, "new", {**GOOD, "guid": "g-new", "title": "New", "number": 3}, silent)
    one = root / "episodes" / "one" / "episode.md"
    one.write_text(one.read_text().replace("title: One", "title: One, retitled"))
    before = fingerprint(root / "episodes")
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "failed: new: master:" in proc.stderr and "silent" in proc.stderr
    assert "held" not in proc.stderr
    items = feed_items(root)
    assert items["g-one"][0] == "One, retitled" and "g-new" not in items  # the rest of the show updated
    assert not (root / "feeds" / "episodes" / "new").exists() and not no_temporaries(root)
    assert fingerprint(root / "episodes") == before


@pytest.mark.slow
def test_a_published_episode_that_fails_keeps_its_item_and_files(built, tmp_path):
    root = copy_of(built, tmp_path)
    before_one = fingerprint(root / "feeds" / "episodes" / "one")
    items = feed_items(root)
    one = root / "episodes" / "one"
    synth(one / "tone.wav", "anullsrc=r=44100:cl=mono", 6)  # the recording replaced by a silent one
    (one / "episode.md").write_text((one / "episode.md").read_text().replace("title: One", "title: One v2"))
    two = root / "episodes" / "two" / "episode.md"
    two.write_text(two.read_text().replace("title: Two", "title: Two, retitled"))
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "held: one:" in proc.stderr
    assert fingerprint(root / "feeds" / "episodes" / "one") == before_one  # its files exactly as they were
    now = feed_items(root)
    assert now["g-one"] == items["g-one"]  # its item as it was (old title, old length)
    assert now["g-two"][0] == "Two, retitled"  # and the rest of the show updated
    assert not no_temporaries(root)


@pytest.mark.slow
def test_folder_renamed_to_an_invalid_name_keeps_the_item_and_a_removed_folder_is_pruned(built, tmp_path):
    root = copy_of(built, tmp_path)
    items = feed_items(root)
    (root / "episodes" / "one").rename(root / "episodes" / "One Bad Name")
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "episodes/One Bad Name: folder name must be a slug" in proc.stderr and "held: one:" in proc.stderr
    assert feed_items(root)["g-one"] == items["g-one"] and (root / "feeds" / "episodes" / "one").is_dir()
    shutil.rmtree(root / "episodes" / "One Bad Name")
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 0 and "removed: one:" in proc.stdout
    assert "g-one" not in feed_items(root) and not (root / "feeds" / "episodes" / "one").exists()


@pytest.mark.slow
def test_a_duplicate_guid_blames_the_new_folder(built, tmp_path, capsys):
    root = copy_of(built, tmp_path)
    shutil.copytree(root / "episodes" / "one", root / "episodes" / "copy-of-one")
    md = root / "episodes" / "copy-of-one" / "episode.md"
    md.write_text(md.read_text().replace("number: 1", "number: 7"))
    code, lines = check(root, capsys)
    assert code == 1
    assert any(x.startswith("error: episodes/copy-of-one/episode.md: guid: same guid as the published episode 'one'")
               for x in lines), lines
    assert not any("episodes/one/" in x for x in lines)


@pytest.mark.slow
def test_two_builds_at_once_the_second_stops_at_once(built, tmp_path):
    root = copy_of(built, tmp_path)
    md = root / "episodes" / "one" / "episode.md"
    md.write_text(md.read_text().replace("title: One", "title: One again"))
    marker = tmp_path / "paused"
    env = {**os.environ, "KINDCAST_PAUSE_AT": "notes:start", "KINDCAST_PAUSE_FILE": str(marker)}
    first = subprocess.Popen([sys.executable, "-m", "pipeline", "build", "--root", str(root)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), first.communicate()
    started = time.monotonic()
    second = kindcast("build", "--root", root)
    assert time.monotonic() - started < 20
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert "another kindcast command is working on this show" in second.stderr
    marker.unlink()  # let the first go on
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, out + err
    assert feed_items(root)["g-one"][0] == "One again"


# at least one point in every stage, plus an ffmpeg child running, an episode half published, and the show stages
@pytest.mark.slow
def test_a_retitle_retags_without_transcribing_or_rendering_again(built, tmp_path):
    from mutagen.id3 import ID3

    root = copy_of(built, tmp_path)
    out = root / "feeds" / "episodes" / "two"
    kept = {k: v for k, v in fingerprint(out).items() if k.startswith(("transcript", "audiograms"))}
    assert any(k.startswith("audiograms/") for k in kept)
    md = root / "episodes" / "two" / "episode.md"
    md.write_text(md.read_text().replace("title: Two", "title: Two, a better title"))
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("built: two: "))
    assert [part.split()[0] for part in line.removeprefix("built: two: ").split(", ")] == ["master", "notes"], line
    assert ID3(out / "two.mp3")["TIT2"].text == ["Two, a better title"]
    assert {k: v for k, v in fingerprint(out).items() if k.startswith(("transcript", "audiograms"))} == kept
    assert feed_items(root)["g-two"][0] == "Two, a better title"


KILL_POINTS = ["probe:start", "master:written", "ffmpeg:started", "transcribe:written", "tag:start", "audiogram:start",
               "notes:written", "commit:half", "show:feed:start", "show:site:start"]


@pytest.mark.slow
@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_build_killed_at_any_point_is_repaired_by_the_next(built, tmp_path, point):
    root = copy_of(built, tmp_path)
    expected = published_tree(root)
    items = feed_items(root)
    env = {**os.environ, "KINDCAST_KILL_AT": point}
    only = [] if point.startswith("show:") else ["--episode", "one"]  # one episode is enough to reach the point
    killed = subprocess.run([sys.executable, "-m", "pipeline", "build", "--force", *only, "--root", str(root)],
                            env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, (point, killed.stdout, killed.stderr)
    time.sleep(0.3)
    assert not _processes_under(root), "a child of the killed build is still running"
    # whatever was killed, the published feed is whole and every enclosure matches its file
    assert feed_items(root) == items
    assert not no_temporaries(root)
    again = kindcast("build", "--root", root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert published_tree(root) == expected
    assert not no_temporaries(root)
    stage = root / ".kindcast" / "stage"
    assert not stage.exists() or not any(stage.iterdir())
    final = kindcast("build", "--root", root)
    assert "0 episodes built, 2 up to date" in final.stdout


def _processes_under(root: Path) -> list[str]:
    """Processes whose command line names a file of this show (an ffmpeg left running, say)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if str(root) in args and "pytest" not in args:
            found.append(args)
    return found


def paused_parallel_build(root: Path, marker: Path, **popen) -> subprocess.Popen:
    """``kindcast build --force --jobs 2`` in a process group of its own, returned once a worker waits at the start
    of transcription (until ``marker`` is removed)."""
    env = {**os.environ, "KINDCAST_PAUSE_AT": "transcribe:start", "KINDCAST_PAUSE_FILE": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "build", "--force", "--jobs", "2", "--root",
                             str(root)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **popen)
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    return proc


@pytest.mark.slow
def test_ctrl_c_stops_a_parallel_build_at_once_and_leaves_nothing_running(built, tmp_path):
    root = copy_of(built, tmp_path)
    proc = paused_parallel_build(root, tmp_path / "paused")
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 5
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    time.sleep(0.3)
    assert not _processes_under(root)
    again = kindcast("build", "--root", root)
    assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_a_build_in_the_background_ignores_ctrl_c_and_so_do_its_workers(built, tmp_path):
    """`kindcast build &` from a shell runs with SIGINT ignored: a Ctrl-C typed for the foreground job reaches the
    whole process group, and neither the build nor its worker processes may die of it."""
    root = copy_of(built, tmp_path)
    marker = tmp_path / "paused"
    proc = paused_parallel_build(root, marker, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    os.killpg(proc.pid, signal.SIGINT)  # one worker paused, the other perhaps in the middle of an ffmpeg run
    time.sleep(0.5)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if marker.exists():
            marker.unlink()  # a paused worker goes on
        time.sleep(0.05)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "killed by" not in err and "failed" not in err, err
    assert "2 episodes built" in out, out


@pytest.mark.slow
def test_a_worker_that_dies_fails_its_episode_only(built, tmp_path):
    root = copy_of(built, tmp_path)
    env = {**os.environ, "KINDCAST_KILL_AT": "transcribe:start",  # the first worker to get there is killed
           "KINDCAST_KILL_ONCE": str(tmp_path / "killed-one")}
    proc = subprocess.run([sys.executable, "-m", "pipeline", "build", "--force", "--jobs", "2", "--root", str(root)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    failed = [line for line in proc.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "killed by SIGKILL" in failed[0], proc.stderr
    assert "1 episodes built" in proc.stdout
    assert len(feed_items(root)) == 2  # the dead one is held, the other rebuilt
