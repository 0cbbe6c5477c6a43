"""Orchestration: discover episodes, run each one's stages on an executor, skip what is fresh, then the show stages.

A stage runs only when an input, its params, its code or a tool changed, or an output is missing or was altered (or
with ``force``). An episode that has work to do is rebuilt in a staging folder and published only when every stage
succeeded (:mod:`pipeline.engine.staging`), so:

- a build killed at any moment leaves the published tree as it was, and the next build goes on from there;
- an episode that fails (or whose episode.md became invalid, or whose folder was renamed to an invalid name) and
  was published before is *held*: its files, state and feed item stay exactly as they were while the rest of the
  show updates; a new episode that fails is simply left out;
- one build at a time per show (:mod:`pipeline.engine.lock`); temporary files never land in the published tree and
  are swept at the start of the next build.
"""
from __future__ import annotations

import json
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.engine.executor import JobLost, cores, make_executor
from pipeline.engine.lock import ShowLock
from pipeline.engine.stage import (EpisodeContext, EpisodeRecord, ShowContext, Stage, check, fingerprint,
                                   save_code_cache, use_code_cache)
from pipeline.engine.staging import is_temporary, staging_for
from pipeline.engine.state import StateFile
from pipeline.errors import KindcastError, Problem, problem_lines
from pipeline.faults import checkpoint
from pipeline.fsutil import keep_temporaries_out_of
from pipeline.procs import set_cpu_budget
from pipeline.show import STATE_DIR, Episode, EpisodeMeta, Project, Show, load_project
from pipeline.stages import episode_stages, show_stages

SHOW_UNIT = "_show"
Emit = Callable[[tuple], None]


@dataclass
class StageRun:
    stage: str
    reason: str | None  # None: up to date (skipped)
    seconds: float = 0.0
    error: str | None = None


@dataclass
class UnitReport:
    """What happened to one episode (or the show) in a build or a status check."""

    unit: str
    runs: list[StageRun] = field(default_factory=list)
    error: str | None = None  # one line
    trace: str | None = None  # only for bugs, not for user mistakes
    # "<stage>: <one line>": the stages' "warnings" (every build, until the cause goes) and the "notices" of the
    # stages that ran in this build (said once, when the work they are about is done)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # "<stage>: <one line>": every stage's notices, as last said

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
    held: dict[str, str] = field(default_factory=dict)  # slug -> why its last published version was kept
    pruned: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        show_failed = self.show is not None and self.show.failed
        return not self.invalid and not any(r.failed for r in self.episodes.values()) and not show_failed

    def ran(self, unit: str) -> list[str]:
        report = self.show if unit == SHOW_UNIT else self.episodes.get(unit)
        return report.ran if report else []

    def summary(self, *, traces: bool = False, with_problems: bool = True) -> list[tuple[bool, str]]:
        """The build's outcome as lines for a person, each with whether it belongs on stderr; the build command and
        ``watch`` both print these. ``with_problems``: first the show's warnings and every episode.md problem, one per
        line (else each skipped episode names its first problem)."""
        lines = problem_lines([p for problems in self.invalid.values() for p in problems],
                              self.warnings) if with_problems else []
        built = up = 0
        for slug, unit in sorted(self.episodes.items()):
            if unit.failed:
                lines.append((True, f"failed: {slug}: {unit.error}"))
                if traces and unit.trace:
                    lines.append((True, unit.trace.rstrip()))
            elif unit.ran:
                built += 1
                lines.append((False, f"built: {slug}: "
                              + ", ".join(f"{r.stage} {r.seconds:.1f}s" for r in unit.runs if r.reason)))
            else:
                up += 1
            lines.extend((True, f"warning: {slug}: {warning}") for warning in unit.warnings)
        for slug, problems in sorted(self.invalid.items()):
            if with_problems or not problems:
                lines.append((True, f"skipped: {slug}: its episode.md has problems (above)"))
            else:
                more = f" (and {len(problems) - 1} more: kindcast check)" if len(problems) > 1 else ""
                lines.append((True, f"skipped: {slug}: {problems[0]}{more}"))
        lines.extend((False, f"removed: {slug}: its folder is gone, so its published files were removed")
                     for slug in self.pruned)
        lines.extend((True, f"held: {slug}: {why}") for slug, why in sorted(self.held.items()))
        show_failed = self.show is not None and self.show.failed
        if self.show is not None:
            if show_failed:
                lines.append((True, f"failed: show: {self.show.error}"))
                if traces and self.show.trace:
                    lines.append((True, self.show.trace.rstrip()))
            elif self.show.ran:
                lines.append((False, "built: show: " + ", ".join(self.show.ran)))
            lines.extend((True, f"warning: show: {warning}") for warning in self.show.warnings)
        failed = sum(r.failed for r in self.episodes.values()) + len(self.invalid)
        lines.append((False, f"{built} episodes built, {up} up to date, {failed} failed"
                      + (", the feed and site failed (see above)" if show_failed else "")))
        return lines


