"""Shared test helpers: real files, real ffmpeg, the real CLI.

``make_show`` writes a small show (show.yaml, artwork, episode folders) into a temporary folder; ``kindcast`` runs
the real command line in a subprocess; ``SPEECH`` is the shared folder of real speech recordings.
"""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]

# The commands the tests start must take Ctrl-C as they do in a terminal. A suite started in the background by a
# non-interactive shell (`cmd &`, nohup) inherits SIGINT ignored, and an ignored signal stays ignored across exec, so
# `kindcast watch` and `build` would rightly ignore the SIGINT the tests send them, as background jobs should.
signal.signal(signal.SIGINT, signal.default_int_handler)
SPEECH = REPO.parent / "shared" / "speech"
needs_speech = pytest.mark.skipif(not SPEECH.is_dir(), reason="needs ../shared/speech (real recordings: a fresh clone "
                                  "has none; CI has it)")


def speech_source() -> Path:
    """A long recording of speech for tests that only need speech of some kind: LJSpeech from ../shared when it is
    there, else an interview made once per machine by scripts/make_interview.py (espeak-ng; skipped without it)."""
    import shutil
    import tempfile

    lj = SPEECH / "ljspeech_LJ001-0001_to_0032.16k.flac"
    if lj.is_file():
        return lj
    made = Path(tempfile.gettempdir()) / "kindcast-test-speech" / "dev2.wav"
    if not made.is_file():
        if shutil.which("espeak-ng") is None:
            pytest.skip("needs ../shared/speech or espeak-ng to have speech to work on")
        made.parent.mkdir(parents=True, exist_ok=True)
        part = made.with_name("part.wav")
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_interview.py"), "dev2", str(part), "--quiet-lu",
                        "0", "--snr", "45", "--lufs", "-21", "--gap", "0.3", "0.6"], check=True, capture_output=True)
        part.replace(made)
    return made


def ffmpeg_exe() -> str:
    from pipeline.media import ffmpeg_path

    return ffmpeg_path()


def synth(path: Path, lavfi: str, seconds: float, *extra: str) -> Path:
    """Make an audio file from ffmpeg's synthetic sources, e.g. ``synth(p, "sine=f=440", 5)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", lavfi,
                    "-t", str(seconds), *extra, str(path)], check=True)
    return path


def damage_file(src: Path, dst: Path, *, at: float = 0.5, nbytes: int = 4096, seed: int = 1) -> Path:
    """A copy of ``src`` with ``nbytes`` random bytes (from ``seed``, so always the same) written over it at the
    fraction ``at`` of its length: a damaged recording."""
    import random

    data = bytearray(Path(src).read_bytes())
    pos = int(len(data) * at)
    data[pos:pos + nbytes] = random.Random(seed).randbytes(min(nbytes, len(data) - pos))
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def cut_file(src: Path, dst: Path, keep: float) -> Path:
    """The first ``keep`` fraction of ``src``'s bytes: a truncated copy."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def make_artwork(path: Path, size: int = 1400, color=(180, 70, 60)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), color).save(path)
    return path


SHOW = {
    "title": "Test Show",
    "description": "A show made by the tests.",
    "author": "Test Author",
    "owner": {"name": "Test Owner", "email": "owner@example.org"},
    "language": "en",
    "category": "Society & Culture",
    "artwork": "artwork.png",
    "explicit": False,
    "base_url": "https://example.org/podcast/",
    "hosts": [{"name": "Hana Host", "role": "host"}],
}


def write_episode(root: Path, slug: str, front: dict, audio: Path | None = None, notes: str = "Notes.\n") -> Path:
    """An episode folder: ``episode.md`` from ``front`` (+ notes), and a copy of ``audio`` if given."""
    folder = root / "episodes" / slug
    folder.mkdir(parents=True, exist_ok=True)
    if audio is not None:
        import shutil

        shutil.copy2(audio, folder / Path(audio).name)
    (folder / "episode.md").write_text("---\n" + yaml.safe_dump(front, sort_keys=False) + "---\n" + notes)
    return folder


def make_show(root: Path, settings: dict | None = None, **show_fields) -> Path:
    """A valid show with no episodes yet; add them with ``write_episode``."""
    root.mkdir(parents=True, exist_ok=True)
    data = {**SHOW, **show_fields}
    if settings:
        data["settings"] = settings
    (root / "episodes").mkdir(exist_ok=True)
    (root / "episodes" / "show.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    make_artwork(root / "episodes" / data["artwork"])
    return root


def kindcast(*args: str, cwd: Path | None = None, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real command line, in its own process (``python -m pipeline``)."""
    proc = subprocess.run([sys.executable, "-m", "pipeline", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kindcast {' '.join(map(str, args))} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def show_root(tmp_path: Path) -> Path:
    return make_show(tmp_path / "show")


FEEDVALIDATOR = REPO.parent / "shared" / "tools" / "feedvalidator" / "validate.py"


def w3c_validate(feed: Path, self_url: str) -> subprocess.CompletedProcess:
    """The W3C Feed Validator (offline copy in ../shared/tools/feedvalidator/) on ``feed``; skips the test when
    ../shared is absent. Exit 0 means no errors; the output lists every error and warning."""
    if not FEEDVALIDATOR.is_file():
        pytest.skip("../shared/tools/feedvalidator is absent (the W3C Feed Validator's offline copy)")
    return subprocess.run([sys.executable, str(FEEDVALIDATOR), str(feed), self_url], capture_output=True, text=True,
                          timeout=120)
