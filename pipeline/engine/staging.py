"""Rebuilding an episode without touching what is published until it has all worked.

When any stage of an episode must run, the episode's published folder is mirrored into a staging folder
(``.kindcast/stage/<slug>/files/``, hard links, so it costs nothing) together with its state, and the stages write
there. Only when every stage has succeeded is the staging *committed*: a manifest is written, the files are moved
into ``feeds/episodes/<slug>/`` one rename each, files the new build no longer makes are removed, and the staged
state replaces the published one. An episode that fails leaves the published files and state exactly as they were
(listeners keep the last good version) and keeps its staging, so the next attempt goes on from where it stopped.
A commit interrupted by a kill is finished by the next build from its manifest.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from pipeline.faults import checkpoint
from pipeline.fsutil import write_text

MANIFEST = "COMMIT"
_TEMPORARY = re.compile(r"^\..*\.tmp|^\.kindcast-")


def is_temporary(name: str) -> bool:
    """A name kindcast gives its temporary files (left behind only by a killed writer): never published."""
    return bool(_TEMPORARY.match(name))


@dataclass(frozen=True)
class Staging:
    root: Path  # .kindcast/stage/<slug>/
    published: Path  # feeds/episodes/<slug>/
    state: Path  # .kindcast/state/<slug>.json

    @property
    def files(self) -> Path:
        return self.root / "files"

    @property
    def staged_state(self) -> Path:
        return self.root / "state.json"

    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def active(self) -> bool:
        """A staging left by an earlier attempt (not yet committed) that this build goes on with."""
        return self.staged_state.is_file() and not self.manifest.exists()

    def begin(self) -> None:
        """Mirror the published files (hard links; a copy where links cannot be made) and state into staging."""
        if self.root.exists():
            shutil.rmtree(self.root)
        self.files.mkdir(parents=True)
        if self.published.is_dir():
            for src in sorted(self.published.rglob("*")):
                if src.is_file() and not src.is_symlink() and not is_temporary(src.name):
                    dst = self.files / src.relative_to(self.published)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
        if self.state.is_file():
            shutil.copy2(self.state, self.staged_state)
        else:
            write_text(self.staged_state, "{}")

    def commit(self) -> None:
        """Publish what was staged: write the manifest, then move everything into place (see :meth:`finish`)."""
        names = sorted(str(p.relative_to(self.files)) for p in self.files.rglob("*")
                       if p.is_file() and not is_temporary(p.name))
        write_text(self.manifest, json.dumps(names))
        self.finish()

    def finish(self) -> None:
        """Move the manifest's files into the published folder, remove what it no longer holds, replace the state.
        Safe to run again after a kill at any point."""
        names = json.loads(self.manifest.read_text(encoding="utf-8"))
        keep = set(names)
        for i, name in enumerate(names):
            if i == len(names) // 2:
                checkpoint("commit:half")
            src, dst = self.files / name, self.published / name
            if src.is_file():
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
        if self.published.is_dir():
            for path in sorted(self.published.rglob("*"), reverse=True):
                rel = str(path.relative_to(self.published))
                if path.is_file() and rel not in keep:
                    path.unlink()
                elif path.is_dir() and not any(path.iterdir()):
                    path.rmdir()
        if self.staged_state.is_file():
            self.state.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staged_state, self.state)
        shutil.rmtree(self.root, ignore_errors=True)

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def staging_for(state_dir: Path, published: Path, slug: str) -> Staging:
    return Staging(Path(state_dir) / "stage" / slug, Path(published), Path(state_dir) / "state" / f"{slug}.json")
