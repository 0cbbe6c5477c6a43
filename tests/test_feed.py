"""The feed stage: a real feed from real (ffmpeg-made) published files, read back by real podcast parsers.

The per-episode stages' results are written by hand here (the stage only reads ``EpisodeRecord.results``), the
published audio is a real MP3 made with ffmpeg, and the feed is checked with podcastparser, feedparser, lxml and
``scripts/validate_feed.py``.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_artwork, make_show, synth, write_episode

from pipeline.errors import KindcastError
from pipeline.show import load_project
from pipeline.engine.stage import EpisodeRecord, ShowContext
from pipeline.stages.feed import FeedStage

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
PODCAST = "{https://podcastindex.org/namespace/1.0}"
BASE = "https://example.org/podcast/"
VALIDATE = REPO / "scripts" / "validate_feed.py"

EPISODES = {
    # slug: (front matter, which per-episode results exist)
    "kindness-at-work": ({"title": "Kindness at work", "date": "2026-03-02T09:30:00+01:00", "guid": "kc-0001",
                          "number": 1, "season": 1, "explicit": True, "artwork": "cover.png",
                          "guests": [{"name": "Gail Guest", "href": "https://example.org/gail",
                                      "img": "https://example.org/gail.jpg"}],
                          "soundbites": [{"start": 6, "duration": 16, "title": "The best bit"}]},
                         {"master", "transcribe", "audiogram", "notes"}),
    "listening": ({"title": "Listening", "date": "2026-04-10", "guid": "kc-0002", "number": 2, "season": 1,
                   "soundbites": [{"start": 2, "duration": 18}]},
                  {"master", "transcribe"}),
    "bonus-chat": ({"title": "Bonus chat", "date": "2026-05-01T12:00:00Z", "guid": "kc-0003",
                    "episode_type": "bonus", "number": 0}, {"master"}),
    "future-episode": ({"title": "Not yet", "date": "2099-01-01T00:00:00Z", "guid": "kc-0099", "number": 9},
                       {"master", "transcribe"}),
    "never-mastered": ({"title": "Broken", "date": "2026-01-01", "guid": "kc-0098"}, set()),
}
PUBLISHED = ["bonus-chat", "listening", "kindness-at-work"]  # newest first


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("audio")
    return {
        "raw": synth(folder / "raw.wav", "sine=f=330:sample_rate=16000", 26),
        "mp3": synth(folder / "master.mp3", "sine=f=330:sample_rate=22050", 25, "-ac", "1", "-b:a", "32k"),
    }


def make_root(tmp_path: Path, audio: dict[str, Path], **show_fields) -> Path:
    fields = {"funding": [{"url": "https://example.org/donate", "text": "Support us"}], "locked": True,
              "copyright": "2026 Test", **show_fields}
    root = make_show(tmp_path / "show", **fields)
    for slug, (front, _) in EPISODES.items():
        folder = write_episode(root, slug, front, audio["raw"],
                               notes="A first paragraph about **kindness** with [a link](https://example.org/k).\n\n"
                                     "A second paragraph.\n")
        if front.get("artwork"):
            make_artwork(folder / front["artwork"], 1400, (20, 120, 90))
    return root


def publish(root: Path, slug: str, kinds: set[str], audio: dict[str, Path]) -> dict:
    """Write what the per-episode stages would have published, and return their results."""
    out = root / "feeds" / "episodes" / slug
    out.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    if "master" in kinds:
        mp3 = out / f"{slug}.mp3"
        shutil.copyfile(audio["mp3"], mp3)
        chapters = [{"startTime": 0, "title": "Hello"}, {"startTime": 10, "title": "Main part"}]
        (out / "chapters.json").write_text('{"version": "1.2.0", "chapters": []}')
        results["master"] = {"file": mp3.name, "mime": "audio/mpeg", "bytes": mp3.stat().st_size, "duration": 24.6,
                             "lufs": -16.0, "true_peak": -1.5, "channels": 1, "chapters": chapters,
                             "timeline": {"segments": [[1.0, 26.0, 0.0]], "offset": 0.0}}
    if "transcribe" in kinds:
        files = {"json": "transcript.json", "vtt": "transcript.vtt", "srt": "transcript.srt", "txt": "transcript.txt"}
        for name in files.values():
            (out / name).write_text("x\n")
        results["transcribe"] = {"language": "en", "model": "tiny.en", "words": 3, "files": files,
                                 "speakers": ["Hana Host"]}
    if "audiogram" in kinds:
        results["audiogram"] = {"clips": [{"name": "clip-1", "title": "The best bit", "start": 5.0,
                                           "duration": 16.0, "files": {}, "poster": "audiograms/clip-1.jpg"},
                                          {"name": "too-short", "title": "Short", "start": 1.0, "duration": 5.0}],
                                "outputs": []}
    if "notes" in kinds:
        (out / "notes.html").write_text("<!doctype html><title>notes</title>")
        results["notes"] = {"description_html": "<p>Notes with <strong>bold</strong> and <a href=\"https://ex"
                                                "ample.org/n\">a link</a>.</p><script>alert(1)</script>"
                                                "<h2>Heading</h2><ul><li>one</li></ul>",
                            "summary": "Notes summary."}
    return results


def context(root: Path, audio: dict[str, Path]) -> ShowContext:
    project = load_project(root)
    assert not project.problems, project.problems
    records = []
    for ep in project.episodes:
        kinds = EPISODES.get(ep.slug, ({}, {"master", "transcribe"}))[1]
        records.append(EpisodeRecord(ep, publish(root, ep.slug, kinds, audio)))
    return ShowContext(show=project.show, episodes=records)


@pytest.fixture(scope="module")
def built(tmp_path_factory, audio):
    """One show, built once: (root, context, feed bytes, stage result)."""
    root = make_root(tmp_path_factory.mktemp("built"), audio)
    ctx = context(root, audio)
    result = FeedStage().run(ctx)
    return root, ctx, (root / "feeds" / "feed.xml").read_bytes(), result


def xml(data: bytes):
    from lxml import etree

    return etree.fromstring(data)


# --- what podcast apps read ----------------------------------------------------------------------------------------

def test_podcastparser_reads_every_published_episode(built):
    import podcastparser

    root, ctx, data, result = built
    parsed = podcastparser.parse(BASE + "feed.xml", io.BytesIO(data))
    assert parsed["title"] == "Test Show"
    episodes = parsed["episodes"]
    assert [e["guid"] for e in episodes] == ["kc-0003", "kc-0002", "kc-0001"]
    assert result["episodes"] == PUBLISHED
    for ep, slug in zip(episodes, PUBLISHED):
        mp3 = root / "feeds" / "episodes" / slug / f"{slug}.mp3"
        (enclosure,) = ep["enclosures"]
        assert enclosure["url"] == f"{BASE}episodes/{slug}/{slug}.mp3"
        assert enclosure["file_size"] == mp3.stat().st_size > 0
        assert enclosure["mime_type"] == "audio/mpeg"
        assert ep["total_time"] == 25  # whole seconds of the published audio (24.6 s)
        assert ep["published"] > 0
        assert isinstance(ep["explicit"], bool)
    assert [e["explicit"] for e in episodes] == [False, False, True]  # the show's default, and one override
    assert episodes[2]["published"] == int(datetime(2026, 3, 2, 8, 30, tzinfo=timezone.utc).timestamp())


def test_feedparser_reads_the_fields_back(built):
    import feedparser

    root, ctx, data, _ = built
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.bozo_exception
    f = feed.feed
    assert f.title == "Test Show" and f.link == BASE
    assert f.language == "en"
    assert f.itunes_type == "episodic"
    assert f.image.href == BASE + "artwork.png"
    assert f.publisher_detail.email == "owner@example.org"
    assert f.tags[0].term == "Society & Culture"
    assert any(link.rel == "self" and link.href == BASE + "feed.xml" for link in f.links)
    first = feed.entries[2]
    assert first.title == "Kindness at work"
    assert first.id == "kc-0001" and first.guidislink is False
    assert first.itunes_duration == "25"
    assert first.itunes_episode == "1" and first.itunes_season == "1"
    # (feedparser 6 maps only 'yes' to True, so it cannot read Apple's 'true'; podcastparser can, see above)
    assert first.image.href == BASE + "episodes/kindness-at-work/cover.png"
    mp3 = root / "feeds/episodes/kindness-at-work/kindness-at-work.mp3"
    assert first.enclosures[0].length == str(mp3.stat().st_size)
    assert first.published == "Mon, 02 Mar 2026 09:30:00 +0100"  # RFC 2822, the producer's own time zone
    assert feed.entries[0].itunes_episodetype == "bonus"


def test_channel_tags_apple_and_podcasting20(built):
    root, ctx, data, result = built
    ch = xml(data).find("channel")
    assert ch.findtext(f"{ITUNES}explicit") == "false"
    assert ch.findtext(f"{ITUNES}type") == "episodic"
    assert ch.find(f"{ITUNES}owner").findtext(f"{ITUNES}email") == "owner@example.org"
    assert ch.find(f"{ITUNES}category").get("text") == "Society & Culture"
    # podcast:guid: UUIDv5 of the feed URL without scheme and trailing slash, in the Podcast Index namespace
    expected = str(uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.org/podcast/feed.xml"))
    assert ch.findtext(f"{PODCAST}guid") == expected == result["guid"]
    locked = ch.find(f"{PODCAST}locked")
    assert (locked.text, locked.get("owner")) == ("yes", "owner@example.org")
    assert ch.findtext(f"{PODCAST}medium") == "podcast"
    fund = ch.find(f"{PODCAST}funding")
    assert (fund.get("url"), fund.text) == ("https://example.org/donate", "Support us")
    person = ch.find(f"{PODCAST}person")
    assert (person.text, person.get("role")) == ("Hana Host", "host")
    # the artwork is published beside the feed, byte for byte
    assert (root / "feeds" / "artwork.png").read_bytes() == (root / "episodes" / "artwork.png").read_bytes()
    assert (root / "feeds/episodes/kindness-at-work/cover.png").is_file()
    # lastBuildDate is the newest pubDate, never the build time
    assert ch.findtext("lastBuildDate") == "Fri, 01 May 2026 12:00:00 +0000"


def test_item_tags(built):
    root, ctx, data, _ = built
    items = {i.findtext("guid"): i for i in xml(data).find("channel").findall("item")}
    assert len(items) == 3  # GUIDs unique
    for guid, item in items.items():
        assert item.find("guid").get("isPermaLink") == "false"
        assert item.findtext(f"{ITUNES}explicit") in ("true", "false")
    one, two, bonus = items["kc-0001"], items["kc-0002"], items["kc-0003"]
    assert one.findtext(f"{ITUNES}explicit") == "true" and two.findtext(f"{ITUNES}explicit") == "false"

    # transcripts on every item whose transcription exists, VTT marked as captions
    for item in (one, two):
        ts = {t.get("type"): t for t in item.findall(f"{PODCAST}transcript")}
        assert set(ts) == {"text/vtt", "application/x-subrip", "application/json"}
        assert ts["text/vtt"].get("rel") == "captions" and ts["text/vtt"].get("language") == "en"
        assert ts["text/vtt"].get("url").startswith(BASE + "episodes/")
    assert bonus.find(f"{PODCAST}transcript") is None

    chapters = one.find(f"{PODCAST}chapters")
    assert chapters.get("type") == "application/json+chapters"
    assert chapters.get("url") == BASE + "episodes/kindness-at-work/chapters.json"

    # soundbites: the audiogram clip (published time) and not the too-short one; the producer's soundbite at
    # raw 6 s is the same moment (published 5 s), so it is not repeated
    bites = [(b.get("startTime"), b.get("duration"), b.text) for b in one.findall(f"{PODCAST}soundbite")]
    assert bites == [("5", "16", "The best bit")]
    # without an audiogram result, the episode's own soundbite, moved from raw to published time (raw 2 s -> 1 s)
    assert [(b.get("startTime"), b.get("duration")) for b in two.findall(f"{PODCAST}soundbite")] == [("1", "18")]

    people = [(p.text, p.get("role"), p.get("href"), p.get("img")) for p in one.findall(f"{PODCAST}person")]
    assert people == [("Hana Host", "host", None, None),
                      ("Gail Guest", "guest", "https://example.org/gail", "https://example.org/gail.jpg")]
    assert one.findtext(f"{PODCAST}season") == "1" and one.findtext(f"{PODCAST}episode") == "1"
    assert one.findtext(f"{ITUNES}episodeType") == "full" and bonus.findtext(f"{ITUNES}episodeType") == "bonus"
    # episode 0: Apple takes only non-zero numbers, Podcasting 2.0 takes any
    assert bonus.find(f"{ITUNES}episode") is None and bonus.findtext(f"{PODCAST}episode") == "0"
    assert one.find(f"{ITUNES}image").get("href") == BASE + "episodes/kindness-at-work/cover.png"
    assert two.find(f"{ITUNES}image") is None
    # the episode's page, only where the notes stage published one
    assert one.findtext("link") == BASE + "episodes/kindness-at-work/notes.html"
    assert two.find("link") is None


def test_descriptions_are_apple_html(built):
    root, ctx, data, _ = built
    items = {i.findtext("guid"): i for i in xml(data).find("channel").findall("item")}
    notes = items["kc-0001"].findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    # one sanitizer for pages and feed: a heading becomes a paragraph (Apple takes no h1-h6)
    assert notes == ('<p>Notes with <strong>bold</strong> and <a href="https://example.org/n">a link</a>.</p>'
                     "<p>Heading</p><ul><li>one</li></ul>")
    assert items["kc-0001"].findtext("description") == notes
    assert b"<![CDATA[<p>Notes with" in data
    # no notes result: the first paragraph of episode.md, Markdown rendered to allowed HTML
    assert items["kc-0002"].findtext("description") == (
        '<p>A first paragraph about <strong>kindness</strong> with <a href="https://example.org/k">a link</a>.</p>')


def test_scheduled_and_unmastered_episodes_stay_out(built):
    root, ctx, data, _ = built
    assert b"kc-0099" not in data and b"Not yet" not in data
    assert b"kc-0098" not in data
    # once the date passes, the params change (so the engine rebuilds the feed) and the episode is in
    later = FeedStage(now=lambda: datetime(2099, 1, 1, 0, 0, 1, tzinfo=timezone.utc))
    assert later.params(ctx) != FeedStage().params(ctx)
    assert [i["guid"] for i in later.model(ctx)["items"]][0] == "kc-0099"


# --- the published tree --------------------------------------------------------------------------------------------

def test_enclosure_length_must_match_the_published_file(tmp_path, audio):
    root = make_root(tmp_path, audio)
    ctx = context(root, audio)
    FeedStage().run(ctx)
    before = (root / "feeds" / "feed.xml").read_bytes()
    mp3 = root / "feeds/episodes/listening/listening.mp3"
    with open(mp3, "ab") as f:
        f.write(b"\0" * 10)  # the file changed behind mastering's back
    with pytest.raises(KindcastError,
                       match=r"episodes/listening: master: .*listening.mp3 is \d+ bytes but mastering recorded"):
        FeedStage().run(ctx)
    mp3.unlink()
    with pytest.raises(KindcastError, match="episodes/listening: master: the published file .* is missing"):
        FeedStage().run(ctx)
    # a failed build leaves the old feed as it was, and no temporary file behind
    assert (root / "feeds" / "feed.xml").read_bytes() == before
    assert sorted(p.name for p in (root / "feeds").iterdir()) == ["artwork.png", "conditions", "episodes", "feed.xml"]


def test_deterministic_and_no_rewrite_when_unchanged(tmp_path, audio):
    root = make_root(tmp_path, audio)
    ctx = context(root, audio)
    feed = root / "feeds" / "feed.xml"
    FeedStage().run(ctx)
    first, stat = feed.read_bytes(), feed.stat()
    # a new process-worth of objects: reload everything, build again
    ctx2 = ShowContext(show=load_project(root).show, episodes=ctx.episodes)
    FeedStage().run(ctx2)
    assert feed.read_bytes() == first
    assert (feed.stat().st_mtime_ns, feed.stat().st_ino) == (stat.st_mtime_ns, stat.st_ino)
    assert FeedStage().params(ctx) == FeedStage().params(ctx2)
    # a real change: the file is replaced (new inode: written beside and renamed over, never in place)
    (root / "episodes/listening/episode.md").write_text(
        (root / "episodes/listening/episode.md").read_text().replace("title: Listening", "title: Listening well"))
    ctx3 = context(root, audio)
    FeedStage().run(ctx3)
    assert b"Listening well" in feed.read_bytes()
    assert feed.stat().st_ino != stat.st_ino
    assert not [p for p in feed.parent.iterdir() if p.name.startswith(".")]


def test_renaming_and_retitling_keeps_the_guid(tmp_path, audio):
    root = make_root(tmp_path, audio)
    FeedStage().run(context(root, audio))
    before = {i.findtext("title"): i.findtext("guid") for i in xml((root / "feeds/feed.xml").read_bytes()).iter("item")}
    assert before["Listening"] == "kc-0002"
    folder = root / "episodes" / "listening"
    md = folder / "episode.md"
    md.write_text(md.read_text().replace("title: Listening", "title: On listening"))
    folder.rename(root / "episodes" / "on-listening")
    shutil.rmtree(root / "feeds" / "episodes" / "listening")
    FeedStage().run(context(root, audio))
    after = {i.findtext("title"): i.findtext("guid") for i in xml((root / "feeds/feed.xml").read_bytes()).iter("item")}
    assert after["On listening"] == "kc-0002"
    assert after["Kindness at work"] == before["Kindness at work"]
    assert b"episodes/on-listening/on-listening.mp3" in (root / "feeds/feed.xml").read_bytes()


def test_categories_are_checked_against_apples_list(tmp_path, audio):
    root = make_root(tmp_path, audio, category=["Health & Fitness > Mental Health", "Society & Culture"])
    FeedStage().run(context(root, audio))
    cats = xml((root / "feeds/feed.xml").read_bytes()).find("channel").findall(f"{ITUNES}category")
    assert [(c.get("text"), [s.get("text") for s in c]) for c in cats] == [
        ("Health & Fitness", ["Mental Health"]), ("Society & Culture", [])]

    data = yaml.safe_load((root / "episodes/show.yaml").read_text())
    data["category"] = "Mental Health"
    (root / "episodes/show.yaml").write_text(yaml.safe_dump(data))
    # `kindcast check` (and every build) reports a category Apple would reject before any audio work
    problems = [str(p) for p in load_project(root).problems]
    assert problems == ["episodes/show.yaml: category: 'Mental Health' is a subcategory: "
                        "write 'Health & Fitness > Mental Health'"]
    data["category"] = "Society and Culture"
    (root / "episodes/show.yaml").write_text(yaml.safe_dump(data))
    problems = [str(p) for p in load_project(root).problems]
    assert len(problems) == 1 and "did you mean 'Society & Culture'" in problems[0]


def test_show_guid_and_jpeg_artwork(tmp_path, audio):
    root = make_root(tmp_path, audio, guid="917393e3-1b1e-5cef-ace4-edaa54e1f810", artwork="Cover Art.JPEG",
                     explicit=True, keywords=["kindness", "care, daily"])
    FeedStage().run(context(root, audio))
    ch = xml((root / "feeds/feed.xml").read_bytes()).find("channel")
    assert ch.findtext(f"{PODCAST}guid") == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert ch.find(f"{ITUNES}image").get("href") == BASE + "Cover%20Art.jpg"
    assert (root / "feeds" / "Cover Art.jpg").is_file()
    assert ch.findtext(f"{ITUNES}explicit") == "true"
    assert ch.findtext(f"{ITUNES}keywords") == "kindness,care daily"


def test_empty_show_has_a_valid_stable_feed(tmp_path):
    root = make_show(tmp_path / "show")
    ctx = ShowContext(show=load_project(root).show, episodes=[])
    FeedStage().run(ctx)
    data = (root / "feeds/feed.xml").read_bytes()
    assert xml(data).find("channel").find("lastBuildDate") is None  # no build time at all
    proc = subprocess.run([sys.executable, str(VALIDATE), str(root / "feeds/feed.xml")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- the validator -------------------------------------------------------------------------------------------------

def test_offline_validator_reports_no_errors_and_catches_broken_feeds(built, tmp_path):
    root, ctx, data, _ = built
    feed = root / "feeds" / "feed.xml"
    proc = subprocess.run([sys.executable, str(VALIDATE), str(feed), "--published", str(root / "feeds")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 items, 0 errors, 0 warnings" in proc.stdout

    broken = data.replace(b"<itunes:explicit>true<", b"<itunes:explicit>yes<")
    broken = broken.replace(b'isPermaLink="false">kc-0002', b'isPermaLink="false">kc-0001')
    bad = tmp_path / "feed.xml"
    bad.write_bytes(broken)
    proc = subprocess.run([sys.executable, str(VALIDATE), str(bad), "--published", str(root / "feeds")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "itunes:explicit must be 'true' or 'false'" in proc.stdout
    assert "guid 'kc-0001' is also used by" in proc.stdout


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("npm") or not shutil.which("node"), reason="node and npm are not installed")
def test_podcast_partytime_reads_the_podcast_namespace(built, tmp_path_factory):
    """The Podcast Index's own parser (npm podcast-partytime), installed with npm into a temporary folder."""
    sys.path.insert(0, str(VALIDATE.parent))
    import validate_feed

    root, ctx, data, _ = built
    folder = Path(os.environ.get("KINDCAST_PARTYTIME_DIR") or tmp_path_factory.mktemp("partytime"))
    try:
        validate_feed.install_partytime(folder)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:  # the npm registry is out of reach
        pytest.skip(str(exc))
    parsed = validate_feed.run_partytime(root / "feeds" / "feed.xml", folder)
    assert parsed["guid"] == FeedStage().model(ctx)["channel"]["guid"]
    assert parsed["locked"] is True and parsed["medium"] == "podcast"
    support = {tag for tags in parsed["pc20support"].values() for tag in tags}
    assert {"locked", "funding", "transcript", "chapters", "soundbite", "person", "season", "episode", "guid",
            "medium"} <= support
    items = {i["guid"]: i for i in parsed["items"]}
    assert set(items) == {"kc-0001", "kc-0002", "kc-0003"}
    assert items["kc-0001"]["transcripts"] == 3 and items["kc-0001"]["soundbites"] == 1
    assert items["kc-0001"]["people"] == 2
    assert items["kc-0001"]["length"] == (root / "feeds/episodes/kindness-at-work/kindness-at-work.mp3").stat().st_size


def test_w3c_feed_validator_finds_no_errors(built):
    from conftest import w3c_validate

    root, _, _, _ = built
    proc = w3c_validate(root / "feeds" / "feed.xml", BASE + "feed.xml")
    assert proc.returncode == 0, proc.stdout
    assert proc.stdout.splitlines()[-1].startswith("feedvalidator: 0 errors")
