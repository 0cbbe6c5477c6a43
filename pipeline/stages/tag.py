"""The tag stage: the episode's conditions, the producer's own and those suggested from its transcript.

Input ``feeds/episodes/<slug>/transcript.json`` (written by the transcribe stage); output ``conditions.json`` beside
it. The producer's manual tags (``conditions:`` in episode.md, already resolved to ids) always win: they are listed as
manual and never repeated among the suggestions. Suggestions are the other conditions whose calibrated score reaches
``settings.conditions.suggest_threshold``, best first, at most ``max_suggestions``, each with its evidence (sentences
with their published start/end times). The manual tags carry the suggester's evidence for them too (``manual_evidence``
in the result), so that the automatic audiogram clip can weigh them. The suggester is told the show's title and the
episode's hosts, so that intros, outros and the hosts' framing are not quoted as evidence where a guest's sentence can
be. An episode without a transcript gets its manual tags and no suggestions.
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
    version = "2"  # 2: evidence for manual tags; framing (show title, hosts) kept out of evidence
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

    def _framing(self, ctx: EpisodeContext):
        from pipeline.conditions.suggest import Framing

        return Framing(show_names=(ctx.show.meta.title,),
                       hosts=tuple(h.name for h in ctx.show.hosts_for(ctx.episode)))

    def params(self, ctx: EpisodeContext) -> dict:
        settings = ctx.show.settings.conditions
        taxonomy = ctx.show.taxonomy.model_dump_json()
        framing = self._framing(ctx)
        return {
            "show_names": list(framing.show_names),
            "hosts": list(framing.hosts),
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
        read = None
        transcript = self._transcript(ctx)
        if transcript.exists():
            from pipeline.conditions.suggest import read_document, suggest

            ctx.progress(0.05)
            sentences = read_document(transcript)
            ctx.progress(0.2)
            ranked = suggest(sentences, taxonomy, self._model(ctx), settings.token_budget, self._framing(ctx))
            ranking = [s.to_json() for s in ranked.suggestions]
            read = {"sentences": ranked.read, "of": ranked.total, "framing": ranked.framing}
        ctx.progress(0.95)
        suggested = [r for r in ranking if r["id"] not in manual_ids
                     and r["score"] >= settings.suggest_threshold][: settings.max_suggestions]
        by_id = {r["id"]: r for r in ranking}
        manual_evidence = [{"id": i, "score": by_id[i]["score"], "evidence": by_id[i]["evidence"]}
                           for i in manual_ids if i in by_id]
        result = {"manual": manual_ids, "suggested": suggested, "manual_evidence": manual_evidence}
        document = {
            "taxonomy": taxonomy.name,
            "manual": [{"id": c.id, "slug": c.slug, "title": c.title, "short": c.short, "pillar": c.pillar,
                        **({"score": by_id[c.id]["score"], "evidence": by_id[c.id]["evidence"]}
                           if c.id in by_id else {})}
                       for c in manual],
            "suggested": suggested,
            "threshold": settings.suggest_threshold,
            "transcript": TRANSCRIPT if transcript.exists() else None,
            "read": read,
            "ranking": [{"id": r["id"], "slug": r["slug"], "score": r["score"]} for r in ranking],
        }
        fsutil.write_text(ctx.out_dir / OUTPUT, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        ctx.progress(1.0)
        return result
