"""Deterministic kill points for the reliability tests: the build is killed at a named moment, not after a sleep.

Set ``KINDCAST_KILL_AT=<point>[#n]`` (the n-th time the point is reached, default the first) and the process that
reaches it is killed with SIGKILL on the spot, as an out-of-memory killer or a power cut would. ``KINDCAST_KILL=parent``
kills the process that started it instead (a worker kills the build); ``KINDCAST_KILL_ONCE=<path>`` lets only the
first process to get there die (it creates the file), so of two workers only one is killed. Points are named
``<stage>:start`` (before a stage runs), ``<stage>:written`` (its outputs written, its state not yet recorded),
``commit:half`` (an episode's files half moved into the published tree), ``ffmpeg:started``, ``show:<stage>:start``.
``KINDCAST_PAUSE_AT=<point>`` with ``KINDCAST_PAUSE_FILE=<path>`` instead makes the process create that file when it
reaches the point and wait (up to a minute) until the file is removed: a test can act while a build is at a known
moment (e.g. start a second build while the first holds the show). Unset, :func:`checkpoint` costs one dictionary
lookup.
"""
from __future__ import annotations

import os
import signal

_counts: dict[str, int] = {}


def checkpoint(point: str) -> None:
    if os.environ.get("KINDCAST_PAUSE_AT") == point:
        _pause(os.environ["KINDCAST_PAUSE_FILE"])
    target = os.environ.get("KINDCAST_KILL_AT")
    if not target:
        return
    name, _, nth = target.partition("#")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] != int(nth or 1):
        return
    once = os.environ.get("KINDCAST_KILL_ONCE")
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    victim = os.getppid() if os.environ.get("KINDCAST_KILL") == "parent" else os.getpid()
    os.kill(victim, signal.SIGKILL)
    if victim == os.getpid():  # pragma: no cover - SIGKILL does not return
        os._exit(137)


def _pause(marker: str) -> None:
    import time
    from pathlib import Path

    path = Path(marker)
    path.write_text(str(os.getpid()))
    deadline = time.monotonic() + 60
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
