"""What the pages show: the show, an episode, a condition and the whole site as plain JSON-able data for the
templates (also the notes and site stages' params), which episodes are published now, the RSS description, the
transcript as paragraphs to read, what social networks are told (Open Graph, Twitter/X cards), the index's pages,
sitemap.xml and robots.txt."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

from pipeline.apple import DESCRIPTION_LIMIT

TRANSCRIPT_LABELS = {"vtt": "WebVTT captions", "srt": "SRT subtitles", "json": "JSON (Podcasting 2.0)",
                     "txt": "Plain text"}
TRANSCRIPT_ORDER = ["txt", "vtt", "srt", "json"]
PAGE_PARAGRAPH_CHARS = 320  # a paragraph on the page ends at the first sentence end past this (about 20 s of speech)
PAGE_PARAGRAPH_GAP = 2.0  # seconds of silence that start a new paragraph
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def _person(p) -> dict:
    from pipeline.web.sanitize import safe_url

    return {"name": p.name, "role": p.role, "href": safe_url(p.href)}  # no javascript: links from metadata


def show_model(show) -> dict:
    """What every page knows of the show."""
    from pipeline.web.artwork import published_artwork_name, thumb_name

    meta = show.meta
    return {
        "title": meta.title,
        "description": meta.description,
        "author": meta.author,
        "artwork": published_artwork_name(meta.artwork),  # the feed stage publishes it under this name
        "thumb": thumb_name(meta.artwork),  # written by the site stage
        "base_url": meta.base_url,
        "link": meta.link,
        "language": meta.language,
        "copyright": meta.copyright,
        "funding": [{"url": f.url, "text": f.text} for f in meta.funding],
    }


def condition_model(cond) -> dict:
    return {"id": cond.id, "slug": cond.slug, "title": cond.title, "short": cond.short, "pillar": cond.pillar,
            "description": cond.description}


def conditions_of(show, episode, results: dict) -> dict:
    """Manual tags (the tag stage's, else the episode's own) and the suggestions that are not manual tags."""
    taxonomy = show.taxonomy
    tag = results.get("tag") or {}
    manual_ids = tag.get("manual")
    if manual_ids is None:
        manual_ids = list(episode.conditions)
    manual = []
    for cid in manual_ids:
        cond = taxonomy.resolve(cid)
        if cond is not None and cond.id not in [m["id"] for m in manual]:
            manual.append(condition_model(cond))
    taken = {m["id"] for m in manual}
    suggested = []
    for s in tag.get("suggested") or []:
        cond = taxonomy.resolve(s.get("id")) if s.get("id") is not None else None
        if cond is None or cond.id in taken:
            continue
        taken.add(cond.id)
        evidence = [{"text": str(e.get("text", "")).strip(), "start": e.get("start"), "end": e.get("end")}
                    for e in s.get("evidence") or [] if str(e.get("text", "")).strip()]
        suggested.append({**condition_model(cond), "score": round(float(s.get("score") or 0), 3),
                          "evidence": evidence})
    return {"manual": manual, "suggested": suggested}


def transcript_paragraphs(path: Path) -> list[dict]:
    """The transcript at ``path`` (Podcasting 2.0 JSON) as paragraphs to read: start and end (published seconds),
    speaker when the transcript names one, text and word count. A missing or unreadable transcript gives []."""
    from pipeline.errors import KindcastError
    from pipeline.speech.transcript import load_words, paragraphs

    try:
        words = load_words(path)
    except KindcastError:
        return []
    return [{"start": round(p.start, 2), "end": round(p.end, 2), "speaker": p.speaker, "text": p.text,
             "words": len(p.words)}
            for p in paragraphs(words, max_chars=PAGE_PARAGRAPH_CHARS, gap=PAGE_PARAGRAPH_GAP)]


def notes_paragraphs(markdown_text: str) -> list[str]:
    """The producer's notes as plain-text paragraphs (for the search index)."""
    import re

    from pipeline.web.templating import html_to_text, render_markdown

    html = render_markdown(markdown_text)
    blocks = re.split(r"</(?:p|li|h[1-6]|blockquote|pre)>", html)
    return [text for text in (html_to_text(b) for b in blocks) if text]


def share_model(show, slug: str, audio: dict | None, clips: list[dict], artwork: str) -> dict:
    """What an episode page tells social networks: absolute URLs of the image (the first audiogram's poster, else
    the artwork), the audio and the square audiogram (as og:video)."""
    from pipeline.web.feed import url_join

    base = show.meta.base_url
    folder = ["episodes", slug]
    poster = next((c["poster"] for c in clips if c.get("poster")), None)
    square = next((f["href"] for c in clips for f in c["files"] if f["size"] == "square"), None)
    share = {"image": url_join(base, *(folder + poster.split("/") if poster else artwork.split("/"))),
             "image_alt": None, "audio": None, "audio_type": None, "video": None}
    if audio:
        share["audio"] = url_join(base, *folder, *audio["href"].split("/"))
        share["audio_type"] = audio["mime"]
    if square:
        share["video"] = url_join(base, *folder, *square.split("/"))
    return share


