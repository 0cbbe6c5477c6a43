"""Processes and cores. Child processes die with kindcast: ffmpeg and worker processes are told by the kernel to stop
when the process that started them dies (Linux ``PR_SET_PDEATHSIG``), so a build that is killed, even with SIGKILL,
leaves no orphan behind to finish writing a file (elsewhere this is a no-op; Ctrl-C still reaches the whole process
group). And the CPU budget: how many threads the work of this process may use."""
from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def _load_prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()  # looked up once, so that the call after fork runs no import


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies. Safe to call in a ``preexec_fn``."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))


def ignores_ctrl_c() -> bool:
    """Was this process started with SIGINT ignored, as a shell starts a job in the background (`cmd &`) when it has
    no job control? Such a process and what it starts must not die of a Ctrl-C meant for the foreground job."""
    return signal.getsignal(signal.SIGINT) is signal.SIG_IGN


_budget = 0


def set_cpu_budget(threads: int) -> None:
    """How many CPU threads the work in this process may use (``--jobs N`` splits the machine's cores between its
    workers); 0: all the cores this process may run on."""
    global _budget
    _budget = max(0, int(threads))


def cpu_budget() -> int:
    if _budget:
        return _budget
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
