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
from pipeline.web.pages import episode_model, rss_description, show_model, transcript_paragraphs

NOTES_TEMPLATES = ["notes.html", "notes.md", "description.html"]


class NotesStage(Stage):
    name = "notes"
    version = "2"
    code = ("pipeline.web",)

    def _templates(self, ctx: EpisodeContext):
        from pipeline.web.templating import templates_for

        return templates_for(ctx.root)

    def _transcript(self, ctx: EpisodeContext) -> Path | None:
        """The transcript the page shows (the transcribe stage's JSON), when there is one."""
        name = ((ctx.results.get("transcribe") or {}).get("files") or {}).get("json")
        return ctx.out_dir / name if isinstance(name, str) and name else None

    def _model(self, ctx: EpisodeContext, with_transcript: bool = False, render: bool = True) -> dict:
        """What the templates see. The transcript's paragraphs are read only when rendering: the params carry the
        transcript file as an input instead (a no-op build does not parse every transcript)."""
        base = "../../"
        path = self._transcript(ctx) if with_transcript else None
        transcript = transcript_paragraphs(path) if path is not None else None
        return {
            "show": show_model(ctx.show),
            "episode": episode_model(ctx.show, ctx.episode, ctx.results, transcript=transcript, render=render),
            "taxonomy": {"name": ctx.show.taxonomy.name, "pillars": list(ctx.show.taxonomy.pillars)},
            "base": base,
            "page": "episode",
            "path": f"episodes/{ctx.episode.slug}/notes.html",
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
        transcript = self._transcript(ctx)
        return (self._templates(ctx).files(NOTES_TEMPLATES) + ([art[0]] if art else [])
                + ([transcript] if transcript is not None and transcript.is_file() else []))

    def outputs(self, ctx: EpisodeContext) -> list[Path]:
        art = self._artwork(ctx)
        return [ctx.out_dir / "notes.html", ctx.out_dir / "notes.md"] + (list(art[1:]) if art else [])

    def params(self, ctx: EpisodeContext) -> dict:
        return self._model(ctx, render=False)  # the notes' Markdown is in it: rendering it would only cost time

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline.fsutil import write_bytes, write_text
        from pipeline.web.templating import html_to_text

        templates = self._templates(ctx)
        model = self._model(ctx, with_transcript=True)
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