def episode_model(show, episode, results: dict, with_notes: bool = True, transcript: list[dict] | None = None,
                  render: bool = True) -> dict:
    """The episode as the templates see it. Paths of the episode's own files are relative to its folder
    ``feeds/episodes/<slug>/``; ``artwork`` is relative to ``feeds/``. Without ``with_notes`` (the site's listings)
    the producer's notes are not rendered and the summary comes from the notes stage's result when there is one.
    ``transcript``: the paragraphs to show on the episode's page (see :func:`transcript_paragraphs`). Without
    ``render`` (the notes stage's freshness check) the Markdown is not turned into HTML: the model still changes
    whenever the page would, since it holds the notes' Markdown."""
    from pipeline.web.artwork import published_artwork_name, thumb_name
    from pipeline.web.sanitize import safe_url
    from pipeline.web.templating import first_paragraph_text, render_markdown

    meta = episode.meta
    master = results.get("master") or {}
    probe = results.get("probe") or {}
    duration = master.get("duration") or probe.get("duration") or episode.duration
    chapters = []
    for ch in master.get("chapters") or []:
        start = ch.get("startTime", ch.get("start"))
        if start is None or not ch.get("title"):
            continue
        chapters.append({"start": float(start), "title": str(ch["title"]), "url": safe_url(ch.get("url"))})
    transcript_files = (results.get("transcribe") or {}).get("files") or {}
    transcripts = [{"kind": k, "label": TRANSCRIPT_LABELS.get(k, k), "href": transcript_files[k]}
                   for k in TRANSCRIPT_ORDER + sorted(set(transcript_files) - set(TRANSCRIPT_ORDER))
                   if transcript_files.get(k)]
    clips = []
    for clip in (results.get("audiogram") or {}).get("clips") or []:
        files = clip.get("files") or {}
        clips.append({
            "name": clip.get("name", ""),
            "title": clip.get("title") or clip.get("name", ""),
            "start": float(clip.get("start") or 0),
            "duration": float(clip.get("duration") or 0),
            "files": [{"size": size, "href": href} for size, href in files.items() if href],
            "poster": clip.get("poster"),
        })
    notes_html = render_markdown(episode.notes) if with_notes and render else None
    summary = (meta.summary or "").strip()
    if not summary and not with_notes:
        summary = str((results.get("notes") or {}).get("summary") or "")
    if not summary and render:
        summary = first_paragraph_text(episode.notes)
    audio = master.get("file")
    audio_model = {"href": audio, "mime": master.get("mime") or "audio/mpeg"} if audio else None
    alternate = master.get("alternate") if isinstance(master.get("alternate"), dict) else None
    artwork = (f"episodes/{episode.slug}/{published_artwork_name(meta.artwork)}" if meta.artwork
               else published_artwork_name(show.meta.artwork))
    return {
        "slug": episode.slug,
        "title": meta.title,
        "date": meta.date.isoformat(),
        "number": meta.number,
        "season": meta.season,
        "episode_type": meta.episode_type,
        "duration": round(float(duration or 0), 3),
        "summary": summary,
        "notes_markdown": episode.notes if with_notes else None,
        "notes_html": notes_html,
        "hosts": [_person(p) for p in show.hosts_for(episode)],
        "guests": [_person(p) for p in meta.guests],
        "chapters": chapters,
        "conditions": conditions_of(show, episode, results),
        "transcripts": transcripts,
        "clips": clips,
        "audio": audio_model,
        "smaller": ({"href": alternate["file"], "mime": alternate.get("mime"), "bytes": alternate.get("bytes"),
                     "kbps": round(int(alternate.get("bitrate") or 0) / 1000)}
                    if alternate and alternate.get("file") else None),
        "artwork": artwork,
        "thumb": (f"episodes/{episode.slug}/{thumb_name(meta.artwork)}" if meta.artwork
                  else thumb_name(show.meta.artwork)),
        "url": f"{show.meta.base_url}episodes/{episode.slug}/notes.html",
        "share": share_model(show, episode.slug, audio_model, clips, artwork),
        "transcript": transcript or [],
    }


def published(records, now: datetime | None = None) -> list:
    """The records the site lists: mastered, and not dated in the future; newest first."""
    now = now or datetime.now(timezone.utc)
    shown = [r for r in records if (r.results.get("master") or {}).get("file") and r.episode.meta.date <= now]
    return sorted(shown, key=lambda r: (r.episode.meta.date, r.episode.meta.number or 0, r.episode.slug),
                  reverse=True)