def state_dir(root: Path) -> Path:
    return Path(root) / STATE_DIR


def state_path(root: Path, unit: str) -> Path:
    return state_dir(root) / "state" / f"{unit}.json"


class _Session:
    """The state a unit's stages read and record, and the switch to staging before the first one runs."""

    def __init__(self, state: StateFile, begin: Callable[[], StateFile] | None = None):
        self.state = state
        self._begin = begin

    def before_first_run(self) -> None:
        if self._begin is not None:
            self.state = self._begin()
            self._begin = None


def run_stages(unit: str, stages: list[Stage], ctx, session: _Session | StateFile, *, force: bool, dry: bool,
               emit: Emit) -> UnitReport:
    """Run (or, ``dry``, only judge) ``stages`` in order for one unit, recording each success."""
    if isinstance(session, StateFile):
        session = _Session(session)
    report = UnitReport(unit)
    will_change: dict[str, str] = {}  # path -> upstream stage that will rewrite it (dry runs only)
    for stage in stages:
        fresh = check(stage, ctx, session.state.stage(stage.name), force)
        reason = fresh.reason
        if reason is None and dry:
            upstream = next((will_change[ctx.key(p)] for p in stage.inputs(ctx) if ctx.key(p) in will_change), None)
            if upstream:
                reason = f"after {upstream} (its output is an input here)"
        if reason is None:
            if fresh.refreshed and not dry:
                session.state.touch_inputs(stage.name, fresh.fingerprint_inputs)
            ctx.results[stage.name] = session.state.result(stage.name) or {}
            report.runs.append(StageRun(stage.name, None))
            continue
        if dry:
            report.runs.append(StageRun(stage.name, reason))
            ctx.results[stage.name] = session.state.result(stage.name) or {}
            will_change.update({ctx.key(p): stage.name for p in stage.outputs(ctx)})
            continue
        session.before_first_run()
        emit(("start", unit, stage.name, reason))
        ctx.progress = lambda fraction, _s=stage.name: emit(("progress", unit, _s, fraction))
        checkpoint(f"{stage.name}:start" if unit != SHOW_UNIT else f"show:{stage.name}:start")
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
        checkpoint(f"{stage.name}:written")
        # Later stages must see exactly what a later build will load from the state file (JSON, keys sorted), or
        # their params would differ between the build that ran this stage and the next one.
        result = json.loads(json.dumps(result, sort_keys=True, default=str))
        session.state.record(stage.name, fingerprint(stage, ctx, fresh.fingerprint_inputs, result), result)
        ctx.results[stage.name] = result
        report.runs.append(StageRun(stage.name, reason, seconds))
        emit(("done", unit, stage.name, seconds))
    session.state.save()
    report.warnings = [f"{name}: {w}" for name, result in ctx.results.items()
                       for w in (result or {}).get("warnings") or []]
    report.notices = [f"{name}: {n}" for name, result in ctx.results.items() for n in (result or {}).get("notices") or []]
    if not dry:  # a dry run's "ran" is what would run
        report.warnings += [f"{name}: {n}" for name in report.ran for n in ctx.results[name].get("notices") or []]
    if report.error:
        emit(("failed", unit, report.error))
    return report


@dataclass(frozen=True)
class EpisodeJob:
    show: Show
    episode: Episode
    force: bool = False
    dry: bool = False
    threads: int = 0  # CPU threads the episode may use (0: all)


def episode_snapshot(episode: Episode) -> dict:
    """What the show-level stages need of an episode, kept with its published state (see :func:`snapshot_episode`)."""
    return {"slug": episode.slug, "meta": episode.meta.model_dump(mode="json"), "notes": episode.notes,
            "recording": str(episode.recording), "duration": episode.duration, "guid": episode.guid,
            "conditions": list(episode.conditions)}


