"""``kindcast watch``: build (and publish) when a recording lands or changes, and when a scheduled episode's time comes.

Changes under ``episodes/`` come from watchfiles. A changed episode folder is built only once nothing in it has
changed for ``settle`` seconds (recordings copied over slow links grow for a long time); its files' sizes and
modification times are compared on every tick as well, for shares where change events do not arrive. The watch
also wakes at the date and time of the next episode dated in the future, builds (the feed now includes it) and
publishes. Every event is one line; a failing episode is reported and the watch goes on.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from pipeline.errors import KindcastError, ValidationFailed

SHOW_KEY = ""  # show.yaml, artwork and other files at the top of episodes/: rebuild everything
TICK_MS = 500
RETRY_FIRST, RETRY_MAX = 30.0, 900.0  # seconds between attempts to publish after a failure


@dataclass
class _Pending:
    since: float  # monotonic time of the last change seen
    snapshot: dict


def _snapshot(folder: Path, top_only: bool) -> dict:
    found = {}
    try:
        paths = folder.iterdir() if top_only else folder.rglob("*")
        for path in paths:
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_dir():
                found[str(path)] = (st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        pass
    return found


class Watcher:
    def __init__(self, root: Path, *, publish: bool, settle: float, jobs: int = 1, to: str | None = None,
                 emit: Callable[[str], None] = print, now: Callable[[], datetime] | None = None):
        self.root = Path(root).resolve()
        self.episodes = self.root / "episodes"
        self.publish_enabled = publish
        self.settle = settle
        self.jobs = jobs
        self.to = to
        self.emit = emit
        self.now = now or (lambda: datetime.now(timezone.utc))
        self.pending: dict[str, _Pending] = {}
        self.stray: set[str] = set()  # recordings dropped straight into episodes/, already reported
        self.next_due: tuple[datetime, str] | None = None
        self.retry_at: float | None = None
        self.retry_wait = RETRY_FIRST

    # --- the loop ------------------------------------------------------------------------------------------------

    def run(self, stop_event=None) -> None:
        """Watch until Ctrl-C (KeyboardInterrupt propagates to the caller) or ``stop_event`` is set."""
        import watchfiles

        if not self.episodes.is_dir():
            raise KindcastError(f"{self.episodes}: no episodes folder to watch")
        if self.publish_enabled:
            self._check_destination()
        self.emit(f"watching {self.episodes}" + (" (publishing)" if self.publish_enabled else "") +
                  "; Ctrl-C to stop")
        watch_filter = watchfiles.DefaultFilter(ignore_dirs=(".kindcast",))
        started = False
        for changes in watchfiles.watch(self.episodes, watch_filter=watch_filter, stop_event=stop_event,
                                        rust_timeout=TICK_MS, yield_on_timeout=True, raise_interrupt=True):
            if not started:  # the catch-up build runs once watching has begun, so nothing dropped meanwhile is lost
                started = True
                self._build(None)
            self._tick(changes)

    def _check_destination(self) -> None:
        """Refuse to start publishing with nowhere to publish to (a broken show.yaml is reported by the builds)."""
        from pipeline.publish.destinations import parse_destination
        from pipeline.show import load_show

        target = self.to
        if target is None:
            show, _problems = load_show(self.root)
            if show is None:
                return
            target = show.meta.publish.to
        if not target:
            raise KindcastError("--publish: no destination: give --to DEST or set publish.to in episodes/show.yaml")
        try:
            parse_destination(target)
        except ValueError as exc:
            raise KindcastError(f"--to {target}: {exc}") from None

    def _key(self, path: Path) -> str | None:
        try:
            parts = path.relative_to(self.episodes).parts
        except ValueError:
            return None
        if not parts or parts[0].startswith((".", "_")):
            return None
        if len(parts) == 1:
            if (self.episodes / parts[0]).is_dir():
                return parts[0]
            from pipeline.media import AUDIO_EXTENSIONS

            if path.suffix.lower() in AUDIO_EXTENSIONS:  # a recording dropped beside show.yaml
                if path.name not in self.stray:
                    self.stray.add(path.name)
                    self.emit(f"ignored: episodes/{path.name}: put each recording in a folder of its own, "
                              "episodes/<slug>/, with an episode.md (kindcast new makes one)")
                return None
            return SHOW_KEY
        return parts[0]

    def _folder(self, key: str) -> Path:
        return self.episodes / key if key else self.episodes

    def _tick(self, changes) -> None:
        now = time.monotonic()
        for _change, raw in sorted(changes or (), key=lambda c: c[1]):
            key = self._key(Path(raw))
            if key is None:
                continue
            if key not in self.pending:
                where = f"episodes/{key}" if key else "episodes/ (show files)"
                self.emit(f"changed: {where}: building once it has not changed for {self.settle:g} s")
            self.pending[key] = _Pending(now, _snapshot(self._folder(key), top_only=not key))
        ready = []
        for key, pend in list(self.pending.items()):
            snap = _snapshot(self._folder(key), top_only=not key)
            if snap != pend.snapshot:
                pend.since, pend.snapshot = now, snap
            elif now - pend.since >= self.settle:
                ready.append(key)
                del self.pending[key]
        if ready:
            if SHOW_KEY in ready or len(ready) > 1:
                self._build(None)
            else:
                self._build(ready[0])
        elif self.next_due and self.now() >= self.next_due[0]:
            when, slug = self.next_due
            self.emit(f"due: {slug} (scheduled for {when.isoformat()})")
            self._build(None)
        elif self.retry_at is not None and time.monotonic() >= self.retry_at:
            self._publish()

    # --- building and publishing ---------------------------------------------------------------------------------

    def _build(self, only: str | None) -> None:
        from pipeline.engine.build import build

        started = self.now()  # episodes dated after this are still to come, even if their time passes mid-build
        try:
            report = build(self.root, only=only if only and (self.episodes / only).is_dir() else None,
                           jobs=self.jobs)
        except ValidationFailed as exc:
            for problem in exc.problems:
                self.emit(f"failed: {problem}")
            self._schedule(started)
            return
        except KindcastError as exc:
            self.emit(f"failed: {exc}")
            self._schedule(started)
            return
        except Exception as exc:  # a bug: say so in one line, keep watching
            self.emit(f"failed: internal error: {exc!r}")
            self._schedule(started)
            return
        for _, line in report.summary(with_problems=False):
            self.emit(line)
        self._schedule(started)
        if self.publish_enabled:
            self._publish()

    def _schedule(self, since: datetime) -> None:
        """Find the next episode dated after ``since`` (when the last build started)."""
        from pipeline.show import load_project

        try:
            project = load_project(self.root)
        except KindcastError:
            self.next_due = None
            return
        now = since
        upcoming = sorted((ep.meta.date, ep.slug) for ep in project.episodes if ep.meta.date > now)
        due = upcoming[0] if upcoming else None
        if due and due != self.next_due:
            self.emit(f"next: {due[1]} is scheduled for {due[0].isoformat()}")
        self.next_due = due

    def _publish(self) -> None:
        from pipeline.publish.publisher import publish_show

        try:
            report = publish_show(self.root, to=self.to)
        except ValidationFailed as exc:
            for problem in exc.problems:
                self.emit(f"publish failed: {problem}")
            self._retry_later()
            return
        except KindcastError as exc:
            self.emit(f"publish failed: {exc}")
            self._retry_later()
            return
        except Exception as exc:
            self.emit(f"publish failed: internal error: {exc!r}")
            self._retry_later()
            return
        self.emit(publish_line(report))
        for key, why in report.notify_failed:
            self.emit(f"notify failed: {key}: {why}")
        self.retry_at = None
        self.retry_wait = RETRY_FIRST
        if report.notify_failed:
            self._retry_later()

    def _retry_later(self) -> None:
        self.retry_at = time.monotonic() + self.retry_wait
        self.emit(f"retrying the publish in {self.retry_wait:g} s")
        self.retry_wait = min(self.retry_wait * 2, RETRY_MAX)


def publish_line(report) -> str:
    from pipeline.publish.publisher import human_size

    if not report.uploads and not report.deletions:
        text = f"published: {report.destination} is up to date"
    else:
        text = (f"published to {report.destination}: {len(report.uploads)} uploaded "
                f"({human_size(report.uploaded_bytes)}), {len(report.deletions)} deleted, {report.unchanged} unchanged")
    if report.notified:
        text += f"; notified {', '.join(report.notified)}"
    return text