def site_model(show, records, now: datetime | None = None) -> dict:
    """Everything the site's templates render, JSON-able (it is the stage's params too)."""
    taxonomy = show.taxonomy
    episodes = [episode_model(show, r.episode, r.results, with_notes=False) for r in published(records, now)]
    conditions = []
    for cond in taxonomy.conditions:
        manual = [{"episode": e["slug"], "suggested": False, "quote": None}
                  for e in episodes if cond.id in [c["id"] for c in e["conditions"]["manual"]]]
        suggested = []
        for e in episodes:
            for s in e["conditions"]["suggested"]:
                if s["id"] == cond.id:
                    quote = s["evidence"][0]["text"] if s["evidence"] else None
                    suggested.append({"episode": e["slug"], "suggested": True, "quote": quote})
        conditions.append({**condition_model(cond), "items": manual + suggested,
                           "manual_count": len(manual), "suggested_count": len(suggested)})
    pillars = [{"pillar": p, "conditions": [c for c in conditions if c["pillar"] == p]} for p in taxonomy.pillars]
    pillars += [{"pillar": p, "conditions": [c for c in conditions if c["pillar"] == p]}
                for p in sorted({c["pillar"] for c in conditions} - set(taxonomy.pillars))]
    return {
        "show": show_model(show),
        "taxonomy": {"name": taxonomy.name, "pillars": list(taxonomy.pillars)},
        "episodes": episodes,
        "conditions": conditions,
        "pillars": pillars,
        "pages": index_pages([e["slug"] for e in episodes], show.settings.site.per_page),
    }


def index_pages(slugs: list[str], per_page: int) -> list[dict]:
    """The index split into pages of ``per_page`` episodes: page 1 is ``index.html``, page N is ``page/N.html``;
    ``base`` is the way back to the site's root from that page."""
    count = max(1, math.ceil(len(slugs) / per_page))
    return [{"number": n, "path": "index.html" if n == 1 else f"page/{n}.html", "base": "" if n == 1 else "../",
             "episodes": slugs[(n - 1) * per_page:n * per_page]} for n in range(1, count + 1)]


def site_urls(model: dict, extra: list[str] = ()) -> list[tuple[str, str | None]]:
    """Every page of the site as (path inside feeds/, last change as YYYY-MM-DD or None), for sitemap.xml: the
    index's pages, every published episode's page (dated by the episode), the conditions and ``extra`` pages."""
    episodes = model["episodes"]
    newest = max((e["date"][:10] for e in episodes), default=None)
    urls: list[tuple[str, str | None]] = [(p["path"], newest) for p in model["pages"]]
    urls += [(f"episodes/{e['slug']}/notes.html", e["date"][:10]) for e in episodes]
    urls += [("conditions/index.html", None)] + [(f"conditions/{c['slug']}.html", None) for c in model["conditions"]]
    urls += [(path, None) for path in extra]
    return urls


def sitemap_xml(base_url: str, urls: list[tuple[str, str | None]]) -> str:
    """sitemap.xml (sitemaps.org 0.9) with absolute URLs under ``base_url``."""
    from xml.sax.saxutils import escape

    from pipeline.web.feed import url_join

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<urlset xmlns="{SITEMAP_NS}">']
    for path, lastmod in urls:
        loc = base_url if path == "index.html" else url_join(base_url, *path.split("/"))
        lines.append(f"  <url><loc>{escape(loc)}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                     + "</url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots_txt(base_url: str) -> str:
    """robots.txt: everything may be crawled; where the sitemap is. (It only takes effect at the root of a host.)"""
    return f"User-agent: *\nAllow: /\n\nSitemap: {base_url}sitemap.xml\n"


def rss_description(templates, model: dict) -> str:
    """The RSS description: Apple's tags only, at most DESCRIPTION_LIMIT characters (the full version, else the
    template's short one, else the summary cut at a word)."""
    import html

    from pipeline.web.sanitize import clean_feed

    url = model["episode"]["url"]
    for short in (False, True):
        text = clean_feed(templates.render("description.html", **model, short=short), base_url=url)
        if len(text) <= DESCRIPTION_LIMIT:
            return text
    link = f'<p><a href="{html.escape(url)}">Full show notes</a></p>'
    room = DESCRIPTION_LIMIT - len(link) - 20
    summary = model["episode"]["summary"]
    while len(html.escape(summary, quote=False)) > room:  # escaping can lengthen it: cut until it fits
        summary = summary[:int(room * 0.9) if len(summary) > room else len(summary) - 50].rsplit(" ", 1)[0]
    return f"<p>{html.escape(summary, quote=False)}…</p>{link}"