def snapshot_episode(root: Path, data: dict) -> Episode | None:
    """The episode as it was last published, from its state file (None for state written before snapshots)."""
    try:
        return Episode(slug=data["slug"], dir=Path(root) / "episodes" / data["slug"],
                       meta=EpisodeMeta.model_validate(data["meta"]), notes=data["notes"],
                       recording=Path(data["recording"]), duration=float(data["duration"]), guid=data["guid"],
                       conditions=tuple(data["conditions"]))
    except (KeyError, TypeError, ValueError):
        return None


def run_episode(job: EpisodeJob, emit: Emit) -> UnitReport:
    """One episode through every stage. Runs in a worker process (or in this one with ``--jobs 1``)."""
    show, episode = job.show, job.episode
    root = show.root
    _prepare_process(show, job.threads)
    ctx = EpisodeContext(show=show, episode=episode, threads=job.threads, force=job.force)
    staging = staging_for(state_dir(root), ctx.published_dir, episode.slug)
    if staging.active:  # an earlier attempt failed: go on from its staging
        ctx.out_dir_override = staging.files
        session = _Session(StateFile(staging.staged_state))
    else:
        def begin() -> StateFile:
            staging.begin()
            ctx.out_dir_override = staging.files
            return StateFile(staging.staged_state)

        session = _Session(StateFile(state_path(root, episode.slug)), None if job.dry else begin)
    report = run_stages(episode.slug, episode_stages(), ctx, session, force=job.force, dry=job.dry, emit=emit)
    if job.dry or report.error:
        return report  # a failed attempt keeps its staging; the published files and state are untouched
    if ctx.out_dir_override is not None:
        staging.commit()
    published = StateFile(state_path(root, episode.slug))
    published.set_episode(episode_snapshot(episode))
    published.save()
    return report


def _prepare_process(show: Show, threads: int = 0, fresh: bool = False) -> None:
    """Per process (the build's, or a worker's): temporary files outside the published tree, the code digests'
    cache (looked at again at the start of each build: ``fresh``), the CPU threads its work may use."""
    keep_temporaries_out_of(show.output_dir, state_dir(show.root) / "tmp" / "files")
    keep_temporaries_out_of(state_dir(show.root) / "stage", state_dir(show.root) / "tmp" / "files")
    use_code_cache(state_dir(show.root) / "code.json", fresh=fresh)
    set_cpu_budget(threads)


def published_slugs(root: Path) -> set[str]:
    folder = state_dir(root) / "state"
    return {p.stem for p in folder.glob("*.json") if p.stem != SHOW_UNIT} if folder.is_dir() else set()


def _sweep(root: Path, show: Show) -> None:
    """Before a build: finish commits a kill interrupted, remove temporary files of earlier runs, and any stray
    temporary file (from kindcast versions that made them there) in the published tree."""
    base = state_dir(root)
    for manifest in (base / "stage").glob("*/COMMIT") if (base / "stage").is_dir() else []:
        slug = manifest.parent.name
        staging_for(base, show.output_dir / "episodes" / slug, slug).finish()
    shutil.rmtree(base / "tmp", ignore_errors=True)
    if show.output_dir.is_dir():
        for stray in show.output_dir.rglob(".*"):
            if stray.is_file() and is_temporary(stray.name):
                stray.unlink()


