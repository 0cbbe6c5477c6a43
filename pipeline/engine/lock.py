"""One build at a time per show: an exclusive lock on ``.kindcast/lock``, released by the kernel when the process
ends (however it ends), so a killed build never leaves a stale lock. A second build stops at once with one line."""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from pipeline.errors import KindcastError

LOCK_FILE = "lock"


class ShowLock:
    def __init__(self, state_dir: Path, what: str = "build"):
        self.path = Path(state_dir) / LOCK_FILE
        self.what = what
        self.fd: int | None = None

    def __enter__(self) -> "ShowLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "another kindcast process"
            os.close(fd)
            raise KindcastError(f"another kindcast command is working on this show ({holder}); wait for it to "
                                "finish, then run this again") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{self.what}, pid {os.getpid()}, since {time.strftime('%H:%M:%S')}".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock
            self.fd = None
