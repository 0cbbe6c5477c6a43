"""The show-level ``feed`` stage: ``feeds/feed.xml`` (Apple Podcasts + Podcasting 2.0), one feed per condition
(``feeds/conditions/<slug>.xml``, the episodes the producer tagged with it) and the published artwork.

What the feed says is first gathered into a plain, JSON-able model (:meth:`FeedStage.model`); that model is also the
stage's params, so the feed is rebuilt exactly when something it shows changes - including a scheduled episode
whose date has now passed (the list of published episodes is part of the model). Rendering lives in
``pipeline/web/feed.py``.

Episodes never mastered are left out; transcripts, audiogram clips and show notes are used when their stages have
results and skipped otherwise.
"""
from __future__ import annotations

import html
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from pipeline.errors import KindcastError
from pipeline.engine.stage import EpisodeRecord, ShowContext, Stage

SHOW_FILE = "episodes/show.yaml"


def _person(person, default_role: str) -> dict:
    role = person.role if "role" in person.model_fields_set else default_role
    return {k: v for k, v in {"name": person.name, "role": role.lower(), "href": person.href,
                              "img": person.img}.items() if v}


class FeedStage(Stage):
    name = "feed"
    version = "3"
    code = ("pipeline.web.feed", "pipeline.web.pages", "pipeline.web.sanitize", "pipeline.web.artwork",
            "pipeline.apple")

    def __init__(self, now: Callable[[], datetime] | None = None):
        self._now = now or (lambda: datetime.now(timezone.utc))

    # --- what is published ---------------------------------------------------------------------------------------

    def published(self, ctx: ShowContext) -> list[EpisodeRecord]:
        """Episodes that belong in the feed now: mastered, and dated no later than the current UTC time; newest first."""
        from pipeline.web.pages import published

        return published(ctx.episodes, self._now())

    def _artwork_name(self, ctx: ShowContext) -> str:
        from pipeline.web.artwork import published_artwork_name

        return published_artwork_name(ctx.show.meta.artwork)

    def _episode_artwork(self, ctx: ShowContext, record: EpisodeRecord) -> tuple[Path, Path] | None:
        """(source, published path) of an episode's own artwork, when it has one."""
        from pipeline.web.artwork import published_artwork_name

        art = record.episode.meta.artwork
        if not art:
            return None
        return record.episode.dir / art, ctx.out_dir / "episodes" / record.episode.slug / published_artwork_name(art)

    def inputs(self, ctx: ShowContext) -> list[Path]:
        paths = [ctx.show.artwork_path]
        for record in self.published(ctx):
            paths.append(ctx.out_dir / "episodes" / record.episode.slug / record.results["master"]["file"])
            art = self._episode_artwork(ctx, record)
            if art:
                paths.append(art[0])
        return paths

    def outputs(self, ctx: ShowContext) -> list[Path]:
        from pipeline.web.feed import FEED_FILE

        paths = [ctx.out_dir / FEED_FILE, ctx.out_dir / self._artwork_name(ctx)] + self._condition_feeds(ctx)
        for record in self.published(ctx):
            art = self._episode_artwork(ctx, record)
            if art:
                paths.append(art[1])
        return paths

    def _condition_feeds(self, ctx: ShowContext) -> list[Path]:
        from pipeline.web.feed import condition_feed_path

        return [ctx.out_dir / condition_feed_path(c.slug) for c in ctx.show.taxonomy.conditions]

    def params(self, ctx: ShowContext) -> dict:
        return self.model(ctx)

    def tool_versions(self, ctx: ShowContext) -> dict:
        from pipeline.engine.stage import package_version

        found = package_version("feedgen")
        return {"feedgen": found} if found else {}

    # --- the model -----------------------------------------------------------------------------------------------

    def model(self, ctx: ShowContext) -> dict:
        """Everything the feed says, as JSON-able data. Never raises: problems are listed and ``run`` reports them."""
        from pipeline.apple import parse_category
        from pipeline.web.feed import FEED_FILE, channel_extras_model, podcast_guid, url_join

        meta = ctx.show.meta
        base = meta.base_url
        self_url = url_join(base, FEED_FILE)
        problems: list[str] = []
        categories = []
        for text in meta.categories:
            try:
                categories.append(list(parse_category(text)))
            except ValueError as exc:
                problems.append(f"{SHOW_FILE}: category: {exc}")
        channel = {
            "title": meta.title,
            "description": meta.description,
            "link": meta.link or base,
            "self_url": self_url,
            "language": meta.language,
            "copyright": meta.copyright,
            "image": url_join(base, self._artwork_name(ctx)),
            "author": meta.author,
            "owner": {"name": meta.owner.name, "email": str(meta.owner.email)},
            "type": meta.type,
            "categories": categories,
            "explicit": bool(meta.explicit),
            "keywords": list(meta.keywords),
            "guid": meta.guid or podcast_guid(self_url),
            "locked": bool(meta.locked),
            "medium": meta.medium,
            "funding": [{"url": f.url, "text": f.text} for f in meta.funding],
            "people": [_person(p, "host") for p in meta.hosts],
            "extras": channel_extras_model(meta),
            "hubs": list(meta.publish.websub),
            "podping": bool(meta.publish.podping),
        }
        items = [self._item(ctx, r, problems) for r in self.published(ctx)]
        return {"channel": channel, "items": items, "problems": problems}

    def _item(self, ctx: ShowContext, record: EpisodeRecord, problems: list[str]) -> dict:
        from pipeline.show import SOUNDBITE_MAX, SOUNDBITE_MIN
        from pipeline.web.feed import (TRANSCRIPT_TYPES, analytics_url, first_paragraph_html, item_alternates,
                                       psc_chapters_model, url_join)
        from pipeline.web.pages import conditions_of
        from pipeline.web.sanitize import clean_feed

        ep, results = record.episode, record.results
        meta = ep.meta
        base = ctx.show.meta.base_url
        slug = ep.slug
        ep_dir = ctx.out_dir / "episodes" / slug
        master = results["master"]
        duration = float(master.get("duration") or 0.0)

        notes = results.get("notes") or {}
        description = clean_feed(notes.get("description_html") or "")
        if not description:
            summary = notes.get("summary") or meta.summary
            description = (f"<p>{html.escape(summary, quote=False)}</p>" if summary else first_paragraph_html(ep.notes))
        if not description:
            description = f"<p>{html.escape(meta.title, quote=False)}</p>"

        transcribe = results.get("transcribe") or {}
        files = transcribe.get("files") or {}
        transcripts = []
        for key, (mime, rel) in TRANSCRIPT_TYPES.items():
            name = files.get(key)
            if name and (ep_dir / name).is_file():
                transcripts.append({k: v for k, v in {"url": url_join(base, "episodes", slug, *name.split("/")),
                                                      "type": mime, "language": transcribe.get("language"),
                                                      "rel": rel}.items() if v})

        chapters = None
        if master.get("chapters") and (ep_dir / "chapters.json").is_file():
            chapters = url_join(base, "episodes", slug, "chapters.json")

        soundbites: list[dict] = []

        def add_soundbite(start: float | None, length: float, title: str | None) -> None:
            if start is None:
                return
            if duration:
                length = min(length, duration - start)
            if not SOUNDBITE_MIN <= length <= SOUNDBITE_MAX:
                return
            if any(abs(s["start"] - start) < 1.0 for s in soundbites):
                return  # the same moment as an audiogram clip
            soundbites.append({k: v for k, v in {"start": round(start, 3), "duration": round(length, 3),
                                                 "title": title}.items() if v is not None})

        for clip in (results.get("audiogram") or {}).get("clips") or []:
            if clip.get("start") is not None and clip.get("duration"):
                add_soundbite(float(clip["start"]), float(clip["duration"]), clip.get("title") or None)
        if meta.soundbites:
            timeline = None
            if master.get("timeline"):
                from pipeline.timeline import Timeline

                timeline = Timeline.from_json(master["timeline"])
            for sb in meta.soundbites:
                start = timeline.to_published(sb.start) if timeline else sb.start
                add_soundbite(start, sb.duration, sb.title)
        soundbites.sort(key=lambda s: s["start"])

        people = [_person(p, "host") for p in ctx.show.hosts_for(ep)] + [_person(p, "guest") for p in ep.meta.guests]

        image = None
        art = self._episode_artwork(ctx, record)
        if art:
            image = url_join(base, "episodes", slug, art[1].name)

        # the episode's page, when the notes stage has published one
        link = url_join(base, "episodes", slug, "notes.html") if (ep_dir / "notes.html").is_file() else None
        explicit = meta.explicit if meta.explicit is not None else ctx.show.meta.explicit
        size = master.get("bytes")
        if not isinstance(size, int) or size <= 0:
            problems.append(f"episodes/{slug}: master: no byte size recorded for {master['file']}")
        return {
            "slug": slug,
            "guid": ep.guid,
            "title": meta.title,
            "link": link,
            "date": meta.date.isoformat(),
            "path": f"episodes/{slug}/{master['file']}",
            "url": analytics_url(ctx.show.meta.publish.analytics_prefix,
                                 url_join(base, "episodes", slug, master["file"])),
            "length": size,
            "mime": master.get("mime") or "audio/mpeg",
            "duration": int(round(duration)),
            "episode_type": meta.episode_type,
            "number": meta.number,
            "season": meta.season,
            "explicit": bool(explicit),
            "keywords": list(meta.keywords),
            "image": image,
            "description_html": description,
            "transcripts": transcripts,
            "chapters": chapters,
            "soundbites": soundbites,
            "people": people,
            "alternates": item_alternates(base, slug, master, duration),
            "psc_chapters": psc_chapters_model(master.get("chapters") or []),
            "conditions": [c["slug"] for c in conditions_of(ctx.show, ep, results)["manual"]],
        }

    # --- running -------------------------------------------------------------------------------------------------

    def _write_condition_feeds(self, ctx: ShowContext, model: dict) -> None:
        """``conditions/<slug>.xml`` for every condition (one with no episode yet is an empty feed that subscribers
        can already follow); feeds of conditions no longer in the taxonomy are removed."""
        from pipeline import fsutil
        from pipeline.web.feed import condition_feed_model, condition_feed_path, render
        from pipeline.web.pages import condition_model

        keep = set()
        for cond in ctx.show.taxonomy.conditions:
            path = fsutil.safe_join(ctx.out_dir, *condition_feed_path(cond.slug).split("/"))
            fsutil.write_bytes(path, render(condition_feed_model(model, condition_model(cond),
                                                                 ctx.show.meta.base_url)))
            keep.add(path)
        for stale in sorted((ctx.out_dir / "conditions").glob("*.xml")):
            if stale.resolve() not in keep:
                stale.unlink()

    def run(self, ctx: ShowContext) -> dict:
        from pipeline import fsutil
        from pipeline.web.feed import FEED_FILE, render
        from pipeline.apple import check_artwork

        model = self.model(ctx)
        problems = list(model["problems"])
        problems += [str(p) for p in check_artwork(ctx.show.artwork_path, SHOW_FILE, "artwork")]
        for item in model["items"]:
            path = ctx.out_dir / item["path"]
            if not path.is_file():
                problems.append(f"episodes/{item['slug']}: master: the published file {item['path']} is missing "
                                f"(rebuild it: kindcast build --episode {item['slug']} --force)")
            elif isinstance(item["length"], int) and path.stat().st_size != item["length"]:
                problems.append(f"episodes/{item['slug']}: master: {item['path']} is {path.stat().st_size} bytes but "
                                f"mastering recorded {item['length']} (rebuild it: kindcast build --episode "
                                f"{item['slug']} --force)")
            for alt in item["alternates"][1:]:
                name = alt["url"].rsplit("/", 1)[-1]
                path = ctx.out_dir / "episodes" / item["slug"] / name
                if not path.is_file() or path.stat().st_size != alt["length"]:
                    problems.append(f"episodes/{item['slug']}: master: the smaller copy {name} is missing or not "
                                    f"{alt['length']} bytes (rebuild it: kindcast build --episode {item['slug']} "
                                    "--force)")
        if problems:
            raise KindcastError("; ".join(problems))
        ctx.progress(0.2)

        fsutil.write_bytes(ctx.out_dir / self._artwork_name(ctx), ctx.show.artwork_path.read_bytes())
        for record in self.published(ctx):
            art = self._episode_artwork(ctx, record)
            if art:
                fsutil.write_bytes(art[1], art[0].read_bytes())
        ctx.progress(0.5)

        data = render(model)
        fsutil.write_bytes(ctx.out_dir / FEED_FILE, data)
        ctx.progress(0.7)
        self._write_condition_feeds(ctx, model)
        ctx.progress(1.0)
        return {
            "file": FEED_FILE,
            "url": model["channel"]["self_url"],
            "guid": model["channel"]["guid"],
            "episodes": [item["slug"] for item in model["items"]],
            "bytes": len(data),
        }
