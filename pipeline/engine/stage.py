"""The Stage interface, the contexts stages receive, and the freshness check (why a stage will run).

A stage declares its inputs (files), its outputs (files), its params (settings and metadata it depends on, JSON-able)
and its tool versions; ``run(ctx)`` writes the outputs atomically and returns a JSON-able result that later stages
and the show-level stages read from ``ctx.results[stage_name]``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from pipeline.show import Episode, Show
from pipeline.engine.state import STATE_DIR, digest_json, file_stat, sha256_file


def _no_progress(fraction: float) -> None:
    pass


@dataclass
class EpisodeContext:
    """What a per-episode stage gets: the validated episode and show, where to write, and upstream results."""

    show: Show
    episode: Episode
    results: dict[str, dict] = field(default_factory=dict)
    progress: Callable[[float], None] = _no_progress

    @property
    def root(self) -> Path:
        return self.show.root

    @property
    def out_dir(self) -> Path:
        """``feeds/episodes/<slug>/``: what gets published."""
        return self.show.output_dir / "episodes" / self.episode.slug

    @property
    def work_dir(self) -> Path:
        """``.kindcast/work/<slug>/``: intermediate files, never published."""
        return self.root / STATE_DIR / "work" / self.episode.slug


@dataclass(frozen=True)
class EpisodeRecord:
    """An episode as the show-level stages see it: its metadata and the results its stages recorded."""

    episode: Episode
    results: dict[str, dict]


@dataclass
class ShowContext:
    show: Show
    episodes: list[EpisodeRecord]
    results: dict[str, dict] = field(default_factory=dict)  # earlier show stages' results
    progress: Callable[[float], None] = _no_progress

    @property
    def root(self) -> Path:
        return self.show.root

    @property
    def out_dir(self) -> Path:
        return self.show.output_dir

    @property
    def work_dir(self) -> Path:
        return self.root / STATE_DIR / "work" / "_show"


class Stage:
    """Base class: override what applies. ``version`` is bumped whenever a change to the stage changes its output."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"

    def inputs(self, ctx: Any) -> list[Path]:
        return []

    def outputs(self, ctx: Any) -> list[Path]:
        return []

    def params(self, ctx: Any) -> dict:
        return {}

    def tool_versions(self, ctx: Any) -> dict:
        return {}

    def run(self, ctx: Any) -> dict:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<stage {self.name}>"


def _rel(root: Path, path: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


@dataclass
class Freshness:
    reason: str | None  # None: up to date
    fingerprint_inputs: dict  # the inputs as they are now (stat + hash), for recording after a run
    refreshed: bool = False  # inputs' stat moved but content did not: state should remember the new stat


def check(stage: Stage, ctx: Any, recorded: dict | None, force: bool = False) -> Freshness:
    """Is ``stage`` up to date for ``ctx``, given what was recorded after its last success? If not, say why."""
    root = ctx.root
    old = (recorded or {}).get("fingerprint") or {}
    old_inputs: dict = old.get("inputs", {})
    now_inputs: dict = {}
    reason: str | None = None
    refreshed = False
    for path in stage.inputs(ctx):
        rel = _rel(root, path)
        stat = file_stat(path)
        if stat is None:
            reason = reason or f"input missing: {rel}"
            continue
        before = old_inputs.get(rel)
        if before and before["size"] == stat["size"] and before["mtime_ns"] == stat["mtime_ns"]:
            now_inputs[rel] = before
            continue
        now_inputs[rel] = {**stat, "sha256": sha256_file(path)}
        if before and before.get("sha256") == now_inputs[rel]["sha256"]:
            refreshed = True
        else:
            reason = reason or f"input changed: {rel}"
    if force:
        return Freshness("forced", now_inputs)
    if recorded is None:
        return Freshness("never built", now_inputs)
    if set(old_inputs) != set(now_inputs) and reason is None:
        reason = "the set of inputs changed"
    if old.get("version") != stage.version:
        reason = reason or "the stage's code changed"
    elif old.get("tools") != stage.tool_versions(ctx):
        reason = reason or "a tool or model version changed"
    if old.get("params") != digest_json(stage.params(ctx)):
        reason = reason or "settings or metadata changed"
    expected = {_rel(root, p) for p in stage.outputs(ctx)} | set(old.get("outputs", {}))
    for rel in sorted(expected):
        stat = file_stat(root / rel)
        if stat is None:
            reason = reason or f"output missing: {rel}"
        elif old.get("outputs", {}).get(rel) not in (None, stat):
            reason = reason or f"output changed since it was written: {rel}"
    return Freshness(reason, now_inputs, refreshed)


def fingerprint(stage: Stage, ctx: Any, inputs: dict, result: dict) -> dict:
    """What is recorded after a success: enough to tell next time whether anything moved."""
    outputs = {}
    for path in list(stage.outputs(ctx)) + [ctx.root / p for p in result.get("outputs", [])]:
        stat = file_stat(path)
        if stat is not None:
            outputs[_rel(ctx.root, path)] = stat
    return {
        "version": stage.version,
        "tools": stage.tool_versions(ctx),
        "params": digest_json(stage.params(ctx)),
        "inputs": inputs,
        "outputs": outputs,
    }
