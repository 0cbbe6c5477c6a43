"""Feed v2 through the real build engine and the real master stage: the smaller copy (podcast:alternateEnclosure)
exists with its announced length, the show's optional channel tags (podcast:txt, updateFrequency, license,
location, itunes:new-feed-url, block, complete), Podlove Simple Chapters, chapter timestamps in the description for
Spotify, a feed per condition (the producer's tags only), and the W3C Feed Validator on the results.

The per-episode stages are probe, master (real mastering of a few seconds of generated audio) and notes; no
transcription, tagging or audiograms, which these features do not read.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import pipeline.engine.build as build_mod
from conftest import kindcast, make_show, synth, w3c_validate, write_episode
from pipeline.engine.build import build
from pipeline.stages.feed import FeedStage
from pipeline.stages.master import MasterStage
from pipeline.stages.notes import NotesStage
from pipeline.stages.probe import ProbeStage

BASE = "https://example.org/podcast/"
P = "{https://podcastindex.org/namespace/1.0}"
I = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
PSC = "{http://podlove.org/simple-chapters}"
EXTRAS = {
    "txt": [{"text": "kindcast-verify-4242", "purpose": "verify"}, "Made with care."],
    "update_frequency": {"text": "Every other week", "rrule": "FREQ=WEEKLY;INTERVAL=2", "dtstart": "2026-01-05"},
    "license": {"name": "cc-by-4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
    "location": {"name": "Bradford, UK", "geo": "geo:53.7960,-1.7594", "osm": "R1405297"},
    "new_feed_url": "https://new.example.org/podcast/feed.xml",
    "block": True,
}
CHAPTERS = [{"start": 0, "title": "Welcome"}, {"start": 2.5, "title": "The story"}, {"start": 5, "title": "Goodbye"}]


@pytest.fixture(scope="module")
def engine():
    patch = pytest.MonkeyPatch()
    patch.setattr(build_mod, "episode_stages", lambda: [ProbeStage(), MasterStage(), NotesStage()])
    patch.setattr(build_mod, "show_stages", lambda: [FeedStage()])
    yield
    patch.undo()


@pytest.fixture(scope="module")
def built(engine, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("extras")
    root = make_show(tmp / "show", **EXTRAS)
    voice = synth(tmp / "voice.wav", "sine=f=220:sample_rate=44100,volume=0.3", 7)
    write_episode(root, "mixing-it-up", {"title": "Mixing it up", "date": "2026-02-01", "guid": "g-1", "number": 1,
                                         "conditions": ["social-mixing"], "chapters": CHAPTERS}, voice)
    write_episode(root, "quiet-one", {"title": "The quiet one", "date": "2026-03-01", "guid": "g-2", "number": 2,
                                      "conditions": ["local-knowledge"]}, voice)
    report = build(root)
    assert report.ok, report
    return root


def feed(path: Path):
    from lxml import etree

    return etree.parse(str(path)).getroot()[0]


def test_every_alternate_enclosure_exists_with_its_announced_length(built):
    from pipeline.media import probe_audio

    channel = feed(built / "feeds" / "feed.xml")
    items = channel.findall("item")
    assert len(items) == 2
    for item in items:
        enclosure = item.find("enclosure")
        alternates = item.findall(f"{P}alternateEnclosure")
        assert len(alternates) == 2
        main, small = alternates
        assert main.get("default") == "true" and main.get("type") == "audio/mpeg"
        assert main.find(f"{P}source").get("uri") == enclosure.get("url") and main.get("length") == enclosure.get("length")
        assert small.get("type") == "audio/opus" and small.get("codecs") == "opus" and small.get("bitrate") == "24000"
        for alt in alternates:  # the file is published, with exactly the announced length
            path = built / "feeds" / alt.find(f"{P}source").get("uri")[len(BASE):]
            assert path.is_file() and path.stat().st_size == int(alt.get("length")), path
        small_path = built / "feeds" / small.find(f"{P}source").get("uri")[len(BASE):]
        mp3, opus = probe_audio(built / "feeds" / enclosure.get("url")[len(BASE):]), probe_audio(small_path)
        assert opus.codec == "opus" and opus.channels == 1 and abs(opus.duration - mp3.duration) < 0.1
        assert int(small.get("length")) < 0.35 * int(enclosure.get("length"))  # a much lighter file


def test_channel_tags_the_show_gives(built):
    channel = feed(built / "feeds" / "feed.xml")
    txt = channel.findall(f"{P}txt")
    assert [(t.get("purpose"), t.text) for t in txt] == [("verify", "kindcast-verify-4242"), (None, "Made with care.")]
    freq = channel.find(f"{P}updateFrequency")
    assert (freq.text, freq.get("rrule"), freq.get("dtstart")) == ("Every other week", "FREQ=WEEKLY;INTERVAL=2",
                                                                  "2026-01-05T00:00:00Z")
    lic = channel.find(f"{P}license")
    assert (lic.text, lic.get("url")) == ("cc-by-4.0", "https://creativecommons.org/licenses/by/4.0/")
    loc = channel.find(f"{P}location")
    assert (loc.text, loc.get("geo"), loc.get("osm")) == ("Bradford, UK", "geo:53.7960,-1.7594", "R1405297")
    assert channel.findtext(f"{I}new-feed-url") == EXTRAS["new_feed_url"]
    assert channel.findtext(f"{I}block") == "Yes" and channel.find(f"{I}complete") is None


def test_itunes_complete_when_the_show_is_complete():
    """itunes:complete is Apple's; the W3C validator's copy predates it (it reports an undefined element), so the
    show above leaves it out and this renders one channel with it."""
    from lxml import etree

    from pipeline.web.feed import render

    channel = {"title": "T", "description": "D", "self_url": BASE + "feed.xml", "link": BASE, "language": "en",
               "copyright": None, "image": BASE + "artwork.png", "author": "A",
               "owner": {"name": "O", "email": "o@example.org"}, "type": "episodic", "categories": [["Arts", None]],
               "explicit": False, "keywords": [], "locked": False, "guid": "g", "medium": "podcast", "funding": [],
               "people": [], "extras": {"complete": True, "block": True}}
    root = etree.fromstring(render({"channel": channel, "items": []}))
    assert root[0].findtext(f"{I}complete") == "Yes" and root[0].findtext(f"{I}block") == "Yes"


def test_tags_not_given_are_not_written(engine, tmp_path):
    root = make_show(tmp_path / "show", settings={"encode": {"alternate": {"format": "none"}}})
    write_episode(root, "one", {"title": "One", "date": "2026-02-01", "guid": "g-1"},
                  synth(tmp_path / "v.wav", "sine=f=220,volume=0.3", 4))
    assert build(root).ok
    data = (root / "feeds" / "feed.xml").read_text()
    for tag in ("podcast:txt", "podcast:updateFrequency", "podcast:license", "podcast:location", "new-feed-url",
                "itunes:block", "itunes:complete", "alternateEnclosure"):
        assert tag not in data, tag
    assert not list((root / "feeds").rglob("*.opus"))


def test_chapters_for_podlove_and_spotify(built):
    channel = feed(built / "feeds" / "feed.xml")
    item = next(i for i in channel.findall("item") if i.findtext("title") == "Mixing it up")
    chapters = item.find(f"{PSC}chapters")
    assert chapters.get("version") == "1.2"
    marks = [(c.get("start"), c.get("title")) for c in chapters.findall(f"{PSC}chapter")]
    assert [t for _, t in marks] == ["Welcome", "The story", "Goodbye"]
    assert marks[0][0] == "00:00:00.000" and all(len(s) == 12 for s, _ in marks)
    # Spotify: one chapter a line, "(MM:SS) Title", the first at 00:00
    description = item.findtext("description")
    lines = [line.strip().removesuffix("<br>") for line in description.splitlines() if line.strip().startswith("(")]
    assert lines[0] == "(00:00) Welcome" and len(lines) == 3
    assert all(line[:7] in ("(00:00)", "(00:01)", "(00:02)", "(00:03)", "(00:04)", "(00:05)") for line in lines)
    other = next(i for i in channel.findall("item") if i.findtext("title") == "The quiet one")
    assert other.find(f"{PSC}chapters") is None


def test_a_feed_per_condition_with_the_producers_tags(built):
    from pipeline.show import load_project

    taxonomy = load_project(built).show.taxonomy
    for cond in taxonomy.conditions:
        assert (built / "feeds" / "conditions" / f"{cond.slug}.xml").is_file(), cond.slug
    channel = feed(built / "feeds" / "conditions" / "social-mixing.xml")
    assert [i.findtext("title") for i in channel.findall("item")] == ["Mixing it up"]
    assert channel.findtext("title").endswith(": Social mixing")
    self_link = channel.find("{http://www.w3.org/2005/Atom}link").get("href")
    assert self_link == BASE + "conditions/social-mixing.xml"
    main_guid = feed(built / "feeds" / "feed.xml").findtext(f"{P}guid")
    assert channel.findtext(f"{P}guid") not in (None, main_guid)  # a feed of its own
    assert channel.find(f"{I}new-feed-url") is None and channel.find(f"{P}txt") is None  # the main feed's own
    assert channel.findtext(f"{P}license") == "cc-by-4.0"
    empty = feed(built / "feeds" / "conditions" / "kind-policy.xml")
    assert empty.findall("item") == []


def test_w3c_validator_finds_no_errors_in_the_main_and_a_condition_feed(built):
    for rel in ("feed.xml", "conditions/social-mixing.xml"):
        proc = w3c_validate(built / "feeds" / rel, BASE + rel)
        assert proc.returncode == 0, proc.stdout
        assert "feedvalidator: 0 errors" in proc.stdout


def test_check_names_every_bad_show_field(tmp_path):
    root = make_show(tmp_path / "show", txt=[{"purpose": "verify"}],
                     update_frequency={"text": "Weekly", "rrule": "every week"},
                     license={"name": "mine", "url": "ftp://example.org/terms"},
                     location={"name": "Home", "geo": "51.5,-0.1", "osm": "Q42"},
                     new_feed_url="example.org/feed.xml", complete="sometimes")
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    for field in ("txt[0].text", "update_frequency.rrule", "license.url", "location.geo", "location.osm",
                  "new_feed_url", "complete"):
        assert f"episodes/show.yaml: {field}: " in out, (field, out)
    assert "Traceback" not in out