def _threads_per_job(jobs: int, episodes: int) -> int:
    return max(1, cores() // max(1, min(jobs, episodes)))


def build(root: Path, *, only: str | None = None, force: bool = False, jobs: int = 1, dry: bool = False,
          emit: Emit = lambda event: None, executor=None) -> BuildReport:
    """Build (or with ``dry``, judge) the show. Raises ValidationFailed only when the show itself is invalid, and
    KindcastError when another build holds the show."""
    root = Path(root).resolve()
    if dry:
        return _build(root, only=only, force=force, jobs=jobs, dry=True, emit=emit, executor=executor)
    with ShowLock(state_dir(root), "build"):
        return _build(root, only=only, force=force, jobs=jobs, dry=False, emit=emit, executor=executor)


def _build(root: Path, *, only, force, jobs, dry, emit, executor) -> BuildReport:
    from pipeline.engine import unchanged

    whole = not dry and only is None and not force  # a build that may find the whole show up to date
    if not dry:
        unchanged.forget(root)
    before = unchanged.snapshot(root) if whole else None
    published = published_slugs(root)
    project = load_project(root, published=published)
    show = project.require_show()
    if only is not None and only not in {e.slug for e in project.episodes} | set(project.invalid):
        raise KindcastError(f"no episode folder episodes/{only}")
    _prepare_process(show, fresh=True)
    if not dry:
        _sweep(root, show)
    report = BuildReport(invalid=dict(project.invalid), warnings=list(project.warnings))
    if only is not None:
        report.invalid = {k: v for k, v in report.invalid.items() if k == only}
    selected = [e for e in project.episodes if only is None or e.slug == only]
    threads = _threads_per_job(jobs, len(selected))
    todo = [EpisodeJob(show, ep, force, dry, threads) for ep in selected]
    emit(("plan", [j.episode.slug for j in todo], [s.name for s in episode_stages()]))
    executor = executor or make_executor(1 if dry else jobs)
    for job, outcome in executor.run(run_episode, todo, emit):
        if isinstance(outcome, JobLost):
            outcome = UnitReport(job.episode.slug, error=outcome.reason, trace=outcome.trace)
            emit(("failed", job.episode.slug, outcome.error))
        report.episodes[job.episode.slug] = outcome
    save_code_cache()

    records = _records(project, report, only, dry)
    ctx = ShowContext(show=show, episodes=records, threads=cores())
    state = StateFile(state_path(root, SHOW_UNIT))
    report.show = run_stages(SHOW_UNIT, show_stages(), ctx, state, force=force, dry=dry, emit=emit)
    ran = any(unit.ran for unit in report.episodes.values()) or report.show.ran
    if whole and report.ok and not ran and not report.held and not report.pruned:
        unchanged.record(root, before, project, report.summary(traces=True))  # what the build command prints
    return report


def _records(project: Project, report: BuildReport, only: str | None, dry: bool) -> list[EpisodeRecord]:
    """What the show stages see: every episode as published now. A published episode that failed now, became
    invalid, or whose folder moved to an invalid name is held: the show stages see it as it was last published."""
    root = project.root
    records: list[EpisodeRecord] = []
    for ep in project.episodes:
        state = StateFile(state_path(root, ep.slug))
        if not state.exists:
            continue  # never published: a new episode that failed is simply not shown yet
        unit = report.episodes.get(ep.slug)
        if unit is not None and unit.failed:
            held = snapshot_episode(root, state.episode or {}) or ep
            report.held[ep.slug] = "it failed now; its last published version stays"
            records.append(EpisodeRecord(held, state.results()))
        else:
            records.append(EpisodeRecord(ep, state.results()))
    claimed = {e.guid: e.slug for e in project.episodes} | {g: s for s, g in project.invalid_guids.items()}
    for slug in sorted(published_slugs(root) - {e.slug for e in project.episodes}):
        state = StateFile(state_path(root, slug))
        snapshot = snapshot_episode(root, state.episode or {})
        folder = root / "episodes" / slug
        if slug in project.invalid:
            why = "its episode.md has problems; its last published version stays"
        elif not folder.is_dir() and snapshot is not None and claimed.get(snapshot.guid) in project.invalid:
            why = f"its folder was renamed to episodes/{claimed[snapshot.guid]}, which has problems; its last " \
                  "published version stays"
        elif not folder.is_dir() and snapshot is not None and claimed.get(snapshot.guid) in report.episodes \
                and report.episodes[claimed[snapshot.guid]].failed:
            why = f"its folder was renamed to episodes/{claimed[snapshot.guid]}, which failed; its last published " \
                  "version stays"
        elif not folder.is_dir():
            if only is None and not dry:
                _prune(root, project.show, slug)
                report.pruned.append(slug)
            continue
        else:
            continue
        if snapshot is not None:
            report.held[slug] = why
            records.append(EpisodeRecord(snapshot, state.results()))
    return records


def _prune(root: Path, show: Show, slug: str) -> None:
    """An episode whose folder is gone (and whose guid no other folder holds): its published files go too."""
    shutil.rmtree(show.output_dir / "episodes" / slug, ignore_errors=True)
    for sub in ("work", "stage", "tmp"):
        shutil.rmtree(state_dir(root) / sub / slug, ignore_errors=True)
    state_path(root, slug).unlink(missing_ok=True)
