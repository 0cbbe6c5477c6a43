"""kindcast watch in real time: a recording copied in slowly is built once (after it stops growing) and published; a
broken one is reported and the watch goes on; a scheduled episode goes out when its time comes; Ctrl-C ends it."""
from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from conftest import kindcast, make_show, synth, write_episode


class Watch:
    """``kindcast watch`` in its own process, its output read line by line as it comes."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline", "watch", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"watch ended before '{prefix}':\n" + "\n".join(self.lines))
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no '{prefix}' within {timeout} s:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(30)
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def grow(src: Path, dest: Path, chunk: int = 48_000, pause: float = 0.2) -> None:
    """Copy ``src`` to ``dest`` a chunk at a time, as over a slow link."""
    data = src.read_bytes()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "wb") as fh:
        for i in range(0, len(data), chunk):
            fh.write(data[i:i + chunk])
            fh.flush()
            time.sleep(pause)


@pytest.mark.slow
def test_watch_builds_a_dropped_recording_once_publishes_and_survives_a_bad_one(tmp_path):
    root = make_show(tmp_path / "show")
    show_yaml = root / "episodes" / "show.yaml"
    data = yaml.safe_load(show_yaml.read_text())
    data["publish"] = {"to": str(tmp_path / "www")}
    show_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    tone = synth(tmp_path / "raw" / "talk.wav", "sine=f=250:sample_rate=22050", 12)

    watch = Watch("--root", root, "--publish", "--settle", "3")
    try:
        watch.wait_for("watching")
        watch.wait_for("published")  # the catch-up build and publish at start
        write_episode(root, "ep-new", {"title": "New", "date": "2026-01-01", "guid": "g-new", "number": 1})
        started = time.monotonic()
        grow(tone, root / "episodes" / "ep-new" / "talk.wav")  # about 2 s of growing, pauses well under --settle
        grew = time.monotonic() - started
        built = watch.wait_for("built: ep-new")
        assert "master" in built
        watch.wait_for("published")
        feed = (tmp_path / "www" / "feed.xml").read_text()
        assert "ep-new.mp3" in feed
        builds = [line for line in watch.lines if line.startswith("built: ep-new")]
        assert len(builds) == 1, "\n".join(watch.lines)  # one build, after the recording stopped growing

        write_episode(root, "ep-bad", {"title": "Bad", "date": "2026-01-02", "guid": "g-bad", "number": 2})
        (root / "episodes" / "ep-bad" / "talk.wav").write_bytes(b"RIFF not really a wave file" * 100)
        watch.wait_for("skipped: ep-bad")
        # still watching: a later change to the good episode is built again
        ep = root / "episodes" / "ep-new" / "episode.md"
        ep.write_text(ep.read_text().replace("title: New", "title: New, retitled"))
        watch.wait_for("built: ep-new")
        watch.wait_for("published")
        assert "New, retitled" in (tmp_path / "www" / "feed.xml").read_text()
        code = watch.stop()
    finally:
        watch.kill()
    assert code == 0, watch.lines
    assert watch.lines[-1] == "stopped"
    assert grew > 1.5  # it really grew for a while
    assert not any("Traceback" in line for line in watch.lines)


@pytest.mark.slow
def test_watch_wakes_for_a_scheduled_episode(tmp_path):
    root = make_show(tmp_path / "show")
    show_yaml = root / "episodes" / "show.yaml"
    data = yaml.safe_load(show_yaml.read_text())
    data["publish"] = {"to": str(tmp_path / "www")}
    show_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    tone = synth(tmp_path / "raw" / "talk.wav", "sine=f=250:sample_rate=22050", 12)
    # A zone where today has a while to go, so moving the time within the day does not re-master (the ID3 date
    # is the day alone) and only the feed and pages are rebuilt.
    zone_name = next(name for name in ("America/New_York", "Asia/Tokyo")
                     if datetime.now(ZoneInfo(name)).hour < 23)
    zone = ZoneInfo(zone_name)
    today = datetime.now(zone).strftime("%Y-%m-%d")
    write_episode(root, "ep-soon", {"title": "Soon", "date": f"{today} 23:59:59 {zone_name}", "guid": "g-soon",
                                    "number": 1}, tone)
    kindcast("build", "--root", root, check=True)
    assert "ep-soon" not in (root / "feeds" / "feed.xml").read_text()
    due = datetime.now(zone).replace(microsecond=0) + timedelta(seconds=12)
    md = root / "episodes" / "ep-soon" / "episode.md"
    md.write_text(md.read_text().replace(f"{today} 23:59:59", due.strftime("%Y-%m-%d %H:%M:%S")))

    watch = Watch("--root", root, "--publish", "--settle", "1")
    try:
        watch.wait_for("next: ep-soon")
        watch.wait_for("published")
        assert "ep-soon" not in (tmp_path / "www" / "feed.xml").read_text()
        watch.wait_for("due: ep-soon", timeout=60)
        assert datetime.now(zone) >= due
        watch.wait_for("built: show")
        watch.wait_for("published")
        assert "ep-soon.mp3" in (tmp_path / "www" / "feed.xml").read_text()
        code = watch.stop()
    finally:
        watch.kill()
    assert code == 0 and watch.lines[-1] == "stopped", watch.lines
    assert not any(line.startswith("built: ep-soon") and "master" in line for line in watch.lines)
