"""The Stage interface, the contexts stages receive, and the freshness check (why a stage will run).

A stage declares its inputs (files), its outputs (files), its params (settings and metadata it depends on, JSON-able),
its tool versions and the code it runs (``code``: the packages whose source its output depends on); ``run(ctx)``
writes the outputs atomically and returns a JSON-able result that later stages and the show-level stages read from
``ctx.results[stage_name]``. A result may carry ``warnings`` (one-line strings, reported by every build while they
hold), ``notices`` (one-line strings, reported by the build that ran the stage, and by ``kindcast status``) and
``outputs`` (paths of files made beyond the declared ones, as :meth:`EpisodeContext.key` gives them).

Paths are recorded by their *published* place (``feeds/episodes/<slug>/...``, relative to the show), even while an
episode is being rebuilt in its staging folder: ``ctx.key(path)`` gives that name, ``ctx.real(key)`` the file to
read now.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar

from pipeline.engine.state import digest_json, file_stat, sha256_file
from pipeline.show import STATE_DIR, Episode, Show


def _no_progress(fraction: float) -> None:
    pass


def _rel(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as text (``path`` itself when outside); string work, as freshness checks ask
    thousands of times per build."""
    text, base = str(Path(path)), str(Path(root))
    prefix = base if base.endswith(os.sep) else base + os.sep
    if text.startswith(prefix):
        return text[len(prefix):]
    return "." if text == base else text


@dataclass
class EpisodeContext:
    """What a per-episode stage gets: the validated episode and show, where to write, and upstream results."""

    show: Show
    episode: Episode
    results: dict[str, dict] = field(default_factory=dict)
    progress: Callable[[float], None] = _no_progress
    out_dir_override: Path | None = None  # the staging folder while the episode is rebuilt
    threads: int = 0  # CPU threads this episode may use (0: all the machine's)
    force: bool = False  # --force: stages redo their work rather than reuse what they kept from before

    @property
    def root(self) -> Path:
        return self.show.root

    @property
    def published_dir(self) -> Path:
        """``feeds/episodes/<slug>/``: what gets published."""
        return self.show.output_dir / "episodes" / self.episode.slug

    @property
    def out_dir(self) -> Path:
        """Where this run writes the episode's published files (they move into ``published_dir`` when every stage
        of the episode has succeeded)."""
        return self.out_dir_override or self.published_dir

    @property
    def work_dir(self) -> Path:
        """``.kindcast/work/<slug>/``: intermediate files kept between builds, never published."""
        return self.root / STATE_DIR / "work" / self.episode.slug

    @property
    def temp_dir(self) -> Path:
        """``.kindcast/tmp/<slug>/``: scratch files for one run, swept at the start of every build."""
        return self.root / STATE_DIR / "tmp" / self.episode.slug

    def key(self, path: Path) -> str:
        path = Path(path)
        if self.out_dir_override is not None:
            try:
                path = self.published_dir / path.relative_to(self.out_dir_override)
            except ValueError:
                pass
        return _rel(self.root, path)

    def real(self, key: str) -> Path:
        path = self.root / key
        if self.out_dir_override is not None:
            try:
                return self.out_dir_override / path.relative_to(self.published_dir)
            except ValueError:
                pass
        return path


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
    threads: int = 0

    @property
    def root(self) -> Path:
        return self.show.root

    @property
    def out_dir(self) -> Path:
        return self.show.output_dir

    @property
    def work_dir(self) -> Path:
        return self.root / STATE_DIR / "work" / "_show"

    @property
    def temp_dir(self) -> Path:
        return self.root / STATE_DIR / "tmp" / "_show"

    def key(self, path: Path) -> str:
        return _rel(self.root, Path(path))

    def real(self, key: str) -> Path:
        return self.root / key


class Stage:
    """Base class: override what applies. ``version`` may still be bumped by hand, but a change to the code listed
    in ``code`` (besides the stage's own module) is enough to rebuild what the stage made."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    code: ClassVar[tuple[str, ...]] = ()  # packages or modules (dotted names) whose code makes the outputs

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


# --- the code a stage runs -------------------------------------------------------------------------------------------

def _source_files(dotted: str) -> list[Path]:
    spec = importlib.util.find_spec(dotted)
    if spec is None or spec.origin is None:
        return []
    if spec.submodule_search_locations:  # a package: every module in it
        return sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.py"))
    return [Path(spec.origin)]


def _code_only(source: str) -> str:
    """The code of a module without its comments, docstrings and layout, so a change to those rebuilds nothing."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, annotate_fields=False)


