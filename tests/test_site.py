"""The static site: built from a tiny real show with hand-made upstream results, checked as data (which episodes,
which links), for determinism, and loaded for real in headless Chromium (screenshot + DOM)."""
from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import make_artwork, synth
from pipeline.show import load_project
from pipeline.engine.stage import EpisodeRecord, ShowContext, check, fingerprint
from pipeline.stages.notes import NotesStage
from pipeline.stages.site import SiteStage
from test_notes import NOTES, Tags, tiny_show, upstream_results

EPISODES = [
    ("older-one", {"title": "Neighbours <b>meet</b>", "date": "2026-09-01", "number": 1, "guid": "g1",
                   "conditions": ["social-mixing"]}, NOTES),
    ("newer-one", {"title": "Market day stories", "date": "2026-11-01", "number": 2, "guid": "g2",
                   "artwork": "Cover.JPEG"},
     "A walk through the Saturday market.\n"),
    ("scheduled", {"title": "Not out yet", "date": "2030-01-01", "number": 3, "guid": "g3"}, "Soon.\n"),
    ("unmastered", {"title": "Never mastered", "date": "2026-08-01", "number": 4, "guid": "g4"}, "Raw.\n"),
]


def build_site(tmp_path: Path) -> tuple[ShowContext, dict]:
    """Notes for every episode, then the site, with upstream outputs present on disk so every link can resolve."""
    root = tiny_show(tmp_path, EPISODES, before_load=lambda root: make_artwork(
        root / "episodes" / "newer-one" / "Cover.JPEG", color=(40, 90, 160)))
    project = load_project(root)
    assert not project.problems, project.problems
    mp3 = synth(tmp_path / "ep.mp3", "sine=f=440:sample_rate=44100", 2, "-c:a", "libmp3lame", "-b:a", "64k")
    records = []
    for ep in project.episodes:
        if ep.slug == "unmastered":
            results = {}
        else:
            results = upstream_results(ep.slug)
            if ep.slug == "newer-one":  # the tag stage suggests social mixing here, no manual tags
                results["tag"] = {"manual": [], "suggested": [
                    {"id": 2, "slug": "social-mixing", "title": "x", "score": 0.66,
                     "evidence": [{"text": "Strangers ended up sharing a table.", "start": 30.0, "end": 33.0}]}]}
            out = root / "feeds" / "episodes" / ep.slug
            out.mkdir(parents=True, exist_ok=True)
            shutil.copy(mp3, out / f"{ep.slug}.mp3")
            for rel in ["transcript.json", "transcript.vtt", "transcript.srt", "transcript.txt",
                        "audiograms/clip1-square.mp4", "audiograms/clip1-vertical.mp4", "audiograms/clip1.jpg"]:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                (out / rel).write_bytes(b"x")
        from pipeline.engine.stage import EpisodeContext

        ctx = EpisodeContext(show=project.show, episode=ep, results=results)
        results["notes"] = NotesStage().run(ctx)
        records.append(EpisodeRecord(ep, results))
    (root / "feeds" / "conditions").mkdir(parents=True, exist_ok=True)
    (root / "feeds" / "feed.xml").write_text("<rss/>")  # the feed stage's outputs, linked from the pages
    for cond in project.show.taxonomy.conditions:
        (root / "feeds" / "conditions" / f"{cond.slug}.xml").write_text("<rss/>")
    sctx = ShowContext(show=project.show, episodes=records)
    return sctx, SiteStage().run(sctx)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return build_site(tmp_path_factory.mktemp("site"))


def titles_in(page: Path) -> list[str]:
    doc = Tags(page.read_text())
    return [a for a in doc.text if a.strip() in {e[1]["title"] for e in EPISODES}]


def test_index_lists_published_episodes_newest_first(site):
    ctx, result = site
    out = ctx.out_dir
    assert result["episodes"] == ["newer-one", "older-one"]
    page = (out / "index.html").read_text()
    doc = Tags(page)
    assert titles_in(out / "index.html") == ["Market day stories", "Neighbours <b>meet</b>"]
    assert "b" not in doc.names() and "Not out yet" not in page and "Never mastered" not in page
    assert doc.attr("source", "src") == ["episodes/newer-one/newer-one.mp3", "episodes/older-one/older-one.mp3"]
    # small thumbnails on the page, the full artwork published beside them (the feed's names for it)
    assert doc.attr("img", "src")[:2] == ["artwork-240.jpg", "artwork-240.jpg"]  # header, hero
    assert "episodes/newer-one/Cover-240.jpg" in doc.attr("img", "src")  # the episode's own artwork
    assert (out / "artwork.png").is_file() and (out / "episodes" / "newer-one" / "Cover.jpg").is_file()
    from PIL import Image

    for thumb in (out / "artwork-240.jpg", out / "episodes" / "newer-one" / "Cover-240.jpg"):
        with Image.open(thumb) as img:
            assert (img.format, img.size) == ("JPEG", (240, 240))
        assert thumb.stat().st_size < 20_000
    assert "1 November 2026" in page and "1:02:05" in page
    tags = [a["href"] for t, a in doc.tags if t == "a" and "tag" in a.get("class", "")]
    assert "conditions/social-mixing.html" in tags and "conditions/tackle-misinformation.html" in tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in doc.tags)


