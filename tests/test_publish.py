"""kindcast publish against real destinations on this machine: a folder, an S3 API server (moto) and an SFTP server
(asyncssh) on 127.0.0.1, with a local HTTP server recording the notifications. One show is built per module; tests
that change it work on a copy (copies keep mtimes, so the copy's build state stays fresh)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from conftest import kindcast, make_show, synth, write_episode
from servers import notification_server

FEED_URL = "https://example.org/podcast/feed.xml"
LOCK = ".kindcast-publish.lock"
PREFIX = "https://op3.dev/e/"


def tree(folder: Path, skip_dot: bool = True) -> dict[str, str]:
    """relative path -> sha256 of every file under ``folder`` (dot files left out)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_file() and not (skip_dot and any(p.startswith(".") for p in rel.split("/"))):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def set_publish(root: Path, **fields) -> None:
    path = root / "episodes" / "show.yaml"
    data = yaml.safe_load(path.read_text())
    data.setdefault("publish", {}).update(fields)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def retitle(root: Path, slug: str, title: str) -> None:
    path = root / "episodes" / slug / "episode.md"
    path.write_text(re.sub(r"(?m)^title: .*$", f"title: {title}", path.read_text()))


def uploaded(proc) -> list[str]:
    return re.findall(r"(?m)^uploaded (\S+)", proc.stdout)


@pytest.fixture(scope="module")
def hub():
    with notification_server() as server:
        yield server


@pytest.fixture(scope="module")
def built(tmp_path_factory, hub) -> Path:
    """A built show of two 12 s episodes, announcing two hubs, Podcast Index and podping (all on the recorder),
    with an analytics prefix."""
    base, received, failing = hub
    root = make_show(tmp_path_factory.mktemp("pub") / "show")
    set_publish(root, websub=[f"{base}/hub1", f"{base}/hub2"], podcastindex=f"{base}/pubnotify",
                podping=f"{base}/podping", analytics_prefix=PREFIX)
    audio = synth(root.parent / "raw" / "tone.wav", "sine=f=330:sample_rate=22050", 12)
    write_episode(root, "ep-one", {"title": "One", "date": "2026-01-01", "guid": "g-one", "number": 1}, audio)
    write_episode(root, "ep-two", {"title": "Two", "date": "2026-01-02", "guid": "g-two", "number": 2}, audio)
    kindcast("build", "--root", root, check=True)
    return root


@pytest.fixture
def show(built, tmp_path, hub) -> Path:
    """A private copy of the built show."""
    hub[1].clear()
    hub[2].clear()
    copy = tmp_path / "show"
    shutil.copytree(built, copy, symlinks=True)
    return copy


def test_feed_announces_hubs_podping_and_prefixes_enclosures(built, hub):
    feed = (built / "feeds" / "feed.xml").read_text()
    base = hub[0]
    for name in ("hub1", "hub2"):
        assert re.search(rf'<atom:link [^>]*href="{re.escape(base)}/{name}"[^>]*rel="hub"|'
                         rf'<atom:link [^>]*rel="hub"[^>]*href="{re.escape(base)}/{name}"', feed)
    assert re.search(r'<podcast:podping usesPodping="true"\s*/>', feed)
    enclosures = re.findall(r'<enclosure url="([^"]+)"', feed)
    assert enclosures == [f"{PREFIX}example.org/podcast/episodes/ep-two/ep-two.mp3",
                          f"{PREFIX}example.org/podcast/episodes/ep-one/ep-one.mp3"]


def test_publish_to_a_folder_copies_the_tree_feed_last_and_nothing_twice(show, tmp_path, hub):
    dest = tmp_path / "www"
    first = kindcast("publish", "--to", dest, "--no-notify", "--root", show, check=True)
    assert tree(dest) == tree(show / "feeds")
    sent = uploaded(first)
    assert sorted(sent) == sorted(tree(show / "feeds"))
    assert sent[-1] == "feed.xml"
    assert sent.index("episodes/ep-one/ep-one.mp3") < sent.index("episodes/ep-one/notes.html")
    assert (dest / ".kindcast-manifest.json").is_file()
    stamps = {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()}

    second = kindcast("publish", "--to", dest, "--no-notify", "--root", show, check=True)
    assert uploaded(second) == []
    assert "0 uploaded" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*") if p.is_file()} == stamps
    assert hub[1] == []  # --no-notify