class _CodeCache:
    """Digests of source files by (size, mtime): parsing every module on every build would cost more than a whole
    build with nothing to do. Kept in ``.kindcast/code.json`` when the build names it (see :func:`use_code_cache`)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.data: dict = {}
        self.dirty = False

    def load(self, path: Path) -> None:
        import json

        self.path = Path(path)
        try:
            self.data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def digest(self, source: Path) -> str:
        st = source.stat()
        key = str(source)
        entry = self.data.get(key)
        if entry and entry[:2] == [st.st_size, st.st_mtime_ns]:
            return entry[2]
        value = hashlib.sha256(_code_only(source.read_text(encoding="utf-8")).encode()).hexdigest()
        self.data[key] = [st.st_size, st.st_mtime_ns, value]
        self.dirty = True
        return value

    def save(self) -> None:
        if self.dirty and self.path is not None:
            import json

            from pipeline.fsutil import write_text

            try:
                write_text(self.path, json.dumps(self.data, indent=0, sort_keys=True))
            except OSError:
                pass  # a cache
            self.dirty = False


_CODE = _CodeCache()


def use_code_cache(path: Path, fresh: bool = False) -> None:
    """Keep the source digests in ``path``. ``fresh`` (once per build) looks at the source files again; otherwise a
    process that already uses ``path`` keeps the digests it has (each episode of a build asks)."""
    if _CODE.path == Path(path) and not fresh:
        return
    _CODE.load(path)
    code_digest.cache_clear()


def save_code_cache() -> None:
    _CODE.save()


@functools.lru_cache(maxsize=None)
def code_digest(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for dotted in sorted(set(modules)):
        for path in _source_files(dotted):
            digest.update(path.name.encode())
            digest.update(_CODE.digest(path).encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def package_version(dist: str) -> str | None:
    """An installed distribution's version (None when missing), read once per process: a no-op build asks for every
    episode, and each lookup scans the installed packages."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def stage_version(stage: Stage) -> str:
    """The stage's declared version and a digest of its code (its module and what ``code`` lists)."""
    return f"{stage.version}+{code_digest((type(stage).__module__, *stage.code))}"


# --- freshness -------------------------------------------------------------------------------------------------------

@dataclass
class Freshness:
    reason: str | None  # None: up to date
    fingerprint_inputs: dict  # the inputs as they are now (stat + hash), for recording after a run
    refreshed: bool = False  # inputs' stat moved but content did not: state should remember the new stat


def check(stage: Stage, ctx: Any, recorded: dict | None, force: bool = False) -> Freshness:
    """Is ``stage`` up to date for ``ctx``, given what was recorded after its last success? If not, say why."""
    old = (recorded or {}).get("fingerprint") or {}
    old_inputs: dict = old.get("inputs", {})
    now_inputs: dict = {}
    reason: str | None = None
    refreshed = False
    for path in stage.inputs(ctx):
        rel = ctx.key(path)
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
    if old.get("version") != stage_version(stage):
        reason = reason or "the stage's code changed"
    elif old.get("tools") != stage.tool_versions(ctx):
        reason = reason or "a tool or model version changed"
    if old.get("params") != digest_json(stage.params(ctx)):
        reason = reason or "settings or metadata changed"
    expected = {ctx.key(p) for p in stage.outputs(ctx)} | set(old.get("outputs", {}))
    for rel in sorted(expected):
        stat = file_stat(ctx.real(rel))
        if stat is None:
            reason = reason or f"output missing: {rel}"
        elif old.get("outputs", {}).get(rel) not in (None, stat):
            reason = reason or f"output changed since it was written: {rel}"
    return Freshness(reason, now_inputs, refreshed)


def fingerprint(stage: Stage, ctx: Any, inputs: dict, result: dict) -> dict:
    """What is recorded after a success: enough to tell next time whether anything moved."""
    outputs = {}
    for key in [ctx.key(p) for p in stage.outputs(ctx)] + list(result.get("outputs", [])):
        stat = file_stat(ctx.real(key))
        if stat is not None:
            outputs[key] = stat
    return {
        "version": stage_version(stage),
        "tools": stage.tool_versions(ctx),
        "params": digest_json(stage.params(ctx)),
        "inputs": inputs,
        "outputs": outputs,
    }
