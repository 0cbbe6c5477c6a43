"""Show notes per episode: ``notes.html`` (also the episode's page on the site) and ``notes.md``, from templates.

Everything the templates see is gathered by :func:`episode_model` into one JSON-able dict: it is also the stage's
params, so any change to the metadata, the producer's notes or an upstream result that is shown rebuilds the notes.
Upstream results are read defensively: notes build even when a stage (tag, transcribe, audiogram) produced nothing.

The producer's Markdown is rendered with raw HTML escaped (shown as text). ``notes.md`` carries it verbatim, with the
metadata's HTML-special characters turned into entities.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.stages.base import EpisodeContext, Stage

NOTES_TEMPLATES = ["notes.html", "notes.md", "description.html"]
TRANSCRIPT_LABELS = {"vtt": "WebVTT captions", "srt": "SRT subtitles", "json": "JSON (Podcasting 2.0)",
                     "txt": "Plain text"}
TRANSCRIPT_ORDER = ["txt", "vtt", "srt", "json"]
DESCRIPTION_LIMIT = 4000  # characters Apple Podcasts takes in an episode description


def _person(p) -> dict:
    from pipeline.templating import safe_url

    return {"name": p.name, "role": p.role, "href": safe_url(p.href)}  # no javascript: links from metadata


def show_model(show) -> dict:
    """What every page knows of the show."""
    from pipeline.feed import published_artwork_name
    from pipeline.templating import thumb_name

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


def episode_model(show, episode, results: dict, with_notes: bool = True) -> dict:
    """The episode as the templates see it. Paths of the episode's own files are relative to its folder
    ``feeds/episodes/<slug>/``; ``artwork`` is relative to ``feeds/``. Without ``with_notes`` (the site's listings)
    the producer's notes are not rendered and the summary comes from the notes stage's result when there is one."""
    from pipeline.feed import published_artwork_name
    from pipeline.templating import first_paragraph_text, render_markdown, safe_url, thumb_name

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
    notes_html = render_markdown(episode.notes) if with_notes else None
    summary = (meta.summary or "").strip()
    if not summary and not with_notes:
        summary = str((results.get("notes") or {}).get("summary") or "")
    if not summary:
        summary = first_paragraph_text(episode.notes)
    audio = master.get("file")
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
        "audio": {"href": audio, "mime": master.get("mime") or "audio/mpeg"} if audio else None,
        "artwork": (f"episodes/{episode.slug}/{published_artwork_name(meta.artwork)}" if meta.artwork
                    else published_artwork_name(show.meta.artwork)),
        "thumb": (f"episodes/{episode.slug}/{thumb_name(meta.artwork)}" if meta.artwork
                  else thumb_name(show.meta.artwork)),
        "url": f"{show.meta.base_url}episodes/{episode.slug}/notes.html",
    }


class NotesStage(Stage):
    name = "notes"
    version = "1"

    def _templates(self, ctx: EpisodeContext):
        from pipeline.templating import templates_for

        return templates_for(ctx.root)

    def _model(self, ctx: EpisodeContext) -> dict:
        base = "../../"
        return {
            "show": show_model(ctx.show),
            "episode": episode_model(ctx.show, ctx.episode, ctx.results),
            "taxonomy": {"name": ctx.show.taxonomy.name, "pillars": list(ctx.show.taxonomy.pillars)},
            "base": base,
            "page": "episode",
        }

    def _artwork(self, ctx: EpisodeContext) -> tuple[Path, Path, Path] | None:
        """(source, published copy, thumbnail) of the episode's own artwork, when it has one. The copy has the name
        the feed stage publishes it under, so both stages agree on one file."""
        from pipeline.feed import published_artwork_name
        from pipeline.templating import thumb_name

        art = ctx.episode.meta.artwork
        if not art:
            return None
        return ctx.episode.dir / art, ctx.out_dir / published_artwork_name(art), ctx.out_dir / thumb_name(art)

    @staticmethod
    def _description(templates, model: dict) -> str:
        """The RSS description: Apple's tags only, at most DESCRIPTION_LIMIT characters (the full version, else the
        template's short one, else the summary cut at a word)."""
        import html

        from pipeline.templating import sanitize_html

        url = model["episode"]["url"]
        for short in (False, True):
            text = sanitize_html(templates.render("description.html", **model, short=short), base_url=url)
            if len(text) <= DESCRIPTION_LIMIT:
                return text
        link = f'<p><a href="{html.escape(url)}">Full show notes</a></p>'
        room = DESCRIPTION_LIMIT - len(link) - 20
        summary = model["episode"]["summary"]
        while len(html.escape(summary, quote=False)) > room:  # escaping can lengthen it: cut until it fits
            summary = summary[:int(room * 0.9) if len(summary) > room else len(summary) - 50].rsplit(" ", 1)[0]
        return f"<p>{html.escape(summary, quote=False)}…</p>{link}"

    def inputs(self, ctx: EpisodeContext) -> list[Path]:
        art = self._artwork(ctx)
        return self._templates(ctx).files(NOTES_TEMPLATES) + ([art[0]] if art else [])

    def outputs(self, ctx: EpisodeContext) -> list[Path]:
        art = self._artwork(ctx)
        return [ctx.out_dir / "notes.html", ctx.out_dir / "notes.md"] + (list(art[1:]) if art else [])

    def params(self, ctx: EpisodeContext) -> dict:
        return self._model(ctx)

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.fsutil import write_bytes, write_text
        from pipeline.templating import html_to_text

        templates = self._templates(ctx)
        model = self._model(ctx)
        page = templates.render("notes.html", **model)
        md = templates.render("notes.md", **model)
        description = self._description(templates, model)
        ctx.progress(0.8)
        write_text(ctx.out_dir / "notes.html", page)
        write_text(ctx.out_dir / "notes.md", md)
        art = self._artwork(ctx)
        if art:
            from pipeline.templating import thumbnail_bytes

            write_bytes(art[1], art[0].read_bytes())
            write_bytes(art[2], thumbnail_bytes(art[0]))
        summary = model["episode"]["summary"] or html_to_text(description)
        return {"description_html": description, "summary": summary}
