"""The tag stage: the episode's conditions, the producer's own and those suggested from its transcript.

Input ``feeds/episodes/<slug>/transcript.json`` (written by the transcribe stage); output ``conditions.json`` beside
it. The producer's manual tags (``conditions:`` in episode.md, already resolved to ids) always win: they are listed as
manual and never repeated among the suggestions. Suggestions are the other conditions whose calibrated score reaches
``settings.conditions.suggest_threshold``, best first, at most ``max_suggestions``, each with its evidence (sentences
with their published start/end times). An episode without a transcript gets its manual tags and no suggestions.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.engine.stage import EpisodeContext, Stage

TRANSCRIPT = "transcript.json"
OUTPUT = "conditions.json"


class TagStage(Stage):
    name = "tag"
    version = "1"
    code = ("pipeline.conditions", "pipeline.speech.transcript")

    def _transcript(self, ctx: EpisodeContext) -> Path:
        return ctx.out_dir / TRANSCRIPT

    def _model(self, ctx: EpisodeContext) -> str | None:
        model = ctx.show.settings.conditions.model
        return str(ctx.show.episodes_dir / model) if model else None

    def inputs(self, ctx: EpisodeContext):
        transcript = self._transcript(ctx)
        # without a transcript (none made yet, or transcription is off) the stage still records the manual tags;
        # when one appears later, the changed set of inputs makes the stage run again
        return [transcript] if transcript.exists() or "transcribe" in ctx.results else []

    def outputs(self, ctx: EpisodeContext):
        return [ctx.out_dir / OUTPUT]

    def params(self, ctx: EpisodeContext) -> dict:
        settings = ctx.show.settings.conditions
        taxonomy = ctx.show.taxonomy.model_dump_json()
        return {
            "manual": list(ctx.episode.conditions),
            "taxonomy": hashlib.sha256(taxonomy.encode()).hexdigest(),
            "threshold": settings.suggest_threshold,
            "max_suggestions": settings.max_suggestions,
            "model": settings.model,
            "token_budget": settings.token_budget,
        }

    def tool_versions(self, ctx: EpisodeContext) -> dict:
        from pipeline.conditions.suggest import METHOD_VERSION, model_identity

        return {"embedding_model": model_identity(self._model(ctx)), "suggester": METHOD_VERSION}

    def run(self, ctx: EpisodeContext) -> dict:
        from pipeline import fsutil

        settings = ctx.show.settings.conditions
        taxonomy = ctx.show.taxonomy
        manual = [c for c in (taxonomy.resolve(i) for i in ctx.episode.conditions) if c is not None]
        manual_ids = [c.id for c in manual]
        ranking: list[dict] = []
        transcript = self._transcript(ctx)
        if transcript.exists():
            from pipeline.conditions.suggest import read_document, suggest

            ctx.progress(0.05)
            sentences = read_document(transcript)
            ctx.progress(0.2)
            ranking = [s.to_json() for s in suggest(sentences, taxonomy, self._model(ctx), settings.token_budget)]
        ctx.progress(0.95)
        suggested = [r for r in ranking if r["id"] not in manual_ids
                     and r["score"] >= settings.suggest_threshold][: settings.max_suggestions]
        result = {"manual": manual_ids, "suggested": suggested}
        document = {
            "taxonomy": taxonomy.name,
            "manual": [{"id": c.id, "slug": c.slug, "title": c.title, "short": c.short, "pillar": c.pillar}
                       for c in manual],
            "suggested": suggested,
            "threshold": settings.suggest_threshold,
            "transcript": TRANSCRIPT if transcript.exists() else None,
            "ranking": [{"id": r["id"], "slug": r["slug"], "score": r["score"]} for r in ranking],
        }
        fsutil.write_text(ctx.out_dir / OUTPUT, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        ctx.progress(1.0)
        return result
