"""Orchestration: discover episodes, run each one's stages on an executor, skip what is fresh, then the show stages.

A stage runs only when an input, its params, its version or a tool changed, or an output is missing or was altered
(or with ``force``). State is recorded after each success, so a build killed at any moment is repaired by the next.
One failing episode is reported and the others still build.
"""
from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.errors import KindcastError, Problem
from pipeline.engine.executor import make_executor
from pipeline.show import Episode, Project, Show, load_project
from pipeline.stages import episode_stages, show_stages
from pipeline.engine.stage import EpisodeContext, EpisodeRecord, ShowContext, Stage, check, fingerprint
from pipeline.engine.state import STATE_DIR, StateFile

SHOW_UNIT = "_show"
Emit = Callable[[tuple], None]


@dataclass
class StageRun:
    stage: str
    reason: str | None  # None: up to date (skipped)
    seconds: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)  # from the stage's result (run now, or recorded before)


def result_warnings(result: dict | None) -> list[str]:
    """A stage result's ``warnings``: one-line strings saying what was published but is not as asked."""
    found = (result or {}).get("warnings") or []
    return [str(w) for w in found] if isinstance(found, list) else [str(found)]


@dataclass
class UnitReport:
    """What happened to one episode (or the show) in a build or a status check."""

    unit: str
    runs: list[StageRun] = field(default_factory=list)
    error: str | None = None  # one line
    trace: str | None = None  # only for bugs, not for user mistakes

    @property
    def ran(self) -> list[str]:
        return [r.stage for r in self.runs if r.reason is not None and r.error is None]

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class BuildReport:
    episodes: dict[str, UnitReport] = field(default_factory=dict)
    invalid: dict[str, list[Problem]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    show: UnitReport | None = None
    show_held: str | None = None  # why the show stages did not run
    pruned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        show_failed = self.show is not None and self.show.failed
        return not self.invalid and not any(r.failed for r in self.episodes.values()) and not show_failed

    def ran(self, unit: str) -> list[str]:
        report = self.show if unit == SHOW_UNIT else self.episodes.get(unit)
        return report.ran if report else []


def state_path(root: Path, unit: str) -> Path:
    return Path(root) / STATE_DIR / "state" / f"{unit}.json"


def run_stages(unit: str, stages: list[Stage], ctx, state: StateFile, *, force: bool, dry: bool,
               emit: Emit) -> UnitReport:
    """Run (or, ``dry``, only judge) ``stages`` in order for one unit, recording each success."""
    report = UnitReport(unit)
    will_change: dict[str, str] = {}  # path -> upstream stage that will rewrite it (dry runs only)
    for stage in stages:
        fresh = check(stage, ctx, state.stage(stage.name), force)
        reason = fresh.reason
        if reason is None and dry:
            upstream = next((will_change[str(p)] for p in stage.inputs(ctx) if str(p) in will_change), None)
            if upstream:
                reason = f"after {upstream} (its output is an input here)"
        if reason is None:
            if fresh.refreshed and not dry:
                state.touch_inputs(stage.name, fresh.fingerprint_inputs)
            ctx.results[stage.name] = state.result(stage.name) or {}
            report.runs.append(StageRun(stage.name, None, warnings=result_warnings(ctx.results[stage.name])))
            continue
        if dry:
            report.runs.append(StageRun(stage.name, reason))
            ctx.results[stage.name] = state.result(stage.name) or {}
            will_change.update({str(p): stage.name for p in stage.outputs(ctx)})
            continue
        emit(("start", unit, stage.name, reason))
        ctx.progress = lambda fraction, _s=stage.name: emit(("progress", unit, _s, fraction))
        started = time.perf_counter()
        try:
            result = stage.run(ctx) or {}
        except KindcastError as exc:
            report.runs.append(StageRun(stage.name, reason, time.perf_counter() - started, str(exc)))
            report.error = f"{stage.name}: {exc}"
            break
        except Exception as exc:  # a bug: keep the traceback, but let the other episodes build
            report.runs.append(StageRun(stage.name, reason, time.perf_counter() - started, repr(exc)))
            report.error = f"{stage.name}: internal error: {exc!r}"
            report.trace = traceback.format_exc()
            break
        seconds = time.perf_counter() - started
        # Later stages must see exactly what a later build will load from the state file (JSON, keys sorted), or
        # their params would differ between the build that ran this stage and the next one.
        result = json.loads(json.dumps(result, sort_keys=True, default=str))
        state.record(stage.name, fingerprint(stage, ctx, fresh.fingerprint_inputs, result), result)
        ctx.results[stage.name] = result
        report.runs.append(StageRun(stage.name, reason, seconds, warnings=result_warnings(result)))
        emit(("done", unit, stage.name, seconds))
    state.save()
    if report.error:
        emit(("failed", unit, report.error))
    return report


@dataclass(frozen=True)
class EpisodeJob:
    show: Show
    episode: Episode
    force: bool = False
    dry: bool = False


def run_episode(job: EpisodeJob, emit: Emit) -> UnitReport:
    """One episode through every stage. Runs in a worker process (or in this one with ``--jobs 1``)."""
    state = StateFile(state_path(job.show.root, job.episode.slug))
    ctx = EpisodeContext(show=job.show, episode=job.episode)
    return run_stages(job.episode.slug, episode_stages(), ctx, state, force=job.force, dry=job.dry, emit=emit)


def _orphans(project: Project) -> list[str]:
    """Slugs built before whose episode folder no longer exists (renamed or removed)."""
    state_dir = project.root / STATE_DIR / "state"
    known = {f.name for f in (project.root / "episodes").iterdir() if f.is_dir()} if (project.root / "episodes").is_dir() else set()
    if not state_dir.is_dir():
        return []
    return sorted(p.stem for p in state_dir.glob("*.json") if p.stem != SHOW_UNIT and p.stem not in known)


def _prune(project: Project, show: Show, slugs: list[str]) -> None:
    for slug in slugs:
        shutil.rmtree(show.output_dir / "episodes" / slug, ignore_errors=True)
        shutil.rmtree(project.root / STATE_DIR / "work" / slug, ignore_errors=True)
        state_path(project.root, slug).unlink(missing_ok=True)


def build(root: Path, *, only: str | None = None, force: bool = False, jobs: int = 1, dry: bool = False,
          emit: Emit = lambda event: None) -> BuildReport:
    """Build (or with ``dry``, judge) the show. Raises ValidationFailed only when the show itself is invalid."""
    project = load_project(root)
    show = project.require_show()
    if only is not None and only not in {e.slug for e in project.episodes} | set(project.invalid):
        raise KindcastError(f"no episode folder episodes/{only}")
    report = BuildReport(invalid=dict(project.invalid), warnings=list(project.warnings))
    if only is not None:
        report.invalid = {k: v for k, v in report.invalid.items() if k == only}
    selected = [e for e in project.episodes if only is None or e.slug == only]
    todo = [EpisodeJob(show, ep, force, dry) for ep in selected]
    emit(("plan", [j.episode.slug for j in todo], [s.name for s in episode_stages()]))
    executor = make_executor(1 if dry else jobs)
    for job, unit_report in executor.run(run_episode, todo, emit):
        report.episodes[job.episode.slug] = unit_report

    if only is None and not dry:
        report.pruned = _orphans(project)
        _prune(project, show, report.pruned)

    # The show stages see every valid episode with what its stages last recorded.
    held = [slug for slug, r in report.episodes.items() if r.failed and state_path(show.root, slug).exists()]
    held += [slug for slug in project.invalid if state_path(show.root, slug).exists()]
    if held and not dry:
        report.show_held = ("feed and site left as they were, because these episodes, built before, failed now: "
                            + ", ".join(sorted(held)))
        return report
    records = []
    for ep in project.episodes:
        results = {name: entry.get("result") or {} for name, entry in StateFile(state_path(show.root, ep.slug)).data.items()}
        records.append(EpisodeRecord(ep, results))
    ctx = ShowContext(show=show, episodes=records)
    state = StateFile(state_path(show.root, SHOW_UNIT))
    report.show = run_stages(SHOW_UNIT, show_stages(), ctx, state, force=force, dry=dry, emit=emit)
    return report
