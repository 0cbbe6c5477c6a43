"""The local published tree (``feeds/``): its files and their content hashes, what each is served as, the order
they go out in, and the consistency check that runs before anything is sent."""
from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from pipeline.web.feed import FEED_FILE

MANIFEST = ".kindcast-manifest.json"  # at the destination: what was published there, by content hash
TEMP_RE = re.compile(r"^\..+\.tmp\d+")  # fsutil.atomic_path's temporary names: a build is running or was killed

# Content-Type by suffix (text types carry their charset).
CONTENT_TYPES = {
    ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".mp4": "video/mp4",
    ".vtt": "text/vtt; charset=utf-8", ".srt": "application/x-subrip", ".json": "application/json",
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
    ".txt": "text/plain; charset=utf-8", ".md": "text/markdown; charset=utf-8", ".xml": "application/xml",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp", ".svg": "image/svg+xml",
}
FEED_TYPE = "application/rss+xml; charset=utf-8"
MEDIA = {".mp3", ".m4a", ".mp4"}
IMAGES = {".jpg", ".jpeg", ".png", ".webp", ".svg"}
PAGES = {".html", ".css", ".js"}
# Cache-Control: the feed and pages change often (short); media keeps its name and bytes once out (long); text
# files such as transcripts may be corrected (an hour).
CACHE_SHORT = "public, max-age=300"
CACHE_HOUR = "public, max-age=3600"
CACHE_LONG = "public, max-age=604800"
CACHE_NONE = "no-cache"


def content_type(rel: str) -> str:
    if rel == FEED_FILE:
        return FEED_TYPE
    return CONTENT_TYPES.get(PurePosixPath(rel).suffix.lower(), "application/octet-stream")


def cache_control(rel: str) -> str:
    suffix = PurePosixPath(rel).suffix.lower()
    if rel == FEED_FILE or suffix in PAGES:
        return CACHE_SHORT
    if suffix in MEDIA or suffix in IMAGES:
        return CACHE_LONG
    return CACHE_HOUR


def upload_rank(rel: str) -> int:
    """Upload order: media first, then images and text (transcripts, chapters), then pages, the feed last."""
    suffix = PurePosixPath(rel).suffix.lower()
    if rel == FEED_FILE:
        return 3
    if suffix in PAGES:
        return 2
    return 0 if suffix in MEDIA else 1


@dataclass(frozen=True)
class LocalFile:
    rel: str
    path: Path
    size: int
    sha256: str


def scan(out_dir: Path, cache_file: Path) -> tuple[dict[str, LocalFile], list[str]]:
    """Every file of the published tree with its content hash (hashes cached by size and mtime in ``cache_file``),
    and the temporary files found (which make the tree inconsistent). Dot files are not published."""
    from pipeline.fsutil import write_text
    from pipeline.engine.state import sha256_file

    try:
        cache = json.loads(Path(cache_file).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        cache = {}
    files: dict[str, LocalFile] = {}
    temporary: list[str] = []
    fresh: dict[str, list] = {}
    out_dir = Path(out_dir)
    for folder, dirs, names in os.walk(out_dir):
        rel_dir = os.path.relpath(folder, out_dir).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        temporary += [prefix + d for d in dirs if TEMP_RE.match(d)]
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            rel = prefix + name
            if TEMP_RE.match(name):
                temporary.append(rel)
                continue
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            st = os.stat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            known = cache.get(rel)
            if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
                digest = known[2]
            else:
                digest = sha256_file(Path(path))
            fresh[rel] = [st.st_size, st.st_mtime_ns, digest]
            files[rel] = LocalFile(rel, Path(path), st.st_size, digest)
    if fresh != cache:
        write_text(Path(cache_file), json.dumps(fresh, sort_keys=True, separators=(",", ":")))
    return files, temporary


def unprefixed(url: str, prefix: str | None) -> str:
    """The inverse of an analytics prefix (see ``analytics_url`` in the feed): the URL the host serves."""
    if prefix and url.startswith(prefix):
        rest = url[len(prefix):]
        return rest if re.match(r"^https?://", rest) else "https://" + rest
    return url


def feed_problems(out_dir: Path, files: dict[str, LocalFile], base_url: str, analytics_prefix: str | None
                  ) -> tuple[list[str], dict]:
    """Every way the built feed and the tree disagree: a file the feed names (under ``base_url``) that is missing,
    or an enclosure whose announced length is not the file's size. Also returns what the feed says that publish
    needs: its own URL and the hubs it announces."""
    from lxml import etree

    feed_path = Path(out_dir) / FEED_FILE
    info: dict = {"self_url": None, "hubs": []}
    if FEED_FILE not in files:
        return [f"{feed_path}: not found: nothing is built yet (run kindcast build)"], info
    try:
        root = etree.parse(str(feed_path)).getroot()
    except etree.XMLSyntaxError as exc:
        return [f"{feed_path}: not well-formed XML ({exc}); run kindcast build"], info
    atom = "{http://www.w3.org/2005/Atom}link"
    for link in root.iter(atom):
        if link.get("rel") == "self":
            info["self_url"] = link.get("href")
        elif link.get("rel") == "hub":
            info["hubs"].append(link.get("href"))
    problems: list[str] = []
    base = base_url if base_url.endswith("/") else base_url + "/"

    def local(url: str | None) -> str | None:
        url = unprefixed((url or "").strip(), analytics_prefix)
        return unquote(url[len(base):]) if url.startswith(base) else None

    named: list[tuple[str | None, str, int | None]] = []  # (rel, what, announced length)
    for elem in root.iter():
        if not isinstance(elem.tag, str):
            continue
        tag = etree.QName(elem).localname
        if tag == "enclosure":
            length = elem.get("length")
            named.append((local(elem.get("url")), "enclosure", int(length) if (length or "").isdigit() else None))
        elif tag in ("transcript", "chapters"):
            named.append((local(elem.get("url")), tag, None))
        elif tag == "image" and elem.get("href"):
            named.append((local(elem.get("href")), "image", None))
        elif tag == "url" and etree.QName(elem.getparent()).localname == "image":
            named.append((local(elem.text), "image", None))
        elif tag == "link" and elem.text and etree.QName(elem.getparent()).localname == "item":
            named.append((local(elem.text), "link", None))
    for rel, what, length in named:
        if rel is None:
            if what == "enclosure":  # images and transcripts may live elsewhere; the audio is ours
                problems.append(f"{FEED_FILE}: an enclosure is not under base_url {base} (run kindcast build)")
            continue
        if rel not in files:
            problems.append(f"{FEED_FILE}: {what} {rel}: the file is not in {Path(out_dir).name}/ (run kindcast build)")
        elif length is not None and files[rel].size != length:
            problems.append(f"{FEED_FILE}: {what} {rel}: the feed announces {length} bytes but the file has "
                            f"{files[rel].size} (run kindcast build)")
    return problems, info