def test_two_machines_never_publish_to_one_destination_at_once(show, tmp_path):
    """A second copy of the show (another machine) publishing while the first is at it is refused with a message
    naming the first; once the first is done it finds everything there. A lock left 7 hours ago by a publish that was
    killed is taken over."""
    dest = tmp_path / "www"
    other = tmp_path / "laptop" / "show"
    shutil.copytree(show, other, symlinks=True)
    marker = tmp_path / "paused"
    env = {**os.environ, "KINDCAST_PAUSE_AT": "publish:locked", "KINDCAST_PAUSE_FILE": str(marker)}
    first = subprocess.Popen([sys.executable, "-m", "pipeline", "publish", "--to", str(dest), "--no-notify", "--root",
                              str(show)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists()
    assert json.loads((dest / LOCK).read_text())["pid"] == first.pid

    second = kindcast("publish", "--to", dest, "--no-notify", "--root", other)
    assert second.returncode == 1 and "Traceback" not in second.stderr
    assert "another publish is writing there: " in second.stderr and f"(process {first.pid})" in second.stderr
    assert uploaded(second) == [] and tree(dest) == {}
    marker.unlink()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert not (dest / LOCK).exists() and tree(dest) == tree(show / "feeds")
    third = kindcast("publish", "--to", dest, "--no-notify", "--root", other, check=True)
    assert uploaded(third) == []

    started = (datetime.now(timezone.utc) - timedelta(hours=7)).isoformat()
    (dest / LOCK).write_text(json.dumps({"host": "old-laptop", "pid": 1, "started": started, "token": "t"}))
    fourth = kindcast("publish", "--to", dest, "--no-notify", "--root", other, check=True)
    assert "taking over the lock of a publish from old-laptop" in fourth.stdout + fourth.stderr
    assert not (dest / LOCK).exists()

    (dest / LOCK).write_text("\x1b[2J not a lock")  # unreadable: held (a publish writing it this very moment)
    fifth = kindcast("publish", "--to", dest, "--no-notify", "--root", other)
    assert fifth.returncode == 1 and "Traceback" not in fifth.stderr and "\x1b" not in fifth.stderr
    assert "another publish is writing there: a publish that has only just begun" in fifth.stderr
    assert f"delete {LOCK} there" in fifth.stderr


def test_dry_run_lists_changes_and_sends_nothing(show, tmp_path, hub):
    dest = tmp_path / "www"
    proc = kindcast("publish", "--to", dest, "--dry-run", "--root", show, check=True)
    listed = re.findall(r"(?m)^would upload (\S+) \(new", proc.stdout)
    assert sorted(listed) == sorted(tree(show / "feeds")) and listed[-1] == "feed.xml"
    assert f"would notify websub {hub[0]}/hub1" in proc.stdout
    assert not dest.exists()
    assert hub[1] == []


def test_removed_episode_is_deleted_after_the_new_feed(show, tmp_path):
    dest = tmp_path / "www"
    kindcast("publish", "--to", dest, "--no-notify", "--root", show, check=True)
    shutil.rmtree(show / "episodes" / "ep-two")
    kindcast("build", "--root", show, check=True)
    proc = kindcast("publish", "--to", dest, "--no-notify", "--root", show, check=True)
    lines = proc.stdout.splitlines()
    deleted = [i for i, line in enumerate(lines) if line.startswith("deleted episodes/ep-two/")]
    feed = [i for i, line in enumerate(lines) if line.startswith("uploaded feed.xml")]
    assert deleted and feed and feed[0] < min(deleted)
    assert not (dest / "episodes" / "ep-two").exists()
    assert tree(dest) == tree(show / "feeds")


def test_an_inconsistent_tree_is_refused(show, tmp_path):
    dest = tmp_path / "www"
    mp3 = show / "feeds" / "episodes" / "ep-one" / "ep-one.mp3"
    mp3.write_bytes(mp3.read_bytes()[:-100])
    (show / "feeds" / "episodes" / "ep-two" / ".notes.tmp4242.html").write_text("half")
    proc = kindcast("publish", "--to", dest, "--root", show)
    assert proc.returncode == 1
    assert re.search(r"feed\.xml: enclosure episodes/ep-one/ep-one\.mp3: .*announces \d+ bytes", proc.stderr)
    assert "episodes/ep-two/.notes.tmp4242.html: a temporary file" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not dest.exists()


def test_after_a_retitle_publish_pings_every_hub_and_retries_a_failed_one(show, tmp_path, hub, monkeypatch):
    base, received, failing = hub
    dest = tmp_path / "www"
    monkeypatch.setenv("PODPING_TOKEN", "test-token")

    def publish(expect: int = 0):
        proc = kindcast("publish", "--to", dest, "--root", show)
        assert proc.returncode == expect, proc.stdout + proc.stderr
        return proc

    def pings() -> dict[str, list]:
        found: dict[str, list] = {}
        for r in received:
            found.setdefault(r.path, []).append(r)
        received.clear()
        return found

    publish()
    first = pings()
    assert sorted(first) == ["/hub1", "/hub2", "/podping", "/pubnotify"]
    for name in ("/hub1", "/hub2"):
        (req,) = first[name]
        assert req.method == "POST" and req.form == {"hub.mode": "publish", "hub.url": FEED_URL}
    (pi,) = first["/pubnotify"]
    assert pi.method == "GET" and pi.query == {"url": FEED_URL}
    (pp,) = first["/podping"]
    assert pp.query["url"] == FEED_URL and pp.headers.get("Authorization") == "test-token"

    publish()
    assert pings() == {}  # the feed did not change: nobody is told

    retitle(show, "ep-one", "One, retitled")
    kindcast("build", "--root", show, check=True)
    failing.add("/hub2")
    proc = publish(expect=1)
    assert "uploaded feed.xml" in proc.stdout
    assert re.search(rf"(?m)^notify failed: websub {re.escape(base)}/hub2: HTTP 500", proc.stderr)
    assert sorted(pings()) == ["/hub1", "/hub2", "/podping", "/pubnotify"]
    assert "One, retitled" in (dest / "feed.xml").read_text()  # the failed ping undid nothing

    failing.clear()
    proc = publish()
    assert uploaded(proc) == []
    again = pings()
    assert sorted(again) == ["/hub2"] and again["/hub2"][0].form["hub.url"] == FEED_URL


def test_publish_to_s3(show, monkeypatch):
    pytest.importorskip("moto", reason="moto (a test extra) runs the S3 API server")
    import boto3

    from servers import s3_server

    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "kindcast-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "kindcast-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with s3_server() as (endpoint, log):
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.create_bucket(Bucket="podcast")
        set_publish(show, to="s3://podcast/shows/test/", endpoint_url=endpoint)
        kindcast("publish", "--no-notify", "--root", show, check=True)
        local = tree(show / "feeds")
        keys = {}
        for obj in s3.list_objects_v2(Bucket="podcast", Prefix="shows/test/")["Contents"]:
            keys[obj["Key"].removeprefix("shows/test/")] = obj["Key"]
        assert set(keys) == set(local) | {".kindcast-manifest.json"}
        for rel, digest in local.items():
            body = s3.get_object(Bucket="podcast", Key=keys[rel])["Body"].read()
            assert hashlib.sha256(body).hexdigest() == digest, rel

        def head(rel):
            h = s3.head_object(Bucket="podcast", Key=f"shows/test/{rel}")
            return h["ContentType"], h.get("CacheControl")

        assert head("feed.xml") == ("application/rss+xml; charset=utf-8", "public, max-age=300")
        assert head("episodes/ep-one/ep-one.mp3") == ("audio/mpeg", "public, max-age=604800")
        assert head("episodes/ep-one/notes.html")[0].startswith("text/html")
        assert head("episodes/ep-one/transcript.vtt")[0].startswith("text/vtt")
        assert head("episodes/ep-one/transcript.srt")[0] == "application/x-subrip"
        assert head("episodes/ep-one/transcript.json")[0] == "application/json"
        written = [k.removeprefix("shows/test/") for k in log.puts("podcast")]
        assert written[0] == LOCK  # taken first, and gone at the end (the listing above)
        files = [k for k in written if k not in (".kindcast-manifest.json", LOCK)]
        assert sorted(files) == sorted(local) and files[-1] == "feed.xml"

        log.lines.clear()
        second = kindcast("publish", "--no-notify", "--root", show, check=True)
        assert uploaded(second) == [] and log.puts("podcast") == [f"shows/test/{LOCK}"]

        # another machine's publish holds the bucket: a conditional write (If-None-Match) keeps this one out
        s3.put_object(Bucket="podcast", Key=f"shows/test/{LOCK}", Body=json.dumps(
            {"host": "studio-mac", "pid": 4242, "started": datetime.now(timezone.utc).isoformat(), "token": "t"}))
        held = kindcast("publish", "--no-notify", "--root", show)
        assert held.returncode == 1 and "Traceback" not in held.stderr
        assert "another publish is writing there: studio-mac (process 4242)" in held.stderr
        s3.delete_object(Bucket="podcast", Key=f"shows/test/{LOCK}")

        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        monkeypatch.setenv("HOME", str(show))  # no ~/.aws either
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # and no instance-metadata lookups off this machine
        proc = kindcast("publish", "--no-notify", "--root", show)
        assert proc.returncode == 1
        assert "no AWS credentials found" in proc.stderr and "Traceback" not in proc.stderr


def test_publish_over_sftp_resumes_after_an_interruption(show, tmp_path, monkeypatch):
    from servers import sftp_server

    with sftp_server(tmp_path) as server:
        monkeypatch.setenv("HOME", str(server.home))
        monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
        # podhost: ~/.ssh/config gives the address, port and user; the key is ~/.ssh/id_ed25519
        set_publish(show, to="sftp://podhost/srv/podcast")
        remote = server.root / "srv" / "podcast"
        # The server takes five files (the publish lock, then two recordings, each followed by the manifest), then
        # fails the sixth half-way, like a full disk.
        server.budget["files"] = 5
        broken = kindcast("publish", "--no-notify", "--root", show)
        assert broken.returncode == 1 and "disk full" in broken.stderr and "Traceback" not in broken.stderr
        first = uploaded(broken)
        assert first == ["episodes/ep-one/ep-one.mp3", "episodes/ep-two/ep-two.mp3"]
        assert not (remote / "feed.xml").exists()
        assert any(p.name.startswith(".kindcast-upload-") for p in remote.rglob("*"))
        assert not (remote / LOCK).exists()  # released although the publish failed

        server.budget["files"] = None
        resumed = kindcast("publish", "--no-notify", "--root", show, check=True)
        again = uploaded(resumed)
        local = tree(show / "feeds")
        assert sorted(first + again) == sorted(local)  # nothing sent twice
        assert again[-1] == "feed.xml"
        assert re.search(r"\d+ temporary file\(s\) of an interrupted publish removed", resumed.stdout)
        assert tree(remote) == local
        assert not any(p.name.startswith(".kindcast-upload-") for p in remote.rglob("*"))

        third = kindcast("publish", "--no-notify", "--root", show, check=True)
        assert uploaded(third) == []


def test_check_names_file_and_field_of_bad_publish_settings(tmp_path):
    root = make_show(tmp_path / "show")
    set_publish(root, to="ftp://example.org/pod", endpoint_url="r2.example.com", websub=["hub.example.org"],
                podcastindex="yes please", analytics_prefix="javascript:alert(1)")
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    fields = {"publish.to": "unknown destination scheme 'ftp://'", "publish.endpoint_url": "http(s) address",
              "publish.websub[0]": "http(s) address", "publish.podcastindex": "http(s) address",
              "publish.analytics_prefix": "http(s) address"}
    for name, text in fields.items():
        assert any(line.startswith(f"error: episodes/show.yaml: {name}: ") and text in line for line in errors), name
    assert "Traceback" not in proc.stderr

    set_publish(root, to="sftp://me:secret@host/srv", endpoint_url=None, websub=[], podcastindex=True,
                analytics_prefix=None)
    proc = kindcast("check", "--root", root)
    assert "error: episodes/show.yaml: publish.to: no passwords in show.yaml" in proc.stderr


def test_check_warns_when_podping_is_on_without_its_token(tmp_path, monkeypatch):
    root = make_show(tmp_path / "show")
    set_publish(root, podping=True)
    monkeypatch.delenv("PODPING_TOKEN", raising=False)
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 0, proc.stderr
    assert "warning: episodes/show.yaml: publish.podping: on, but PODPING_TOKEN is not set here" in proc.stderr
    monkeypatch.setenv("PODPING_TOKEN", "abc123")
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 0 and "podping" not in proc.stderr, proc.stderr


def test_publish_refuses_a_missing_or_unsafe_destination(show):
    cases = {
        (): "no destination: give --to DEST or set publish.to",
        ("--to", "ftp://example.org/pod"): "unknown destination scheme 'ftp://'",
        ("--to", show / "feeds" / "copy"): "overlaps the built tree",
        ("--to", show / "episodes" / "www"): "inside episodes/",
    }
    for args, message in cases.items():
        proc = kindcast("publish", *args, "--root", show)
        assert proc.returncode == 1 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert not (show / "feeds" / "copy").exists() and not (show / "episodes" / "www").exists()
