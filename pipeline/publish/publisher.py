"""Publish the built tree to a destination: check it, send only what changed (by content hash), feed last, delete
removed files after the new feed is up, then tell the hubs.

The destination keeps a manifest (``.kindcast-manifest.json``: each file's SHA-256 and size, and the notifications
still owed) so that any machine can publish the same show there and a publish that was interrupted is finished by
the next one: a file counts as published only once the manifest says so and the destination holds it at that size.
While a publish writes, the destination holds a lock file (``.kindcast-publish.lock``), so that two machines never
publish there at once.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from pipeline.errors import KindcastError, Problem, ValidationFailed
from pipeline.faults import checkpoint
from pipeline.publish.destinations import TEMP_PREFIX, Destination
from pipeline.publish.notify import Notifier, notifiers_for
from pipeline.publish.tree import (CACHE_NONE, MANIFEST, LocalFile, cache_control, content_type, feed_problems,
                                   scan, upload_rank)
from pipeline.show import STATE_DIR
from pipeline.web.feed import FEED_FILE

MANIFEST_FORMAT = 1
Emit = Callable[[str], None]


@dataclass
class Change:
    rel: str
    reason: str  # new, changed, missing at the destination, ...
    size: int = 0


@dataclass
class PublishReport:
    destination: str
    dry: bool = False
    uploads: list[Change] = field(default_factory=list)
    deletions: list[Change] = field(default_factory=list)
    unchanged: int = 0
    cleaned: int = 0  # left-over temporary files of an interrupted publish, removed
    feed_changed: bool = False
    notified: list[str] = field(default_factory=list)
    notify_failed: list[tuple[str, str]] = field(default_factory=list)  # (notifier, why)
    pending: list[str] = field(default_factory=list)  # notifications owed (dry run: that would be sent)

    @property
    def uploaded_bytes(self) -> int:
        return sum(c.size for c in self.uploads)


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class Manifest:
    """What the destination holds, as far as kindcast knows: ``files`` (path -> sha256, size) and ``pending``
    (notifications owed since the feed last changed there)."""

    def __init__(self, data: dict | None = None):
        data = data or {}
        self.files: dict[str, dict] = dict(data.get("files") or {})
        self.pending: list[str] = list(data.get("pending") or [])
        self.feed_url: str | None = data.get("feed_url")

    @classmethod
    def parse(cls, raw: bytes | None) -> "Manifest | None":
        """The manifest in ``raw``; an empty one when there is none; None when it cannot be read."""
        if raw is None:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT or not isinstance(data.get("files"), dict):
            return None
        return cls(data)

    def dumps(self) -> bytes:
        from pipeline import __version__

        data = {"format": MANIFEST_FORMAT, "generator": f"kindcast {__version__}", "feed_url": self.feed_url,
                "pending": self.pending, "files": self.files}
        return json.dumps(data, indent=0, sort_keys=True).encode("utf-8")




def check_tree(show) -> tuple[dict[str, LocalFile], dict]:
    """The published tree, hashed, after checking it is consistent. Raises ValidationFailed listing every problem."""
    out = show.output_dir
    out_name = out.name
    if not (out / FEED_FILE).is_file():
        raise KindcastError(f"{out_name}/{FEED_FILE}: not found: nothing is built yet (run kindcast build)")
    files, temporary = scan(out, show.root / ".kindcast" / "publish" / "hashes.json")
    problems = [Problem(f"{out_name}/{rel}", "", "a temporary file: a build is running or was stopped; "
                        "run kindcast build (again) before publishing") for rel in temporary]
    messages, info = feed_problems(out, files, show.meta.base_url, show.meta.publish.analytics_prefix)
    problems += [Problem(f"{out_name}/{m.split(': ', 1)[0]}", "", m.split(": ", 1)[1]) for m in messages]
    if problems:
        raise ValidationFailed(problems)
    return files, info


def plan(files: dict[str, LocalFile], listing: dict[str, int], manifest: Manifest, report: PublishReport
         ) -> tuple[list[str], list[str]]:
    """Fill ``report.uploads`` (feed last) and ``report.deletions``; return (left-over temporary files, manifest
    entries of files already gone)."""
    for rel in sorted(files, key=lambda r: (upload_rank(r), r)):
        local, known, there = files[rel], manifest.files.get(rel), listing.get(rel)
        if known is None:
            reason = "new" if there is None else "not in the destination's manifest"
        elif known.get("sha256") != local.sha256:
            reason = "changed"
        elif there is None:
            reason = "missing at the destination"
        elif there != local.size:
            reason = f"{there} bytes at the destination, {local.size} here"
        else:
            report.unchanged += 1
            continue
        report.uploads.append(Change(rel, reason, local.size))
    gone = []
    for rel in sorted(manifest.files):
        if rel in files:
            continue
        if rel in listing:
            report.deletions.append(Change(rel, "no longer in the built tree", listing[rel]))
        else:
            gone.append(rel)
    leftovers = sorted(rel for rel in listing if rel.rsplit("/", 1)[-1].startswith(TEMP_PREFIX))
    return leftovers, gone


LOCK = ".kindcast-publish.lock"  # at the destination while a publish writes there
LOCK_STALE_SECONDS = 6 * 3600  # a lock this old is left by a publish that was killed: it is taken over


@contextlib.contextmanager
def destination_lock(dest: Destination, emit: Emit) -> Iterator[None]:
    """One publish at a time at a destination, whichever machine it runs on: the lock file is created only when
    none is there (an exclusive create on a folder or over SFTP, a conditional write on S3) and removed at the end.
    Another machine's lock stops this publish with a message naming it; one over LOCK_STALE_SECONDS old is taken
    over with a warning."""
    mine = {"host": socket.gethostname(), "pid": os.getpid(), "started": _now().isoformat(timespec="seconds"),
            "token": uuid.uuid4().hex}
    data = json.dumps(mine).encode()
    if not dest.create(LOCK, data):
        held = _read_lock(dest)
        started = _lock_time(held)
        age = (_now() - started).total_seconds() if started else None
        if age is None or age < LOCK_STALE_SECONDS:
            who = (f"{_shown(held.get('host'))} (process {_shown(held.get('pid'))}) "
                   f"since {_shown(held.get('started'))}" if held
                   else "a publish that has only just begun, or one that died while starting")
            raise KindcastError(f"{dest.label}: another publish is writing there: {who}; publish again when it has "
                                f"finished (if none is running any more, delete {LOCK} there)")
        emit(f"warning: {dest.label}: taking over the lock of a publish from {_shown(held.get('host'))} that began "
             f"{_shown(held.get('started'))}, over {LOCK_STALE_SECONDS // 3600} hours ago (killed?)")
        dest.delete(LOCK)
        if not dest.create(LOCK, data):
            raise KindcastError(f"{dest.label}: another publish took the lock at the same moment; publish again "
                                "when it has finished")
    try:
        yield
    finally:
        with contextlib.suppress(KindcastError):
            held = _read_lock(dest)
            if held is not None and held.get("token") == mine["token"]:
                dest.delete(LOCK)


def _shown(value) -> str:
    """A value from another machine's lock file, fit for one line of a terminal."""
    text = "".join(c if c.isprintable() else "?" for c in str("?" if value is None else value))
    return text[:80]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _read_lock(dest: Destination) -> dict | None:
    try:
        held = json.loads(dest.read(LOCK) or b"")
    except ValueError:
        return None
    return held if isinstance(held, dict) else None