def test_condition_pages(site):
    ctx, result = site
    out = ctx.out_dir
    slugs = [c.slug for c in ctx.show.taxonomy.conditions]
    assert sorted(result["pages"]) == sorted(["index.html", "conditions/index.html", "search.html"]
                                             + [f"conditions/{s}.html" for s in slugs])
    mixing = (out / "conditions" / "social-mixing.html").read_text()
    cards = mixing.split('<article class="card">')[1:]
    assert len(cards) == 2
    assert "Neighbours &lt;b&gt;meet&lt;/b&gt;" in cards[0] and "Suggested" not in cards[0]  # manual first
    assert "Market day stories" in cards[1] and "Suggested from the transcript" in cards[1]
    assert "Strangers ended up sharing a table." in cards[1]
    policy = (out / "conditions" / "kind-policy.html").read_text()
    assert "No episodes speak to this condition yet." in policy
    overview = Tags((out / "conditions" / "index.html").read_text())
    headings = [t for t in overview.text if t.strip() in ("People", "Place", "Knowledge")]
    assert headings == ["People", "Place", "Knowledge"]
    assert set(overview.attr("a", "href")) >= {f"../conditions/{s}.html" for s in slugs}
    assert "1 tagged, 1 suggested" in " ".join(overview.text).replace("\n", " ")


def test_every_local_link_resolves(site):
    ctx, _ = site
    out = ctx.out_dir
    checked = 0
    for page in list(out.glob("*.html")) + list(out.glob("conditions/*.html")) + list(out.glob("episodes/*/notes.html")):
        doc = Tags(page.read_text())
        for url in doc.attr("a", "href") + doc.attr("img", "src") + doc.attr("source", "src") + doc.attr("link", "href"):
            parts = urlsplit(url)
            if parts.scheme or url.startswith("/"):
                assert parts.scheme in ("https", "http", "mailto"), f"{page}: {url}"
                continue  # external links: the show's own base_url, guests' pages
            if not parts.path:
                continue
            target = (page.parent / parts.path).resolve()
            assert target.is_file(), f"{page.relative_to(out)} links to missing {url}"
            assert out.resolve() in target.parents, f"{page}: {url} leaves feeds/"
            checked += 1
    assert checked > 100


def test_unchanged_build_rewrites_nothing_and_template_edit_rebuilds(tmp_path):
    ctx, result = build_site(tmp_path)
    stage = SiteStage()
    pages = sorted(ctx.out_dir.rglob("*.html"))
    before = {p: p.stat().st_mtime_ns for p in pages}
    again = stage.run(ctx)
    assert again["written"] == 0 and {p: p.stat().st_mtime_ns for p in pages} == before
    fresh = check(stage, ctx, None)
    recorded = {"fingerprint": fingerprint(stage, ctx, fresh.fingerprint_inputs, again)}
    assert check(stage, ctx, recorded).reason is None
    override = ctx.root / "templates" / "style.css"
    override.parent.mkdir()
    override.write_text("body { background: #123456; }\n")
    assert check(stage, ctx, recorded).reason is not None  # the stylesheet is included by base.html: an input
    stage.run(ctx)
    assert "#123456" in (ctx.out_dir / "index.html").read_text()


# --- a real browser ----------------------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(site):
    ctx, _ = site
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(ctx.out_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run",
                           f"--user-data-dir={profile}", "--window-size=390,844", *args],
                          capture_output=True, text=True, timeout=90)


def assert_not_blank(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (390, 844)
        colours = rgb.getcolors(maxcolors=1 << 20)
    colours.sort(reverse=True)
    total = sum(n for n, _ in colours)
    share = {rgb: n / total for n, rgb in colours}
    assert share.get((0xfb, 0xf8, 0xf3), 0) > 0.05, "the theme's page background is missing: CSS not applied?"
    assert len(colours) > 50, f"only {len(colours)} colours: the page looks blank"
    assert colours[0][0] / total < 0.9, f"{colours[0][0] / total:.0%} of the screenshot is one colour"


@needs_chromium
@pytest.mark.parametrize("page,expected", [
    ("index.html", ["Market day stories", "Neighbours <b>meet</b>"]),
    ("conditions/social-mixing.html", ["Neighbours <b>meet</b>", "Market day stories"]),
])
def test_pages_in_headless_chromium(served, tmp_path, page, expected):
    url = served + page
    shot = tmp_path / "shot.png"
    proc = chromium(tmp_path, f"--screenshot={shot}", "--dump-dom", url)
    assert shot.is_file(), proc.stderr[-2000:]
    assert_not_blank(shot)
    dom = proc.stdout
    doc = Tags(dom)
    shown = [t.strip() for t in doc.text if t.strip() in expected]
    assert shown == expected, dom[:3000]
    assert "audio" in doc.names() and "Not out yet" not in dom
    if "conditions/" in page:
        assert "Suggested from the transcript" in dom
