"""A build with nothing to do, answered from one file.

When a full build finds every stage of every episode and of the show up to date (and nothing failed, was held or
had problems), it writes ``.kindcast/unchanged.json``: the size and modification time of every file and folder that
build judged by (the show's ``episodes/`` and ``templates/`` trees, every stage input and output the state records,
the state files, the kindcast code, the installed packages' folders, ffmpeg and the Whisper model), the environment
that steers a build, the moment the next scheduled episode falls due, and the lines the build printed.

The next ``kindcast build`` (without ``--force`` or ``--episode``) stats those paths, under the show's lock. When every
one is as it was, nothing has fallen due and the environment is the same, it prints the same lines without loading
the show (a few milliseconds for hundreds of episodes, where the full check reads every episode.md and state file).
Anything different, missing or unreadable, and the build runs in full, which first removes the file. ``kindcast
status`` always checks in full.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

FILE = "unchanged.json"
VERSION = 1
_ENV_PREFIXES = ("KINDCAST_", "DASK_")
_ENV_NAMES = ("PATH", "IMAGEIO_FFMPEG_EXE", "TZ")


def location(root: Path) -> Path:
    return Path(root) / ".kindcast" / FILE  # pipeline.show.STATE_DIR, not imported here: it loads the models


def _environment() -> str:
    seen = sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES)
    return hashlib.sha256(json.dumps([sys.executable, seen]).encode()).hexdigest()


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def forget(root: Path) -> None:
    """Called before a build does anything: what the file vouches for is about to change."""
    try:
        location(root).unlink()
    except OSError:
        pass


def answer(root: Path) -> list[tuple[bool, str]] | None:
    """The lines the last build printed, when nothing it judged by has changed since; else None."""
    try:
        data = json.loads(location(root).read_text(encoding="utf-8"))
        if data.get("version") != VERSION or data.get("environment") != _environment():
            return None
        due = data.get("due")
        if due is not None and time.time() >= due:
            return None
        for path, seen in data["paths"].items():
            if _stat(path) != seen:
                return None
        return [(bool(err), str(line)) for err, line in data["lines"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _walk(folder: Path, into: dict) -> None:
    for base, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        into[base] = None
        for name in files:
            into[os.path.join(base, name)] = None


def snapshot(root: Path) -> dict[str, list[int] | None]:
    """Before a build reads anything: the size and mtime of every file and folder it judges by (what the state
    records, the show's trees, the code). Taken first, so an edit made while the build runs shows up next time."""
    import pipeline
    from pipeline.engine.build import state_dir
    from pipeline.show import EPISODES_DIR

    root = Path(root)
    paths: dict[str, None] = {}
    _walk(root / EPISODES_DIR, paths)
    paths[str(root / "templates")] = None  # a show's own templates appearing count too
    _walk(root / "templates", paths)
    states = state_dir(root) / "state"
    _walk(states, paths)
    for state_file in sorted(states.glob("*.json")):
        stages = json.loads(state_file.read_text(encoding="utf-8")).get("stages") or {}
        for entry in stages.values():
            fingerprint = (entry or {}).get("fingerprint") or {}
            for key in list(fingerprint.get("inputs") or {}) + list(fingerprint.get("outputs") or {}):
                paths[str(root / key)] = None  # an absolute key stays itself
    _walk(Path(pipeline.__file__).parent, paths)
    for entry in sys.path:  # installing, upgrading or removing a package changes its site-packages folder
        if entry.endswith("-packages") and os.path.isdir(entry):
            paths[entry] = None
    return {p: _stat(p) for p in paths}


def record(root: Path, before: dict, project, lines: list[tuple[bool, str]]) -> None:
    """After a build that ran nothing: remember what it judged by (as it was before it started: ``before``) and what
    it printed. Never fails a build (it is only a shortcut)."""
    try:
        _record(Path(root), dict(before), project, lines)
    except Exception:  # noqa: BLE001 - any doubt: no shortcut, the next build checks in full
        forget(root)


def _record(root: Path, paths: dict, project, lines) -> None:
    from datetime import datetime, timezone

    from pipeline.fsutil import write_text
    from pipeline.media import ffmpeg_path

    show = project.require_show()
    tools = [ffmpeg_path(show.settings.ffmpeg)]
    try:
        from pipeline.speech.whisper import MODEL_FILES, resolve_model

        model = resolve_model(show.settings.transcription.model, show.episodes_dir)
        tools += [str(model / name) for name in MODEL_FILES]
    except Exception:  # noqa: BLE001 - no model: the transcribe stage says so when it runs
        pass
    for tool in tools:
        paths.setdefault(tool, _stat(tool))
    now = datetime.now(timezone.utc)
    future = [e.meta.date.timestamp() for e in project.episodes if e.meta.date > now]
    data = {"version": VERSION, "environment": _environment(), "due": min(future) if future else None,
            "paths": paths, "lines": [[err, line] for err, line in lines]}
    write_text(location(root), json.dumps(data, separators=(",", ":")))
