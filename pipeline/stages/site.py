"""The static site in ``feeds/`` (show level): the home page, one page per condition and an overview of them.

Each episode's own page is its ``notes.html`` (written by the notes stage, with the same header, navigation and
theme). Every link is relative, so ``feeds/`` can be copied to any static host as it is. Episodes never mastered, and
episodes dated in the future (scheduled), are left out. The output holds no build time: an unchanged build rewrites
nothing, and everything rendered is in the stage's params, so a change to any of it rebuilds the site.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.engine.stage import ShowContext, Stage
from pipeline.web.pages import site_model

SITE_TEMPLATES = ["index.html", "condition.html", "conditions.html"]
CONDITIONS_DIR = "conditions"


class SiteStage(Stage):
    name = "site"
    version = "1"
    code = ("pipeline.web.pages", "pipeline.web.templating", "pipeline.web.sanitize", "pipeline.web.artwork")

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

    def inputs(self, ctx: ShowContext) -> list[Path]:
        return self._templates(ctx).files(SITE_TEMPLATES) + [ctx.show.artwork_path]

    def outputs(self, ctx: ShowContext) -> list[Path]:
        out = ctx.out_dir
        return ([out / "index.html", out / CONDITIONS_DIR / "index.html", self._artwork_copy(ctx), self._thumb(ctx)]
                + [out / CONDITIONS_DIR / f"{c.slug}.html" for c in ctx.show.taxonomy.conditions])

    def params(self, ctx: ShowContext) -> dict:
        return site_model(ctx.show, ctx.episodes)

    def run(self, ctx: ShowContext) -> dict:
        from pipeline.fsutil import safe_join, write_bytes, write_text
        from pipeline.web.artwork import thumbnail_bytes

        templates = self._templates(ctx)
        model = site_model(ctx.show, ctx.episodes)
        out = ctx.out_dir
        by_slug = {e["slug"]: e for e in model["episodes"]}
        common = {"show": model["show"], "taxonomy": model["taxonomy"]}

        pages: dict[Path, str] = {}
        pages[out / "index.html"] = templates.render("index.html", **common, episodes=model["episodes"], base="",
                                                     page="index")
        pages[out / CONDITIONS_DIR / "index.html"] = templates.render(
            "conditions.html", **common, pillars=model["pillars"], conditions=model["conditions"], base="../",
            page="conditions")
        for i, cond in enumerate(model["conditions"]):
            items = [{**item, "episode": by_slug[item["episode"]]} for item in cond["items"]]
            path = safe_join(out / CONDITIONS_DIR, f"{cond['slug']}.html")
            pages[path] = templates.render("condition.html", **common, condition=cond, items=items, base="../",
                                           page="condition")
            ctx.progress(0.8 * (i + 1) / len(model["conditions"]))

        written = [p for p, text in pages.items() if write_text(p, text)]
        write_bytes(self._artwork_copy(ctx), ctx.show.artwork_path.read_bytes())
        write_bytes(self._thumb(ctx), thumbnail_bytes(ctx.show.artwork_path))
        # Pages of conditions no longer in the taxonomy would otherwise linger on the host.
        for stale in sorted((out / CONDITIONS_DIR).glob("*.html")):
            if stale not in pages:
                stale.unlink()
        return {
            "pages": sorted(str(p.relative_to(out)) for p in pages),
            "episodes": [e["slug"] for e in model["episodes"]],
            "written": len(written),
        }
