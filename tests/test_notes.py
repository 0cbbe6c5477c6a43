"""Show notes: the notes stage rendered on a tiny real show with hand-made upstream results (so these tests do not
depend on the master/transcribe/tag/audiogram stages), escaping, template errors and show overrides."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import make_show, synth, write_episode
from pipeline.errors import KindcastError
from pipeline.show import load_project
from pipeline.engine.stage import EpisodeContext, check, fingerprint
from pipeline.stages.notes import NotesStage
from pipeline.web.sanitize import clean_feed
from pipeline.web.templating import PACKAGED_TEMPLATES

EVIL_TITLE = "Kindness <script>alert('t')</script> & friends"
NOTES = """We talk about *mixing* with <b>raw html</b> and <script>alert('n')</script>.

[a bad link](javascript:alert(3)) and [a good one](https://example.org/more).
Entity-spelled ones too: [listen](jav&#x61;script:alert(4)), ![x](&#106;avascript:alert(5)),
[c](javascript&colon;alert(6)) and [t](java	script:alert(7)).

## Part two

- first point
- second point
"""


def upstream_results(slug: str) -> dict:
    """Results as the upstream stages record them (the contracts in the working agreement)."""
    return {
        "probe": {"file": "raw.wav", "duration": 3.0, "sample_rate": 44100, "channels": 1, "codec": "pcm_s16le"},
        "master": {"file": f"{slug}.mp3", "mime": "audio/mpeg", "bytes": 1000, "duration": 3725.4,
                   "chapters": [{"startTime": 0.0, "title": "Welcome"},
                                {"startTime": 95.2, "title": "At the <market>"},
                                {"startTime": 3601.0, "title": "Goodbyes"}]},
        "transcribe": {"language": "en", "model": "tiny.en", "words": 900, "speakers": [],
                       "files": {"json": "transcript.json", "vtt": "transcript.vtt", "srt": "transcript.srt",
                                 "txt": "transcript.txt"}},
        "tag": {"manual": [2, 7],
                "suggested": [
                    {"id": 4, "slug": "tackle-misinformation", "title": "Tackle misinformation", "score": 0.71,
                     "evidence": [{"text": "We went door to door checking the rumours <with> the imam.",
                                   "start": 612.3, "end": 618.0}]},
                    {"id": 2, "slug": "social-mixing", "title": "dup of a manual tag", "score": 0.9,
                     "evidence": [{"text": "should not show as a suggestion", "start": 1.0, "end": 2.0}]},
                ]},
        "audiogram": {"clips": [{"name": "clip1", "title": "The best bit", "start": 61.0, "duration": 30.0,
                                 "files": {"square": "audiograms/clip1-square.mp4",
                                           "vertical": "audiograms/clip1-vertical.mp4"},
                                 "poster": "audiograms/clip1.jpg"}],
                      "outputs": []},
    }


def tiny_show(tmp_path: Path, episodes: list[tuple[str, dict, str]] | None = None, before_load=None) -> Path:
    """A real show folder (show.yaml, artwork, episode folders with a 1 s recording); ``before_load(root)`` adds
    files (e.g. an episode's artwork) once the folders exist."""
    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "raw.wav", "sine=f=330", 1)
    for slug, front, notes in episodes or [("kind-one", {
            "title": EVIL_TITLE, "date": "2026-10-01", "number": 1, "guid": "guid-1",
            "guests": [{"name": "Gia <b>Guest</b>", "href": "https://example.org/gia"},
                       {"name": "Sly", "href": "mailto:sly@example.org"}],
            "conditions": [2, "local-knowledge"]}, NOTES)]:
        write_episode(root, slug, front, audio, notes=notes)
    if before_load:
        before_load(root)
    return root


def episode_ctx(root: Path, slug: str, results: dict) -> EpisodeContext:
    project = load_project(root)
    assert not project.problems, project.problems
    episode = next(e for e in project.episodes if e.slug == slug)
    return EpisodeContext(show=project.show, episode=episode, results=results)


class Tags(HTMLParser):
    """Every start tag and attribute of an HTML document, to judge structure rather than strings."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def attr(self, tag: str, name: str) -> list[str]:
        return [a[name] for t, a in self.tags if t == tag and name in a]


@pytest.fixture
def built(tmp_path):
    root = tiny_show(tmp_path)
    ctx = episode_ctx(root, "kind-one", upstream_results("kind-one"))
    result = NotesStage().run(ctx)
    return ctx, result


def test_notes_render_everything(built):
    ctx, result = built
    page = (ctx.out_dir / "notes.html").read_text()
    md = (ctx.out_dir / "notes.md").read_text()
    doc = Tags(page)
    text = " ".join(doc.text)
    # title, date, duration (published, from master), people
    assert EVIL_TITLE in text
    assert "1 October 2026" in text and "1:02:05" in text
    assert "Hana Host" in text and "Gia <b>Guest</b>" in text and "Sly" in text
    assert "https://example.org/gia" in doc.attr("a", "href")
    # chapters with published times, linked to the audio at that time
    assert re.search(r"1:35\s+At the <market>", text) and "1:00:01" in text
    assert "kind-one.mp3#t=95.2" in doc.attr("a", "href")
    # conditions: manual (titles from the taxonomy), suggested with score, evidence quote and time
    assert "2. Social mixing" in text and "7. Local and lived knowledge" in text
    assert "4. Tackling misinformation" in text and "0.71" in text
    assert "checking the rumours <with> the imam." in text and "10:12" in text
    assert "should not show as a suggestion" not in text  # a suggestion of a manual tag: manual wins
    assert "../../conditions/social-mixing.html" in doc.attr("a", "href")
    # transcript and audiogram links, the audio player, relative to the episode folder
    hrefs = doc.attr("a", "href")
    for f in ("transcript.vtt", "transcript.srt", "transcript.json", "transcript.txt",
              "audiograms/clip1-square.mp4", "audiograms/clip1-vertical.mp4"):
        assert f in hrefs
    assert "audiograms/clip1.jpg" in doc.attr("img", "src")
    assert doc.attr("source", "src") == ["kind-one.mp3"]
    assert "audio" in doc.names()
    # the site's frame: viewport meta, nav back to the site
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in [a for t, a in doc.tags if t == "meta"]
    assert "../../index.html" in hrefs
    # the Markdown twin
    assert md.startswith("# Kindness &lt;script&gt;")
    assert "- 1:35 At the &lt;market&gt;" in md
    assert "10:12: \"We went door to door checking the rumours &lt;with&gt; the imam.\"" in md
    assert "[WebVTT captions](transcript.vtt)" in md and "[square](audiograms/clip1-square.mp4)" in md
    assert "**2. Social mixing**" in md and "**4. Tackling misinformation**" in md
    # the result for the feed
    assert result["summary"].startswith("We talk about mixing with <b>raw html</b>")  # plain text: tags are text


def test_html_escaped_everywhere(built):
    ctx, result = built
    page = (ctx.out_dir / "notes.html").read_text()
    doc = Tags(page)
    # no markup from the metadata or the producer's Markdown became an element
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S | re.I)
    assert len(scripts) == 1 and "alert" not in scripts[0]  # only the template's own player script
    assert [t for t in ("b",) if t in doc.names()] == []
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in page  # the title, escaped
    assert "&lt;script&gt;alert(&#39;n&#39;)&lt;/script&gt;" in page or "&lt;script&gt;alert('n')&lt;/script&gt;" in page
    addresses = doc.attr("a", "href") + doc.attr("img", "src")
    assert not any(re.sub(r"[\x00-\x20]", "", h).lower().startswith("javascript") for h in addresses), addresses
    assert "https://example.org/more" in doc.attr("a", "href")
    assert "<em>mixing</em>" in page  # Markdown itself still renders


def test_description_uses_apple_tags_only(built):
    _, result = built
    desc = result["description_html"]
    doc = Tags(desc)
    assert doc.names() <= {"p", "a", "ul", "ol", "li", "strong", "em", "br"}
    assert {"p", "ul", "li", "a", "strong", "em"} <= doc.names()
    assert "&lt;script&gt;" in desc and "<script" not in desc
    # links are absolute: a feed reader has no page to resolve them against
    assert "https://example.org/podcast/episodes/kind-one/notes.html" in doc.attr("a", "href")
    assert all(h.startswith("https://") for h in doc.attr("a", "href"))


def test_sanitize_html_cuts_down_to_allowed_tags():
    dirty = ('<h2>Head</h2><div class="x"><p>One <b>bold</b> <i>it</i> <img src="x.png"> <span>two</span></p>'
             '<script>alert(1)</script><style>p{}</style><p>a<br/>b <a href="javascript:alert(1)">bad</a> '
             '<a href="more.html" onclick="x()">rel</a></p></div><table><tr><td>cell</td></tr></table>')
    clean = clean_feed(dirty, base_url="https://ex.org/ep/notes.html")
    assert clean == ('<p>Head</p><p>One <strong>bold</strong> <em>it</em>  two</p><p>a<br>b bad '
                     '<a href="https://ex.org/ep/more.html">rel</a></p>cell')


def test_notes_build_without_upstream_results(tmp_path):
    root = tiny_show(tmp_path)
    ctx = episode_ctx(root, "kind-one", {})
    result = NotesStage().run(ctx)
    page = (ctx.out_dir / "notes.html").read_text()
    doc = Tags(page)
    assert "audio" not in doc.names() and "Chapters" not in page and "Transcript" not in page
    # the manual tags come from the episode itself when the tag stage recorded nothing
    assert "Social mixing" in " ".join(doc.text)
    assert result["summary"] and Tags(result["description_html"]).names() <= {"p", "a", "strong", "em", "ul", "li"}


def test_summary_from_front_matter_wins(tmp_path):
    root = tiny_show(tmp_path, [("ep", {"title": "T", "date": "2026-10-01", "guid": "g",
                                         "summary": "Short & sweet."}, "Long notes here.\n")])
    result = NotesStage().run(episode_ctx(root, "ep", {}))
    assert result["summary"] == "Short & sweet."


def test_unchanged_rebuild_rewrites_nothing(built):
    ctx, result = built
    files = [ctx.out_dir / "notes.html", ctx.out_dir / "notes.md"]
    before = [f.stat().st_mtime_ns for f in files]
    assert NotesStage().run(ctx) == result
    assert [f.stat().st_mtime_ns for f in files] == before


def test_template_syntax_error_names_template_and_line(tmp_path):
    root = tiny_show(tmp_path)
    override = root / "templates" / "notes.md"
    override.parent.mkdir()
    override.write_text("# {{ episode.title }}\n\n{% for c in episode.chapters %}\n- {{ c.title }\n{% endfor %}\n")
    ctx = episode_ctx(root, "kind-one", upstream_results("kind-one"))
    with pytest.raises(KindcastError) as err:
        NotesStage().run(ctx)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("templates/notes.md: line 4: template syntax error")
    # the freshness check never raises on a broken template, and lists it so fixing it rebuilds
    assert override in NotesStage().inputs(ctx)


def test_template_render_error_names_template_and_line(tmp_path):
    root = tiny_show(tmp_path)
    override = root / "templates" / "notes.html"
    override.parent.mkdir()
    override.write_text("<h1>{{ episode.title }}</h1>\n<p>{{ episode.titel }}</p>\n")
    ctx = episode_ctx(root, "kind-one", upstream_results("kind-one"))
    with pytest.raises(KindcastError) as err:
        NotesStage().run(ctx)
    message = str(err.value)
    assert message.startswith("templates/notes.html: line 2: error while rendering template 'notes.html'")
    assert "titel" in message and "\n" not in message


def test_missing_template_names_searched_folders(tmp_path):
    root = tiny_show(tmp_path)
    override = root / "templates" / "notes.html"
    override.parent.mkdir()
    override.write_text('{% include "partials/nope.html" %}\n')
    with pytest.raises(KindcastError) as err:
        NotesStage().run(episode_ctx(root, "kind-one", {}))
    message = str(err.value)
    assert "partials/nope.html" in message and str(root / "templates") in message and str(PACKAGED_TEMPLATES) in message


def test_show_override_wins_and_rebuilds(tmp_path):
    root = tiny_show(tmp_path)
    ctx = episode_ctx(root, "kind-one", upstream_results("kind-one"))
    stage = NotesStage()
    assert PACKAGED_TEMPLATES / "notes.md" in stage.inputs(ctx)
    fresh = check(stage, ctx, None)
    result = stage.run(ctx)
    recorded = {"fingerprint": fingerprint(stage, ctx, fresh.fingerprint_inputs, result)}
    assert check(stage, ctx, recorded).reason is None

    override = root / "templates" / "notes.md"
    override.parent.mkdir()
    override.write_text("OUR OWN NOTES for {{ episode.title | md }} ({{ episode.chapters | length }} chapters)\n")
    assert check(stage, ctx, recorded).reason is not None  # a new template file: the notes are rebuilt
    inputs = stage.inputs(ctx)
    assert override in inputs and PACKAGED_TEMPLATES / "notes.md" not in inputs
    assert PACKAGED_TEMPLATES / "base.html" in inputs  # what notes.html extends is an input too
    stage.run(ctx)
    assert (ctx.out_dir / "notes.md").read_text() == \
        "OUR OWN NOTES for Kindness &lt;script&gt;alert('t')&lt;/script&gt; &amp; friends (3 chapters)\n"


def test_metadata_change_rebuilds(tmp_path):
    root = tiny_show(tmp_path)
    results = upstream_results("kind-one")
    ctx = episode_ctx(root, "kind-one", results)
    stage = NotesStage()
    fresh = check(stage, ctx, None)
    recorded = {"fingerprint": fingerprint(stage, ctx, fresh.fingerprint_inputs, stage.run(ctx))}
    results["tag"]["suggested"][0]["evidence"][0]["text"] = "another quote"
    assert check(stage, ctx, recorded).reason == "settings or metadata changed"


def test_long_description_is_cut_to_apples_limit(tmp_path):
    from pipeline.apple import DESCRIPTION_LIMIT

    paragraph = "Neighbours & strangers <met> at the allotment and swapped seeds, stories and recipes. " * 8
    long_notes = "\n\n".join([paragraph] * 8)  # about 5500 characters of notes
    root = tiny_show(tmp_path, [("long", {"title": "T", "date": "2026-10-01", "guid": "g"}, long_notes)])
    result = NotesStage().run(episode_ctx(root, "long", upstream_results("long")))
    desc = result["description_html"]
    assert len(desc) <= DESCRIPTION_LIMIT
    assert desc.startswith("<p>Neighbours &amp; strangers &lt;met&gt;")  # the template's short version: the summary
    assert "https://example.org/podcast/episodes/long/notes.html" in Tags(desc).attr("a", "href")

    one_huge = ("word & " * 1500).strip()  # a single paragraph longer than the limit: cut at a word
    root = tiny_show(tmp_path / "b", [("huge", {"title": "T", "date": "2026-10-01", "guid": "g"}, one_huge)])
    desc = NotesStage().run(episode_ctx(root, "huge", {}))["description_html"]
    assert len(desc) <= DESCRIPTION_LIMIT and "…</p>" in desc
    assert not re.search(r"&(?!amp;|lt;|gt;|quot;)", desc)  # no entity cut in half
    assert Tags(desc).names() == {"p", "a"}


def test_check_templates_finds_syntax_errors_before_a_build(tmp_path):
    from pipeline.web.templating import templates_for

    root = tiny_show(tmp_path)
    folder = root / "templates"
    folder.mkdir()
    (folder / "README.md").write_text("How we changed the theme: {{ like this }\n")  # not a template
    (folder / "style.css").write_text("body { color: red; }\n")
    (folder / "index.html").write_text("{% extends 'base.html' %}\n{% block main %}\n{{ show.title }\n{% endblock %}\n")
    assert [str(p) for p in templates_for(root).check()] == [
        "templates/index.html: line 3: template syntax error: unexpected '}'"]
