"""Safe writers: never a half-written file, never a write outside the output tree, no rewrite of an unchanged file."""
from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path
from typing import Iterator

from pipeline.errors import KindcastError


def safe_join(base: Path, *parts: str) -> Path:
    """``base / parts``, refusing anything that would land outside ``base``."""
    base = Path(base).resolve()
    path = base.joinpath(*parts).resolve()
    if path != base and base not in path.parents:
        raise KindcastError(f"refusing to write outside {base}: {'/'.join(parts)}")
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary copies of ``path`` left by a process that was killed before it could clean up (its pid is in the
    name and no longer runs): the next write of the same file removes them, so a killed build leaves nothing."""
    import re

    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.tmp(\d+){re.escape(path.suffix)}$")
    for sibling in path.parent.glob(f".{glob.escape(path.stem)}.tmp*"):
        found = pattern.match(sibling.name)
        if found and int(found.group(1)) != os.getpid() and not _alive(int(found.group(1))):
            sibling.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so tools pick the format); rename it over ``path`` on
    success, delete it on failure. A build killed half-way leaves the old file, never a broken one (and the next
    write of that file removes the killed build's temporary copy)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(path: Path, data: bytes) -> bool:
    """Write atomically, unless the file already holds exactly ``data``. Returns True when it wrote."""
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return True


def write_text(path: Path, text: str) -> bool:
    return write_bytes(path, text.encode("utf-8"))
