"""``kindcast serve``: a real server on 127.0.0.1 answering real HTTP requests (urllib), byte ranges included, and a
real browser seeking in a real MP3 through it."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import make_show, synth
from pipeline.web.preview import Unsatisfiable, byte_range, make_server


@pytest.mark.parametrize("header,expected", [
    ("bytes=0-99", (0, 99)),
    ("bytes=100-", (100, 999)),
    ("bytes=-100", (900, 999)),
    ("bytes=-5000", (0, 999)),  # more than the file: all of it
    ("bytes=990-5000", (990, 999)),  # past the end: up to the end
    ("bytes=999-999", (999, 999)),
    ("BYTES = 5 - 9", (5, 9)),
    (None, None), ("", None),
    ("bytes=9-5", None),  # not a valid range: ignored, the whole file
    ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ("items=0-5", None), ("bytes=-", None), ("bytes=a-b", None),
])
def test_byte_range(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(Unsatisfiable):
        byte_range(header, 1000)
    with pytest.raises(Unsatisfiable):
        byte_range("bytes=-10", 0)  # an empty file has no last bytes


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("feeds")
    synth(folder / "episodes" / "ep" / "ep.mp3", "sine=f=440:sample_rate=44100", 30, "-c:a", "libmp3lame",
          "-b:a", "64k")
    (folder / "index.html").write_text("<!doctype html><title>Preview</title><p>Hello</p>\n")
    return folder


@pytest.fixture(scope="module")
def server(site):
    httpd = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def get(url: str, method: str = "GET", **headers: str):
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_whole_file_says_it_accepts_ranges(server, site):
    data = (site / "episodes/ep/ep.mp3").read_bytes()
    status, headers, body = get(server + "/episodes/ep/ep.mp3")
    assert (status, body) == (200, data)
    assert headers["Accept-Ranges"] == "bytes" and headers["Content-Length"] == str(len(data))
    assert headers["Content-type"] == "audio/mpeg" and "Content-Range" not in headers


@pytest.mark.parametrize("header,part", [
    ("bytes=100-199", slice(100, 200)),
    ("bytes=0-0", slice(0, 1)),
    ("bytes=200000-", slice(200000, None)),
    ("bytes=-4096", slice(-4096, None)),
    ("bytes=1000-99999999", slice(1000, None)),
])
def test_a_range_is_answered_with_206(server, site, header, part):
    data = (site / "episodes/ep/ep.mp3").read_bytes()
    status, headers, body = get(server + "/episodes/ep/ep.mp3", Range=header)
    expected = data[part]
    first = part.start if part.start >= 0 else len(data) + part.start
    assert status == 206 and body == expected
    assert headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{len(data)}"
    assert headers["Content-Length"] == str(len(expected)) and headers["Accept-Ranges"] == "bytes"


@pytest.mark.parametrize("header", ["bytes=99999999-", "bytes=-0"])
def test_a_range_past_the_end_is_416(server, site, header):
    size = (site / "episodes/ep/ep.mp3").stat().st_size
    status, headers, body = get(server + "/episodes/ep/ep.mp3", Range=header)
    assert (status, body) == (416, b"") and headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=500-100", "bytes=0-10,20-30", "lines=1-2"])
def test_ranges_that_cannot_be_served_as_one_part_get_the_whole_file(server, site, header):
    status, _, body = get(server + "/episodes/ep/ep.mp3", Range=header)
    assert (status, body) == (200, (site / "episodes/ep/ep.mp3").read_bytes())


def test_head_if_range_folders_and_missing_files(server, site):
    status, headers, body = get(server + "/episodes/ep/ep.mp3", "HEAD", Range="bytes=10-19")
    assert (status, body, headers["Content-Length"]) == (206, b"", "10")
    _, whole, _ = get(server + "/episodes/ep/ep.mp3", "HEAD")
    status, _, body = get(server + "/episodes/ep/ep.mp3", Range="bytes=10-19", **{"If-Range": whole["Last-Modified"]})
    assert (status, len(body)) == (206, 10)
    status, _, body = get(server + "/episodes/ep/ep.mp3", Range="bytes=10-19",
                          **{"If-Range": "Mon, 01 Jan 2001 00:00:00 GMT"})  # another version: the whole file
    assert status == 200 and len(body) == (site / "episodes/ep/ep.mp3").stat().st_size
    status, _, body = get(server + "/")
    assert status == 200 and b"<title>Preview</title>" in body
    assert get(server + "/episodes/ep/missing.mp3")[0] == 404
    status, _, body = get(server + "/index.html", Range="bytes=0-14")
    assert (status, body) == (206, b"<!doctype html>")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_kindcast_serve_listens_on_127_0_0_1_and_answers_ranges(tmp_path):
    root = make_show(tmp_path / "show")
    feeds = root / "feeds"
    (feeds / "episodes").mkdir(parents=True)
    (feeds / "index.html").write_text("<p>0123456789</p>")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve", "--root", str(root), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"serving {feeds} at http://127.0.0.1:{port}/ (Ctrl-C to stop)", line
        status, headers, body = get(f"http://127.0.0.1:{port}/index.html", Range="bytes=3-12")
        assert (status, body, headers["Content-Range"]) == (206, b"0123456789", "bytes 3-12/17")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    proc2 = subprocess.run([sys.executable, "-m", "pipeline", "serve", "--root", str(tmp_path / "nothing")],
                           capture_output=True, text=True, timeout=60)
    assert proc2.returncode == 1 and "Traceback" not in proc2.stderr
    assert proc2.stderr.strip().endswith("nothing built yet; run kindcast build first")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

SEEK_PAGE = """<!doctype html><title>seek</title><audio id="a" preload="auto" src="episodes/ep/ep.mp3"></audio>
<pre id="out">waiting</pre>
<script>
const a = document.getElementById("a"), out = document.getElementById("out");
a.addEventListener("loadedmetadata", () => { a.currentTime = 21.5; });
a.addEventListener("seeked", () => {
  const s = a.seekable;
  out.textContent = "seeked " + a.currentTime.toFixed(2) + " seekable " + (s.length ? s.end(s.length - 1).toFixed(1) : "none");
});
a.addEventListener("error", () => { out.textContent = "error " + (a.error && a.error.code); });
</script>
"""


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_chromium_seeks_in_the_served_audio(server, site, tmp_path):
    (site / "seek.html").write_text(SEEK_PAGE)
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
                           server + "/seek.html"], capture_output=True, text=True, timeout=120)
    match = re.search(r"seeked (\d+\.\d+) seekable ([\d.]+|none)", proc.stdout)
    assert match, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert abs(float(match.group(1)) - 21.5) < 0.1  # the player got there
    assert abs(float(match.group(2)) - 30.0) < 0.5  # and may go anywhere in the file
