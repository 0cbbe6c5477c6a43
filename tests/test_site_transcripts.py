"""Site v2 on a tiny real show: episode pages with the whole transcript (timed paragraphs, speakers), sharing tags,
sitemap.xml and robots.txt, the index's pages, the static search index; then in headless Chromium (driven over the
DevTools pipe): a word spoken in one episode finds that episode and its moment, the moment's link seeks the player,
the transcript follows playback, and pages fit a phone.

The notes and site stages run for real on hand-made upstream results (as in test_site.py), with transcripts written
in the real Podcasting 2.0 format from known sentences and a real 60 s MP3 that the browser plays.
"""
from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import CHROMIUM, Browser
from conftest import make_show, synth, write_episode
from pipeline.engine.stage import EpisodeContext, EpisodeRecord, ShowContext
from pipeline.show import load_project
from pipeline.speech.transcript import Word, load_words, to_json
from pipeline.stages.notes import NotesStage
from pipeline.stages.site import SiteStage

BASE = "https://example.org/podcast/"
HOST, GUEST = "Hana Host", "Gia Guest"
# (slug, title, date, conditions, notes, turns of (speaker, text)); "lighthouse" is said in one episode only,
# "marmalade" is written in one episode's notes only.
EPISODES = [
    ("harbour-walk", "A walk round the harbour", "2026-03-01", ["social-mixing"], "Two neighbours walk the harbour.\n",
     [(HOST, "Welcome to the show. Today we walk round the harbour with our guest."),
      (GUEST, "Thank you. I have lived by this water for thirty years and I still love it."),
      (HOST, "What brought people together here?"),
      (GUEST, "The old lighthouse. Everyone met under the lighthouse on Sunday mornings and shared a flask."),
      (HOST, "That is a lovely picture. Thank you for walking with us today.")]),
    ("market-day", "Market day", "2026-04-01", ["local-knowledge"], "We buy marmalade and talk.\n",
     [(None, "Market day is the busiest day of the week. The stalls open at seven and close at two."),
      (None, "People who never meet anywhere else stand in the same queue for bread.")]),
    ("choir-night", "Choir night", "2026-05-01", [], "A community choir.\n",
     [(None, "Forty voices, one room, and nobody needs to read music to join the choir.")]),
]
CLIP = {"name": "clip1", "title": "The best bit", "start": 20.0, "duration": 20.0,
        "files": {"square": "audiograms/clip1-square.mp4", "landscape": "audiograms/clip1-landscape.mp4"},
        "poster": "audiograms/clip1.jpg"}


def spoken(turns: list[tuple[str | None, str]]) -> list[Word]:
    """Word timings for the turns: 0.4 s a word, a short pause after each sentence, 3 s between turns."""
    words, t = [], 1.0
    for speaker, text in turns:
        for token in text.split():
            words.append(Word(round(t, 2), round(t + 0.3, 2), token, speaker))
            t += 0.4 + (0.5 if token.endswith((".", "?")) else 0)
        t += 3.0
    return words


