"""Show notes per episode: ``notes.html`` (also the episode's page on the site) and ``notes.md``, from templates.

Everything the templates see is gathered by :func:`episode_model` into one JSON-able dict: it is also the stage's
params, so any change to the metadata, the producer's notes or an upstream result that is shown rebuilds the notes.
Upstream results are read defensively: notes build even when a stage (tag, transcribe, audiogram) produced nothing.

The producer's Markdown is rendered with raw HTML escaped (shown as text). ``notes.md`` carries it verbatim, with the
metadata's HTML-special characters turned into entities.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.engine.stage import EpisodeContext, Stage
from pipeline.web.pages import episode_model, rss_description, show_model

NOTES_TEMPLATES = ["notes.html", "notes.md", "description.html"]


class NotesStage(Stage):
    name = "notes"
    version = "1"
    code = ("pipeline.web.pages", "pipeline.web.templating", "pipeline.web.sanitize", "pipeline.web.artwork")

    def _templates(self, ctx: EpisodeContext):
        from pipeline.web.templating import templates_for

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
        from pipeline.web.artwork import published_artwork_name, thumb_name

        art = ctx.episode.meta.artwork
        if not art:
            return None
        return ctx.episode.dir / art, ctx.out_dir / published_artwork_name(art), ctx.out_dir / thumb_name(art)

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
        from pipeline.web.templating import html_to_text

        templates = self._templates(ctx)
        model = self._model(ctx)
        page = templates.render("notes.html", **model)
        md = templates.render("notes.md", **model)
        description = rss_description(templates, model)
        ctx.progress(0.8)
        write_text(ctx.out_dir / "notes.html", page)
        write_text(ctx.out_dir / "notes.md", md)
        art = self._artwork(ctx)
        if art:
            from pipeline.web.artwork import thumbnail_bytes

            write_bytes(art[1], art[0].read_bytes())
            write_bytes(art[2], thumbnail_bytes(art[0]))
        summary = model["episode"]["summary"] or html_to_text(description)
        return {"description_html": description, "summary": summary}
