"""Fingerprints of what a stage depended on, recorded only after the stage succeeded.

One JSON file per episode (``.kindcast/state/<slug>.json``) and one for the show, so parallel workers never share a
file. An episode's file describes exactly what is published of it: a rebuild works on a staged copy (see
:mod:`pipeline.engine.staging`) whose state replaces this file only when every stage succeeded. Inputs are compared by size and mtime first and by content hash only when those moved, so touching a file
without changing it does not rebuild anything.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.fsutil import write_text



def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_json(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_stat(path: Path) -> dict | None:
    try:
        st = Path(path).stat()
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


class StateFile:
    """The recorded state of one unit (an episode, or the show): for each stage that succeeded, its fingerprint and
    result (``{"stages": {stage: {"fingerprint": ..., "result": ...}}}``), and for an episode the metadata it was
    last published with (``"episode"``), so a held episode keeps its item exactly as it was."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        if data and "stages" not in data:  # written by kindcast before 0.2: stages at the top level
            data = {"stages": data}
        self.data: dict = data
        self.data.setdefault("stages", {})
        self._dirty = False

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def stages(self) -> dict:
        return self.data["stages"]

    def stage(self, name: str) -> dict | None:
        return self.stages.get(name)

    def result(self, name: str) -> dict | None:
        entry = self.stages.get(name)
        return entry.get("result") if entry else None

    def results(self) -> dict[str, dict]:
        return {name: entry.get("result") or {} for name, entry in self.stages.items()}

    def record(self, name: str, fingerprint: dict, result: dict) -> None:
        self.stages[name] = {"fingerprint": fingerprint, "result": result}
        self._dirty = True
        self.save()

    def touch_inputs(self, name: str, inputs: dict) -> None:
        """Content unchanged but size/mtime moved: remember the new stat so the next check is fast again."""
        self.stages[name]["fingerprint"]["inputs"] = inputs
        self._dirty = True

    @property
    def episode(self) -> dict | None:
        return self.data.get("episode")

    def set_episode(self, snapshot: dict) -> None:
        if self.data.get("episode") != snapshot:
            self.data["episode"] = snapshot
            self._dirty = True

    def save(self) -> None:
        if self._dirty:
            write_text(self.path, json.dumps(self.data, indent=1, sort_keys=True, default=str))
            self._dirty = False
