"""Safe writers: never a half-written file, never a write outside the output tree, no rewrite of an unchanged file."""
from __future__ import annotations

import contextlib
import errno
import itertools
import os
import shutil
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


_TEMP_DIRS: dict[Path, Path] = {}  # published tree -> where its temporary files are made (same filesystem)
_counter = itertools.count()


def keep_temporaries_out_of(tree: Path, temp_dir: Path) -> None:
    """From now on, temporary files for anything inside ``tree`` are made in ``temp_dir`` (outside the published
    tree, on the same filesystem), so that a build killed half-way leaves no stray file where a host would serve it."""
    _TEMP_DIRS[Path(tree).resolve()] = Path(temp_dir)


def _temp_for(path: Path) -> Path:
    resolved = path.parent.resolve() / path.name
    for tree, temp_dir in _TEMP_DIRS.items():
        if tree == resolved or tree in resolved.parents:
            temp_dir.mkdir(parents=True, exist_ok=True)
            return temp_dir / f"{path.stem}.{os.getpid()}-{next(_counter)}.tmp{path.suffix}"
    return path.with_name(f".{path.stem}.tmp{os.getpid()}-{next(_counter)}{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path (same suffix, so tools pick the format); rename it over ``path`` on success, delete it
    on failure. A build killed half-way leaves the old file, never a broken one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_for(path)
    try:
        yield tmp
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # another filesystem: copy beside the target first, so the final step is still one rename
            beside = path.with_name(f".{path.stem}.tmp{os.getpid()}-{next(_counter)}{path.suffix}")
            try:
                shutil.copyfile(tmp, beside)
                os.replace(beside, path)
            finally:
                if beside.exists():
                    beside.unlink()
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
