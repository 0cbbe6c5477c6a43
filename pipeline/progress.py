"""Progress for long work: rich bars on a terminal, plain lines otherwise (logs, CI, tests)."""
from __future__ import annotations

import sys


class Reporter:
    """Receives build events ``(kind, unit, ...)`` from any executor and shows them."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.progress = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "Reporter":
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                     TimeElapsedColumn(), console=Console(file=self.stream), transient=True)
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "plan":
            return
        unit = event[1]
        if self.progress is None:
            if kind == "start":
                print(f"{unit}: {event[2]} ({event[3]})", file=self.stream, flush=True)
            return
        if kind == "start":
            desc = f"{unit}: {event[2]}"
            if unit in self.tasks:
                self.progress.update(self.tasks[unit], description=desc, completed=0)
            else:
                self.tasks[unit] = self.progress.add_task(desc, total=1.0)
        elif kind == "progress" and unit in self.tasks:
            self.progress.update(self.tasks[unit], completed=event[3])
        elif kind in ("done", "failed") and unit in self.tasks:
            self.progress.update(self.tasks[unit], completed=1.0)
