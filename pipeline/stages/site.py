"""The static site in ``feeds/`` (show level): the home page and its further pages, one page per condition and an
overview of them, the search page and its index, ``sitemap.xml`` and ``robots.txt``.

Each episode's own page is its ``notes.html`` (written by the notes stage, with the same header, navigation and
theme). Every link is relative, so ``feeds/`` can be copied to any static host as it is. Episodes never mastered, and
episodes dated in the future (scheduled), are left out. The output holds no build time: an unchanged build rewrites
nothing, and everything rendered is in the stage's params or inputs (the transcripts the search index reads), so a
change to any of it rebuilds the site.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.engine.stage import ShowContext, Stage
from pipeline.web.pages import published, site_model

SITE_TEMPLATES = ["index.html", "condition.html", "conditions.html", "search.html", "search.js"]
CONDITIONS_DIR = "conditions"
PAGES_DIR = "page"


class SiteStage(Stage):
    name = "site"
    version = "2"
    code = ("pipeline.web",)

    def _templates(self, ctx: ShowContext):
        from pipeline.web.templating import templates_for

        return templates_for(ctx.root)

    def _artwork_copy(self, ctx: ShowContext) -> Path:
        """Where the show artwork is published (the feed stage's name for it; copied here too if it is missing)."""
        from pipeline.web.artwork import published_artwork_name

        return ctx.out_dir / published_artwork_name(ctx.show.meta.artwork)

    def _thumb(self, ctx: ShowContext) -> Path:
        from pipeline.web.artwork import thumb_name

        return ctx.out_dir / thumb_name(ctx.show.meta.artwork)

    def _transcripts(self, ctx: ShowContext) -> dict[str, Path]:
        """The published episodes' transcripts (slug -> transcript.json) that the search index reads."""
        found = {}
        for record in published(ctx.episodes):
            name = ((record.results.get("transcribe") or {}).get("files") or {}).get("json")
            path = ctx.out_dir / "episodes" / record.episode.slug / name if isinstance(name, str) and name else None
            if path is not None and path.is_file():
                found[record.episode.slug] = path
        return found

    def inputs(self, ctx: ShowContext) -> list[Path]:
        return (self._templates(ctx).files(SITE_TEMPLATES) + [ctx.show.artwork_path]
                + sorted(self._transcripts(ctx).values()))

    def outputs(self, ctx: ShowContext) -> list[Path]:
        from pipeline.web.pages import index_pages

        out = ctx.out_dir
        pages = index_pages([r.episode.slug for r in published(ctx.episodes)], ctx.show.settings.site.per_page)
        return ([out / p["path"] for p in pages]
                + [out / CONDITIONS_DIR / "index.html", out / "search.html", out / "search" / "search.js",
                   out / "sitemap.xml", out / "robots.txt", self._artwork_copy(ctx), self._thumb(ctx)]
                + [out / CONDITIONS_DIR / f"{c.slug}.html" for c in ctx.show.taxonomy.conditions])

    def params(self, ctx: ShowContext) -> dict:
        model = site_model(ctx.show, ctx.episodes)
        # the producer's notes are searched: a change to them rebuilds the index
        model["notes"] = {r.episode.slug: r.episode.notes for r in published(ctx.episodes)}
        return model

    def run(self, ctx: ShowContext) -> dict:
        from pipeline.fsutil import safe_join, write_bytes, write_text
        from pipeline.web.artwork import thumbnail_bytes
        from pipeline.web.pages import robots_txt, site_urls, sitemap_xml

        templates = self._templates(ctx)
        model = site_model(ctx.show, ctx.episodes)
        out = ctx.out_dir
        by_slug = {e["slug"]: e for e in model["episodes"]}
        common = {"show": model["show"], "taxonomy": model["taxonomy"]}

        pages: dict[Path, str] = {}
        for page in model["pages"]:
            pages[safe_join(out, *page["path"].split("/"))] = templates.render(
                "index.html", **common, episodes=[by_slug[s] for s in page["episodes"]], base=page["base"],
                page="index", path=page["path"], pagination={"number": page["number"], "pages": model["pages"]})
        pages[out / CONDITIONS_DIR / "index.html"] = templates.render(
            "conditions.html", **common, pillars=model["pillars"], conditions=model["conditions"], base="../",
            page="conditions", path=f"{CONDITIONS_DIR}/index.html")
        for i, cond in enumerate(model["conditions"]):
            items = [{**item, "episode": by_slug[item["episode"]]} for item in cond["items"]]
            path = safe_join(out / CONDITIONS_DIR, f"{cond['slug']}.html")
            pages[path] = templates.render("condition.html", **common, condition=cond, items=items, base="../",
                                           page="condition", path=f"{CONDITIONS_DIR}/{cond['slug']}.html")
            ctx.progress(0.5 * (i + 1) / len(model["conditions"]))
        pages[out / "search.html"] = templates.render("search.html", **common, base="", page="search",
                                                      path="search.html")
        pages[out / "search" / "search.js"] = templates.render("search.js")
        pages[out / "sitemap.xml"] = sitemap_xml(ctx.show.meta.base_url, site_urls(model, ["search.html"]))
        pages[out / "robots.txt"] = robots_txt(ctx.show.meta.base_url)

        written = [p for p, text in pages.items() if write_text(p, text)]
        search_files = self._write_search(ctx, model)
        ctx.progress(0.9)
        write_bytes(self._artwork_copy(ctx), ctx.show.artwork_path.read_bytes())
        write_bytes(self._thumb(ctx), thumbnail_bytes(ctx.show.artwork_path))
        # Pages of conditions no longer in the taxonomy, and index pages past the last, would otherwise linger.
        for stale in sorted((out / CONDITIONS_DIR).glob("*.html")) + sorted((out / PAGES_DIR).glob("*.html")):
            if stale not in pages:
                stale.unlink()
        return {
            "pages": sorted(str(p.relative_to(out)) for p in pages if p.suffix == ".html"),
            "episodes": [e["slug"] for e in model["episodes"]],
            "written": len(written) + search_files["written"],
            "search": search_files["files"],
            "outputs": [str((out / f).relative_to(ctx.root)) for f in search_files["files"]],
        }

    def _write_search(self, ctx: ShowContext, model: dict) -> dict:
        """The search index (see pipeline/web/search.py) from every published episode's notes and transcript;
        files of an earlier index that this one no longer has are removed."""
        from pipeline.fsutil import safe_join, write_bytes
        from pipeline.web.pages import notes_paragraphs, transcript_paragraphs
        from pipeline.web.search import SEARCH_DIR, build_index
        from pipeline.web.templating import long_date

        transcripts = self._transcripts(ctx)
        records = {r.episode.slug: r for r in published(ctx.episodes)}
        episodes = []
        for e in model["episodes"]:
            episode = records[e["slug"]].episode
            path = transcripts.get(e["slug"])
            episodes.append({"slug": e["slug"], "title": e["title"], "date": e["date"], "when": long_date(e["date"]),
                             "notes": notes_paragraphs(episode.notes),
                             "transcript": transcript_paragraphs(path) if path else []})
        files = build_index(episodes)
        written = sum(write_bytes(safe_join(ctx.out_dir, *name.split("/")), data) for name, data in files.items())
        keep = {safe_join(ctx.out_dir, *name.split("/")) for name in files} | {ctx.out_dir / SEARCH_DIR / "search.js"}
        for stale in sorted((ctx.out_dir / SEARCH_DIR).rglob("*.json")):
            if stale.resolve() not in keep:
                stale.unlink()
        return {"files": sorted(files), "written": written}