def build(tmp: Path) -> tuple[ShowContext, dict]:
    root = make_show(tmp / "show", settings={"site": {"per_page": 2}})
    raw = synth(tmp / "raw.wav", "sine=f=330", 1)
    for slug, title, date, conditions, notes, _ in EPISODES:
        write_episode(root, slug, {"title": title, "date": date, "guid": f"guid-{slug}", "conditions": conditions,
                                   "guests": [{"name": GUEST}]}, raw, notes=notes)
    project = load_project(root)
    assert not project.problems, project.problems
    mp3 = synth(tmp / "ep.mp3", "sine=f=220:sample_rate=44100", 60, "-ac", "1", "-c:a", "libmp3lame", "-b:a", "32k")
    records = []
    for ep in project.episodes:
        turns = next(e[5] for e in EPISODES if e[0] == ep.slug)
        out = root / "feeds" / "episodes" / ep.slug
        (out / "audiograms").mkdir(parents=True)
        shutil.copy(mp3, out / f"{ep.slug}.mp3")
        (out / "transcript.json").write_text(to_json(spoken(turns)))
        for rel in CLIP["files"].values():
            (out / rel).write_bytes(b"x")
        shutil.copy(root / "episodes" / "artwork.png", out / "audiograms" / "clip1.jpg")
        results = {"master": {"file": f"{ep.slug}.mp3", "mime": "audio/mpeg", "bytes": mp3.stat().st_size,
                              "duration": 60.0, "chapters": [{"startTime": 0.0, "title": "Hello"}]},
                   "transcribe": {"language": "en", "files": {"json": "transcript.json"}},
                   "audiogram": {"clips": [CLIP]}}
        results["notes"] = NotesStage().run(EpisodeContext(show=project.show, episode=ep, results=results))
        records.append(EpisodeRecord(ep, results))
    (root / "feeds" / "conditions").mkdir(parents=True, exist_ok=True)
    (root / "feeds" / "feed.xml").write_text("<rss/>")  # the feed stage's outputs, linked from the pages
    for cond in project.show.taxonomy.conditions:
        (root / "feeds" / "conditions" / f"{cond.slug}.xml").write_text("<rss/>")
    ctx = ShowContext(show=project.show, episodes=records)
    return ctx, SiteStage().run(ctx)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build(tmp_path_factory.mktemp("site2"))


