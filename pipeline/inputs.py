"""Reading what a producer writes, safely: YAML without surprises, text without control characters, paths that stay
inside the show, URLs that are http(s). Every check returns problems naming the file and field; nothing here raises
for a producer's mistake except :func:`load_yaml`, whose :class:`YamlError` carries the line."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import yaml

from pipeline.errors import Problem

# C0 controls other than tab, newline and carriage return, DEL, C1 controls, and the non-characters XML refuses
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")


# --- YAML ----------------------------------------------------------------------------------------------------------

class YamlError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line  # 1-based, in the YAML text given


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it: 10x faster
    """The safe loader, except that an impossible date (``2026-02-30``) stays text for the model to report with its
    field, and a key given twice is an error (the second would silently replace the first)."""


def _timestamp(loader: _Loader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError):
        return loader.construct_scalar(node)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice (first at line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        except TypeError:  # an unhashable key: the constructor reports it below
            pass
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml(text: str) -> Any:
    """Parse YAML; raise :class:`YamlError` with a one-line message and the 1-based line of the mistake."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(str(problem), mark.line + 1 if mark is not None else None) from None
    except RecursionError:
        raise YamlError("nested too deeply", None) from None


def read_text(path: Path) -> str:
    """A producer's text file as UTF-8 (a byte-order mark is allowed). Raises UnicodeDecodeError / OSError."""
    return Path(path).read_bytes().decode("utf-8-sig")


# --- text ----------------------------------------------------------------------------------------------------------

def _walk(data: Any, where: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(data, str):
        yield where, data
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str):
                yield f"{name} (its name)", key
            yield from _walk(value, name)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, f"{where}[{i}]")


def control_problems(data: Any, file: str) -> list[Problem]:
    """Every text in ``data`` (YAML as loaded) holding a control character: feeds, tags and pages cannot carry them."""
    problems = []
    for where, text in _walk(data):
        match = _CONTROL.search(text)
        if match:
            problems.append(Problem(file, where, f"holds a control character (U+{ord(match.group()):04X}) at "
                                                 f"position {match.start() + 1}; remove it"))
    return problems


def clean_notes(text: str) -> tuple[str, list[int]]:
    """The producer's Markdown notes without control characters: vertical tabs and form feeds (pasted from word
    processors) become line breaks, the rest are dropped. Returns (text, 1-based lines where something changed)."""
    lines = []
    out = []
    for n, line in enumerate(text.split("\n"), start=1):
        fixed = _CONTROL.sub("", line.replace("\x0b", "\n").replace("\x0c", "\n"))
        if fixed != line:
            lines.append(n)
        out.append(fixed)
    return "\n".join(out), lines


# --- paths -----------------------------------------------------------------------------------------------------------

def inside(root: Path, base: Path, value: Any, file: str, field: str) -> tuple[Path | None, Problem | None]:
    """``base / value`` when it is a relative path that stays inside ``root`` once symlinks are followed; else a
    problem naming file and field."""
    if not isinstance(value, str) or not value.strip():
        return None, Problem(file, field, f"expected a path, got {value!r}")
    if "\x00" in value:
        return None, Problem(file, field, "holds a NUL character")
    path = Path(value)
    where = _relative_name(root, base)
    if path.is_absolute() or value.startswith("~"):
        return None, Problem(file, field, f"{value}: must be a path inside the show folder, relative to {where}")
    full = Path(base) / path
    if not is_inside(Path(root), full):
        return None, Problem(file, field, f"{value}: leads outside the show folder (paths are relative to {where} "
                                          "and must stay inside the show, symbolic links included)")
    return full, None


def is_inside(root: Path, path: Path) -> bool:
    """Does ``path`` (symlinks followed) lie inside ``root`` (or is it ``root``)?"""
    real_root = Path(root).resolve()
    try:
        Path(path).resolve().relative_to(real_root)
        return True
    except ValueError:
        return False


def _relative_name(root: Path, base: Path) -> str:
    try:
        rel = Path(base).relative_to(root)
        return f"{rel}/" if str(rel) != "." else "the show folder"
    except ValueError:
        return str(base)


# --- URLs ------------------------------------------------------------------------------------------------------------

def url_problem(value: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    """Why ``value`` is not an absolute URL with one of ``schemes`` (None when it is). The message does not repeat
    the value (the caller names it)."""
    web = {"http", "https"} <= set(schemes)
    wanted = " or ".join((["http(s)"] if web else []) + [f"{s}:" for s in schemes if s not in ("http", "https")])
    if not isinstance(value, str) or re.search(r"[\x00-\x20\x7f]", value):
        return f"must be an {wanted} address without spaces or control characters"
    parts = urlsplit(value)
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return f"must be an {wanted} address" if scheme else f"must be an absolute {wanted} address (https://...)"
    if scheme in ("http", "https") and not parts.hostname:
        return "must name a host (https://host/...)"
    if parts.username or parts.password:
        return "must not hold a user name or password (credentials never go in the show's files)"
    if scheme == "mailto" and "@" not in parts.path:
        return "must be an e-mail address (mailto:name@host)"
    return None