def _lock_time(held: dict | None) -> datetime | None:
    try:
        started = datetime.fromisoformat(str((held or {})["started"]))
    except (KeyError, ValueError):
        return None
    return started if started.tzinfo else None


def publish(show, dest: Destination, *, dry: bool = False, notify: bool = True, emit: Emit = lambda line: None
            ) -> PublishReport:
    """Publish ``show``'s built tree to ``dest``; see the module's docstring for the guarantees. A dry run only
    reads; a real one holds the destination's lock (:func:`destination_lock`) from reading the manifest to the end."""
    files, info = check_tree(show)  # before anything is written there
    if dry:
        return _publish(show, dest, files, info, dry=True, notify=notify, emit=emit)
    with destination_lock(dest, emit):
        checkpoint("publish:locked")
        return _publish(show, dest, files, info, dry=False, notify=notify, emit=emit)


def _publish(show, dest: Destination, files: dict[str, LocalFile], info: dict, *, dry: bool, notify: bool,
             emit: Emit) -> PublishReport:
    settings = show.meta.publish
    feed_url = info.get("self_url") or show.meta.base_url + FEED_FILE
    notifiers: list[Notifier] = notifiers_for(settings, show.meta.medium)
    announced = set(info.get("hubs") or [])
    for hub in settings.websub:
        if hub not in announced:
            emit(f"warning: {FEED_FILE} does not announce the hub {hub} yet (run kindcast build)")

    report = PublishReport(dest.label, dry=dry)
    listing = dest.list()
    manifest = Manifest.parse(dest.read(MANIFEST))
    if manifest is None:  # safe: everything is sent again and the manifest rewritten
        emit(f"warning: {MANIFEST} at the destination cannot be read; sending everything again")
        manifest = Manifest()
    if manifest.feed_url and manifest.feed_url != feed_url:
        emit(f"warning: the destination was last published with the feed {manifest.feed_url}; now {feed_url}")
    leftovers, gone = plan(files, listing, manifest, report)
    report.feed_changed = any(c.rel == FEED_FILE for c in report.uploads)
    configured = [n.key for n in notifiers]
    owed = [k for k in manifest.pending if k in configured]
    if notify and report.feed_changed:
        owed = configured

    if dry:
        for c in report.uploads:
            emit(f"would upload {c.rel} ({c.reason}, {human_size(c.size)})")
        for c in report.deletions:
            emit(f"would delete {c.rel} ({c.reason})")
        if leftovers:
            emit(f"would remove {len(leftovers)} temporary file(s) left by an interrupted publish")
        report.pending = owed if notify else []
        for key in report.pending:
            emit(f"would notify {key}")
        return report

    written = manifest.dumps()
    dirty = bool(gone) or manifest.feed_url != feed_url
    manifest.feed_url = feed_url
    for rel in gone:
        del manifest.files[rel]

    def save() -> None:
        nonlocal written, dirty
        written = manifest.dumps()
        dest.write(MANIFEST, written, "application/json", CACHE_NONE)
        dirty = False

    for rel in leftovers:
        dest.delete(rel)
        report.cleaned += 1
    # Uploads, feed last. The manifest is rewritten once the bytes sent since its last write reach its own size,
    # so an interrupted publish loses little and the manifest never costs more than the files.
    unsaved = 0
    try:
        for change in report.uploads:
            local = files[change.rel]
            if not local.path.is_file():
                raise KindcastError(f"{local.path}: gone while publishing (is a build running?); publish again "
                                    "when it has finished")
            dest.upload(change.rel, local.path, content_type(change.rel), cache_control(change.rel))
            manifest.files[change.rel] = {"sha256": local.sha256, "size": local.size}
            dirty = True
            emit(f"uploaded {change.rel} ({change.reason}, {human_size(change.size)})")
            unsaved += local.size
            if change.rel == FEED_FILE:
                if notify:
                    manifest.pending = list(configured)
                save()
                unsaved = 0
            elif unsaved >= len(written):
                save()
                unsaved = 0
    except (KindcastError, KeyboardInterrupt):
        if dirty:  # keep what did get there, if the destination still answers
            with contextlib.suppress(KindcastError):
                save()
        raise
    # Only now that the new feed is up: files it no longer names.
    for change in report.deletions:
        dest.delete(change.rel)
        manifest.files.pop(change.rel, None)
        dirty = True
        emit(f"deleted {change.rel}")
    if dirty:
        save()

    if notify:
        sent_any = False
        for notifier in notifiers:
            if notifier.key not in manifest.pending:
                continue
            why = notifier.send(feed_url)
            if why is None:
                manifest.pending.remove(notifier.key)
                report.notified.append(notifier.key)
                emit(f"notified {notifier.key}")
            else:
                report.notify_failed.append((notifier.key, why))
                emit(f"notify failed: {notifier.key}: {why}; it is retried at the next publish")
            sent_any = True
        stale = [k for k in manifest.pending if k not in configured]  # no longer configured: forget
        for key in stale:
            manifest.pending.remove(key)
        if sent_any or stale:
            save()
    report.pending = list(manifest.pending)
    return report


def publish_show(root: Path, *, to: str | None = None, dry: bool = False, notify: bool = True,
                 emit: Emit = lambda line: None) -> PublishReport:
    """Load the show at ``root`` and publish its built tree to ``to`` (or show.yaml's ``publish.to``)."""
    from pipeline.publish.destinations import open_destination, parse_destination
    from pipeline.show import load_show

    show, problems = load_show(root)
    if show is None:
        raise ValidationFailed(problems)
    settings = show.meta.publish
    target = to or settings.to
    if not target:
        raise KindcastError("no destination: give --to DEST or set publish.to in episodes/show.yaml")
    try:
        spec = parse_destination(target)
    except ValueError as exc:
        raise KindcastError(f"--to {target}: {exc}") from None
    from pipeline.engine.lock import ShowLock

    # the build's lock: a publish never reads a tree a build is changing, and one publish at a time
    with ShowLock(show.root / STATE_DIR, "publish"):
        with open_destination(spec, root=show.root, output_dir=show.output_dir, endpoint_url=settings.endpoint_url,
                              relative_to=Path.cwd() if to else show.root) as dest:
            return publish(show, dest, dry=dry, notify=notify, emit=emit)