class Page(HTMLParser):
    """Meta tags, links, and the transcript's paragraphs (their text, and whether each starts with a time link)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.links: list[dict] = []
        self.paragraphs: list[dict] = []
        self._in: dict | None = None
        self._depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta" and (a.get("property") or a.get("name")):
            self.meta.setdefault(a.get("property") or a.get("name"), []).append(a.get("content", ""))
        if tag == "a":
            self.links.append(a)
        if tag == "p" and "data-start" in a:
            self._in = {"start": float(a["data-start"]), "text": "", "timed": False, "speaker": None}
            self.paragraphs.append(self._in)
        elif self._in is not None and tag == "a" and "time" in a.get("class", "") and not self._in["text"].strip():
            self._in["timed"] = a["href"].endswith(f"#t={a['href'].rsplit('#t=', 1)[-1]}")
            self._in["href"] = a["href"]
            self._in["link"] = True
        elif self._in is not None and tag == "strong":
            self._in["speaker"] = ""

    def handle_endtag(self, tag):
        if tag == "p":
            self._in = None

    def handle_data(self, data):
        if self._in is None:
            return
        if self._in.get("link") and "clock" not in self._in:
            self._in["clock"] = data  # the time link's own text
        elif self._in.get("speaker") == "":
            self._in["speaker"] = data
        else:
            self._in["text"] += data


def test_episode_pages_show_the_whole_transcript_with_timed_links(site):
    ctx, _ = site
    for slug, *_rest, turns in EPISODES:
        out = ctx.out_dir / "episodes" / slug
        page = Page((out / "notes.html").read_text())
        words = load_words(out / "transcript.json")
        timed = [p for p in page.paragraphs if p.get("timed")]
        shown = sum(len(p["text"].split()) for p in timed)
        assert shown / len(words) >= 0.9, (slug, shown, len(words))
        assert shown == len(words)  # every word, in fact
        for p in timed:  # each time link seeks to where its paragraph starts, the start of one of its words
            audio, seconds = p["href"].split("#t=")
            assert audio == f"{slug}.mp3" and float(seconds) == p["start"]
            assert any(abs(w.start - p["start"]) < 0.01 for w in words)
        speakers = [p["speaker"] for p in page.paragraphs if p["speaker"]]
        assert speakers == [s for s, _ in turns if s], slug  # named at each change of speaker, where known
    harbour = Page((ctx.out_dir / "episodes" / "harbour-walk" / "notes.html").read_text())
    lighthouse = next(p for p in harbour.paragraphs if "lighthouse" in p["text"])
    assert lighthouse["clock"] == f"0:{round(lighthouse['start']):02d}"  # the time as people read it


def test_every_page_has_sharing_tags(site):
    ctx, result = site
    out = ctx.out_dir
    for rel in result["pages"] + [f"episodes/{e[0]}/notes.html" for e in EPISODES]:
        meta = Page((out / rel).read_text()).meta
        for key in ("og:title", "og:description", "og:image", "og:url", "twitter:card", "twitter:image"):
            assert meta.get(key) and meta[key][0].strip(), (rel, key)
        assert meta["og:image"][0].startswith(BASE) and meta["og:url"][0].startswith(BASE), rel
    meta = Page((out / "episodes" / "harbour-walk" / "notes.html").read_text()).meta
    folder = BASE + "episodes/harbour-walk/"
    assert meta["og:title"] == ["A walk round the harbour"]
    assert meta["og:image"] == [folder + "audiograms/clip1.jpg"]  # the audiogram's poster
    assert meta["og:audio"] == [folder + "harbour-walk.mp3"] and meta["og:audio:type"] == ["audio/mpeg"]
    assert meta["og:video"] == [folder + "audiograms/clip1-square.mp4"]  # the square audiogram
    assert meta["twitter:card"] == ["summary_large_image"] and meta["og:url"] == [folder + "notes.html"]


def test_sitemap_lists_every_episode_page_and_robots_points_to_it(site):
    from lxml import etree

    ctx, _ = site
    tree = etree.parse(str(ctx.out_dir / "sitemap.xml"))
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = tree.xpath("//s:url/s:loc/text()", namespaces=ns)
    for slug, *_ in EPISODES:
        assert f"{BASE}episodes/{slug}/notes.html" in locs
    assert BASE in locs and f"{BASE}page/2.html" in locs and f"{BASE}conditions/social-mixing.html" in locs
    for loc in locs:  # every URL is a page that exists
        assert (ctx.out_dir / (loc[len(BASE):] or "index.html")).is_file(), loc
    dated = dict(zip(locs, tree.xpath("//s:url/s:lastmod/text()|//s:url[not(s:lastmod)]/s:loc/text()",
                                      namespaces=ns)))
    assert dated[f"{BASE}episodes/market-day/notes.html"] == "2026-04-01"
    assert (ctx.out_dir / "robots.txt").read_text().splitlines()[-1] == f"Sitemap: {BASE}sitemap.xml"


def test_the_index_is_split_into_pages(site):
    ctx, _ = site
    first = (ctx.out_dir / "index.html").read_text()
    second = (ctx.out_dir / "page" / "2.html").read_text()
    assert first.count('<article class="card">') == 2 and second.count('<article class="card">') == 1
    assert "Choir night" in first and "Market day" in first and "A walk round the harbour" in second
    assert 'rel="next" href="page/2.html"' in first and 'rel="prev" href="../index.html"' in second
    assert 'href="../episodes/harbour-walk/notes.html"' in second  # links from the subfolder still resolve


def test_search_index_holds_every_word_with_its_moment(site):
    ctx, result = site
    search = ctx.out_dir / "search"
    listing = json.loads((search / "episodes.json").read_text())["episodes"]
    assert [e["slug"] for e in listing] == ["choir-night", "market-day", "harbour-walk"]
    shard = json.loads((search / "index" / "li.json").read_text())
    postings = shard["lighthouse"]
    assert [p[0] for p in postings] == [2]  # harbour-walk only
    doc = json.loads((search / "docs" / "harbour-walk.json").read_text())["p"]
    start, speaker, text = doc[postings[0][1]]
    assert "lighthouse" in text and speaker == GUEST and start > 10
    assert "marmalade" in json.loads((search / "index" / "ma.json").read_text())
    assert all(name.startswith("search/") for name in result["search"])


# --- a real browser ----------------------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    ctx, _ = site
    from pipeline.web.preview import PreviewHandler  # kindcast serve's: byte ranges, as static hosts serve them

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(PreviewHandler, directory=str(ctx.out_dir)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with Browser(tmp_path_factory.mktemp("profile")) as b:
        b.base = f"http://127.0.0.1:{server.server_address[1]}/"
        yield b
    server.shutdown()
    server.server_close()


@needs_chromium
def test_a_spoken_word_finds_its_episode_and_moment_and_seeks_the_player(browser, site):
    b = browser
    b.size(390, 844)
    b.open(b.base + "search.html?q=Lighthous")  # a word as typed: another case, unfinished
    b.wait_for("document.querySelectorAll('.search-result').length > 0")
    results = b.js("""[...document.querySelectorAll('.search-result')].map(r => ({
        title: r.querySelector('h2').textContent,
        moments: [...r.querySelectorAll('.moments a.time')].map(a => a.getAttribute('href')),
        marks: [...r.querySelectorAll('mark')].map(m => m.textContent)}))""")
    assert [r["title"] for r in results] == ["A walk round the harbour"]
    moment = results[0]["moments"][0]
    assert moment.startswith("episodes/harbour-walk/notes.html#t=")
    seconds = float(moment.split("#t=")[1])
    assert "lighthouse" in [m.lower() for m in results[0]["marks"]]

    b.click(".search-result .moments a.time")  # the moment opens the episode's page there
    b.wait_for("location.pathname.endsWith('/episodes/harbour-walk/notes.html')")
    b.wait_for(f"Math.abs(document.querySelector('audio.player').currentTime - {seconds}) < 0.3", timeout=20)
    current = b.js("document.querySelector('.transcript-text p.current').getAttribute('data-start')")
    assert abs(float(current) - seconds) < 0.01
    assert "lighthouse" in b.js("document.querySelector('.transcript-text p.current').textContent")

    # searching from the header's box, for words written in the notes, and for nothing
    b.open(b.base + "index.html")
    b.click(".site-search input")
    b.type("marmalade")
    b.press_enter()
    b.wait_for("document.querySelectorAll('.search-result').length > 0")
    assert b.js("[...document.querySelectorAll('.search-result h2')].map(h => h.textContent)") == ["Market day"]
    assert b.js("document.querySelector('.moments li').textContent").startswith("Notes:")
    assert b.js("window.kindcastSearch('zzzqx').then(() => document.getElementById('search-status').textContent)") \
        == "Nothing found for “zzzqx”."


@needs_chromium
def test_time_links_seek_and_the_transcript_follows_playback(browser):
    b = browser
    b.size(1280, 900)
    b.open(b.base + "episodes/harbour-walk/notes.html")
    starts = b.js("[...document.querySelectorAll('.transcript-text p')].map(p => parseFloat(p.dataset.start))")
    assert len(starts) >= 5 and starts == sorted(starts)
    b.click(".transcript-text p:nth-child(2) a.time")  # a person clicks the second paragraph's time
    b.wait_for(f"!document.querySelector('audio.player').paused && "
               f"document.querySelector('audio.player').currentTime >= {starts[1] - 0.1}", timeout=20)
    at = b.js("document.querySelector('audio.player').currentTime")
    assert starts[1] - 0.1 <= at < starts[2]
    assert b.js("document.querySelector('.transcript-text p.current') === "
                "document.querySelector('.transcript-text p:nth-child(2)')")
    b.js("document.querySelector('audio.player').playbackRate = 4")  # let it play into the next paragraph
    b.wait_for("document.querySelector('.transcript-text p.current') === "
               "document.querySelector('.transcript-text p:nth-child(3)')", timeout=30)
    assert b.js("document.querySelectorAll('.transcript-text p.current').length") == 1
    b.js("document.querySelector('audio.player').pause()")


@needs_chromium
@pytest.mark.parametrize("width", [390, 1280])
def test_pages_fit_phone_and_desktop(browser, tmp_path, width):
    from PIL import Image

    b = browser
    b.size(width, 844)
    for page in ("index.html", "episodes/harbour-walk/notes.html", "search.html?q=choir", "conditions/social-mixing.html"):
        b.open(b.base + page)
        assert b.js("document.documentElement.scrollWidth") <= width, f"{page} is wider than {width} px"
        header = b.js("document.querySelector('.site-header').getBoundingClientRect().height")
        assert header < (110 if width < 600 else 80), f"{page}: the header takes {header} px"
        shot = b.screenshot(tmp_path / f"{width}.png")
        with Image.open(shot) as img:
            colours = img.convert("RGB").getcolors(maxcolors=1 << 20)
        share = {rgb: n / sum(n for n, _ in colours) for n, rgb in colours}
        assert len(colours) > 50 and share.get((0xfb, 0xf8, 0xf3), 0) > 0.05, f"{page} looks blank or unstyled"
