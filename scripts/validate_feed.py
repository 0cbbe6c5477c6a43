#!/usr/bin/env python3
"""Check a podcast feed offline: RSS 2.0, Apple Podcasts and Podcasting 2.0 rules, then real parsers.

    python scripts/validate_feed.py feeds/feed.xml [--published feeds/] [--partytime] [--json]

What it checks
  * the rules themselves (written here from the specifications, not taken from any validator): RSS 2.0 required
    elements and RFC 822 dates (with the right day of the week), absolute URLs, enclosures, unique GUIDs, the
    atom:link rel="self"; Apple's tags (itunes:explicit true/false, categories from Apple's list, image, owner,
    type, duration, episode numbers); the podcast: namespace (guid is a UUID, locked yes/no, transcript and chapters
    types, soundbite times and 15-120 s durations, person, season, episode); unknown itunes:/podcast: elements;
    show notes HTML limited to the tags Apple allows;
  * with --published DIR (the feeds/ folder): every URL under the feed's base URL names a file there, and each
    enclosure's and alternate enclosure's length equals the size of that file;
  * the parsers podcast apps use: podcastparser (gPodder) and feedparser, and with --partytime the Podcast Index's
    npm parser podcast-partytime (installed with npm into a cache folder; needs node and npm).

The W3C Feed Validation Service itself is not on PyPI or in Debian 12, so it cannot be installed from a package
registry here; this script is the offline stand-in. Exit status: 0 when no errors (warnings allowed), 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
CONTENT = "http://purl.org/rss/1.0/modules/content/"

RSS_CHANNEL = {"title", "link", "description", "language", "copyright", "managingEditor", "webMaster", "pubDate",
               "lastBuildDate", "category", "generator", "docs", "cloud", "ttl", "image", "rating", "textInput",
               "skipHours", "skipDays", "item"}
RSS_ITEM = {"title", "link", "description", "author", "category", "comments", "enclosure", "guid", "pubDate",
            "source"}
ITUNES_CHANNEL = {"author", "block", "category", "complete", "explicit", "image", "keywords", "new-feed-url",
                  "owner", "subtitle", "summary", "type", "title"}
ITUNES_ITEM = {"author", "block", "duration", "episode", "episodeType", "explicit", "image", "keywords", "season",
               "subtitle", "summary", "title", "order", "isClosedCaptioned"}
PODCAST_CHANNEL = {"locked", "funding", "person", "location", "trailer", "license", "guid", "value", "medium",
                   "images", "liveItem", "block", "txt", "remoteItem", "podroll", "updateFrequency", "podping",
                   "publisher", "chat", "image", "socialInteract"}
PODCAST_ITEM = {"transcript", "chapters", "soundbite", "person", "location", "season", "episode", "license",
                "alternateEnclosure", "value", "images", "socialInteract", "txt", "chat", "image", "contentLink"}
TRANSCRIPT_TYPES = {"text/plain", "text/html", "text/vtt", "application/json", "application/x-subrip",
                    "application/srt"}
MEDIUMS = {"podcast", "music", "video", "film", "audiobook", "newsletter", "blog", "publisher", "course",
           "mixed"}
APPLE_HTML = {"p", "a", "ul", "ol", "li", "strong", "b", "em", "i", "br"}
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def apple_categories() -> dict[str, tuple[str, ...]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pipeline.apple import APPLE_CATEGORIES

    return APPLE_CATEGORIES


class Report:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def warn(self, where: str, message: str) -> None:
        self.warnings.append(f"{where}: {message}")


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, name = tag[1:].split("}", 1)
        return ns, name
    return None, tag


def _absolute(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in url


def _check_date(report: Report, where: str, text: str | None) -> None:
    if not text:
        report.error(where, "missing date")
        return
    try:
        value = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError):
        report.error(where, f"not an RFC 822 date: {text!r}")
        return
    if value.tzinfo is None:
        report.error(where, f"RFC 822 date without a time zone: {text!r}")
    day = text.strip()[:3]
    if "," in text and day in DAYS and DAYS[value.weekday()] != day:
        report.error(where, f"wrong day of the week in {text!r}")


def _check_html(report: Report, where: str, text: str | None) -> None:
    from html.parser import HTMLParser

    found: set[str] = set()

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.add(tag)

    Tags().feed(text or "")
    extra = sorted(found - APPLE_HTML)
    if extra:
        report.warn(where, f"HTML tags Apple does not allow in show notes: {', '.join(extra)}")


def _check_unknown(report: Report, where: str, elem, rss: set[str], itunes: set[str], podcast: set[str]) -> None:
    for child in elem:
        if not isinstance(child.tag, str):
            continue  # comments
        ns, name = _local(child.tag)
        if ns is None and name not in rss:
            report.error(where, f"<{name}> is not an RSS 2.0 element here")
        elif ns == ITUNES and name not in itunes:
            report.error(where, f"itunes:{name} is not an Apple Podcasts element here")
        elif ns == PODCAST and name not in podcast:
            report.warn(where, f"podcast:{name} is not a known Podcasting 2.0 element here")


def _check_explicit(report: Report, where: str, elem) -> None:
    if elem is not None and (elem.text or "").strip() not in ("true", "false"):
        report.error(where, f"itunes:explicit must be 'true' or 'false' (is {elem.text!r})")


def check_rules(data: bytes) -> tuple[Report, dict]:
    """The specification checks. Returns the report and a few facts for the later steps (items, base URL)."""
    from lxml import etree

    report = Report()
    facts: dict = {"items": [], "urls": []}
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        report.error("feed", f"not well-formed XML: {exc}")
        return report, facts
    if root.tag != "rss" or root.get("version") != "2.0":
        report.error("feed", "the root element must be <rss version=\"2.0\">")
        return report, facts
    channels = root.findall("channel")
    if len(channels) != 1:
        report.error("feed", "there must be exactly one <channel>")
        return report, facts
    ch = channels[0]
    where = "channel"
    _check_unknown(report, where, ch, RSS_CHANNEL, ITUNES_CHANNEL, PODCAST_CHANNEL)
    for name in ("title", "link", "description"):
        if not (ch.findtext(name) or "").strip():
            report.error(where, f"missing <{name}>")
    if ch.findtext("link") and not _absolute(ch.findtext("link")):
        report.error(where, "<link> must be an absolute http(s) URL")
    lang = ch.findtext("language")
    if not lang or not re.match(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$", lang):
        report.error(where, f"<language> missing or not a language code ({lang!r})")
    for name in ("pubDate", "lastBuildDate"):
        if ch.find(name) is not None:
            _check_date(report, f"{where}/{name}", ch.findtext(name))
    selfs = [a for a in ch.findall(f"{{{ATOM}}}link") if a.get("rel") == "self"]
    if len(selfs) != 1:
        report.error(where, "there must be one atom:link rel=\"self\"")
    else:
        facts["self"] = selfs[0].get("href")
        if not _absolute(facts["self"]):
            report.error(where, "atom:link rel=\"self\" href must be an absolute URL")
        if selfs[0].get("type") not in (None, "application/rss+xml"):
            report.error(where, "atom:link rel=\"self\" type must be application/rss+xml")
    for dup in ("title", "link", "description", "language", "lastBuildDate"):
        if len(ch.findall(dup)) > 1:
            report.error(where, f"<{dup}> appears more than once")

    # Apple
    image = ch.find(f"{{{ITUNES}}}image")
    if image is None:
        report.error(where, "missing itunes:image")
    else:
        href = image.get("href") or ""
        if not _absolute(href) or not re.search(r"\.(jpg|png)$", href, re.I):
            report.error(where, f"itunes:image href must be an absolute URL ending in .jpg or .png ({href!r})")
        facts["urls"].append(href)
    cats = ch.findall(f"{{{ITUNES}}}category")
    if not cats:
        report.error(where, "missing itunes:category")
    known = apple_categories()
    for cat in cats:
        text = cat.get("text")
        if text not in known:
            report.error(where, f"itunes:category {text!r} is not an Apple Podcasts category")
            continue
        for sub in cat.findall(f"{{{ITUNES}}}category"):
            if sub.get("text") not in known[text]:
                report.error(where, f"itunes:category {sub.get('text')!r} is not a subcategory of {text!r}")
    explicit = ch.find(f"{{{ITUNES}}}explicit")
    if explicit is None:
        report.error(where, "missing itunes:explicit")
    _check_explicit(report, where, explicit)
    if not (ch.findtext(f"{{{ITUNES}}}author") or "").strip():
        report.error(where, "missing itunes:author")
    owner = ch.find(f"{{{ITUNES}}}owner")
    if owner is None:
        report.error(where, "missing itunes:owner")
    else:
        email = owner.findtext(f"{{{ITUNES}}}email") or ""
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            report.error(where, f"itunes:owner needs an itunes:email address ({email!r})")
        if not (owner.findtext(f"{{{ITUNES}}}name") or "").strip():
            report.warn(where, "itunes:owner has no itunes:name")
    kind = ch.findtext(f"{{{ITUNES}}}type")
    if kind not in (None, "episodic", "serial"):
        report.error(where, f"itunes:type must be episodic or serial ({kind!r})")

    # Podcasting 2.0, channel
    guid = ch.findtext(f"{{{PODCAST}}}guid")
    if guid is not None:
        try:
            uuid.UUID(guid.strip())
        except ValueError:
            report.error(where, f"podcast:guid must be a UUID ({guid!r})")
    locked = ch.find(f"{{{PODCAST}}}locked")
    if locked is not None and (locked.text or "").strip() not in ("yes", "no"):
        report.error(where, f"podcast:locked must be yes or no ({locked.text!r})")
    medium = ch.findtext(f"{{{PODCAST}}}medium")
    if medium is not None and medium.strip().removesuffix("L") not in MEDIUMS:
        report.error(where, f"podcast:medium {medium!r} is not a known medium")
    for fund in ch.findall(f"{{{PODCAST}}}funding"):
        if not _absolute(fund.get("url")):
            report.error(where, "podcast:funding needs an absolute url")
    for person in ch.findall(f"{{{PODCAST}}}person"):
        if not (person.text or "").strip():
            report.error(where, "podcast:person without a name")

    # items
    guids: dict[str, int] = {}
    for n, item in enumerate(ch.findall("item"), 1):
        where = f"item {n}"
        _check_unknown(report, where, item, RSS_ITEM, ITUNES_ITEM, PODCAST_ITEM)
        title = (item.findtext("title") or "").strip()
        if title:
            where = f"item {n} ({title})"
        else:
            report.error(where, "missing <title>")
        g = item.find("guid")
        if g is None or not (g.text or "").strip():
            report.error(where, "missing <guid>")
        else:
            text = g.text.strip()
            if text in guids:
                report.error(where, f"guid {text!r} is also used by item {guids[text]}")
            guids[text] = n
            if g.get("isPermaLink", "true") == "true" and not _absolute(text):
                report.error(where, "a guid that is not a URL needs isPermaLink=\"false\"")
        _check_date(report, f"{where}/pubDate", item.findtext("pubDate"))
        enclosures = item.findall("enclosure")
        if len(enclosures) != 1:
            report.error(where, "needs exactly one <enclosure>")
        facts_item = {"title": title, "guid": (g.text or "").strip() if g is not None else None}
        for enc in enclosures:
            url, length, mime = enc.get("url"), enc.get("length"), enc.get("type")
            if not _absolute(url):
                report.error(where, f"enclosure url must be an absolute http(s) URL ({url!r})")
            if not (length or "").isdigit() or int(length) <= 0:
                report.error(where, f"enclosure length must be the size in bytes ({length!r})")
            if not mime or not re.match(r"^(audio|video)/[\w.+-]+$", mime):
                report.error(where, f"enclosure type must be an audio or video MIME type ({mime!r})")
            facts_item.update(url=url, length=int(length) if (length or "").isdigit() else None)
            facts["urls"].append(url)
        duration = item.findtext(f"{{{ITUNES}}}duration")
        if duration is None:
            report.error(where, "missing itunes:duration")
        elif not re.match(r"^(\d+|(\d+:)?[0-5]?\d:[0-5]\d)$", duration.strip()):
            report.error(where, f"itunes:duration must be seconds or [HH:]MM:SS ({duration!r})")
        for name in ("episode", "season"):
            value = item.findtext(f"{{{ITUNES}}}{name}")
            if value is not None and not (value.strip().isdigit() and int(value) > 0):
                report.error(where, f"itunes:{name} must be a positive whole number ({value!r})")
        etype = item.findtext(f"{{{ITUNES}}}episodeType")
        if etype not in (None, "full", "trailer", "bonus"):
            report.error(where, f"itunes:episodeType must be full, trailer or bonus ({etype!r})")
        _check_explicit(report, where, item.find(f"{{{ITUNES}}}explicit"))
        img = item.find(f"{{{ITUNES}}}image")
        if img is not None:
            if not _absolute(img.get("href")) or not re.search(r"\.(jpg|png)$", img.get("href") or "", re.I):
                report.error(where, "itunes:image href must be an absolute URL ending in .jpg or .png")
            facts["urls"].append(img.get("href"))
        if not (item.findtext("description") or item.findtext(f"{{{CONTENT}}}encoded")):
            report.warn(where, "no description (show notes)")
        _check_html(report, where, item.findtext("description"))
        _check_html(report, where, item.findtext(f"{{{CONTENT}}}encoded"))

        transcripts = item.findall(f"{{{PODCAST}}}transcript")
        facts_item["transcripts"] = len(transcripts)
        for t in transcripts:
            if not _absolute(t.get("url")):
                report.error(where, "podcast:transcript needs an absolute url")
            if t.get("type") not in TRANSCRIPT_TYPES:
                report.error(where, f"podcast:transcript type {t.get('type')!r} is not a transcript type")
            if t.get("rel") not in (None, "captions"):
                report.error(where, f"podcast:transcript rel may only be 'captions' ({t.get('rel')!r})")
            facts["urls"].append(t.get("url"))
        for c in item.findall(f"{{{PODCAST}}}chapters"):
            if not _absolute(c.get("url")) or c.get("type") != "application/json+chapters":
                report.error(where, "podcast:chapters needs an absolute url and type application/json+chapters")
            facts["urls"].append(c.get("url"))
        for alt in item.findall(f"{{{PODCAST}}}alternateEnclosure"):
            length = alt.get("length")
            if not alt.get("type") or not re.match(r"^\d+$", length or ""):
                report.error(where, "podcast:alternateEnclosure needs a type and its length in bytes")
            sources = [src.get("uri") for src in alt.findall(f"{{{PODCAST}}}source")]
            if not sources or not all(_absolute(uri) for uri in sources):
                report.error(where, "podcast:alternateEnclosure needs podcast:source elements with absolute uris")
            for uri in sources:
                facts["urls"].append(uri)
                if length and length.isdigit():
                    facts.setdefault("lengths", {})[uri] = int(length)
        bites = item.findall(f"{{{PODCAST}}}soundbite")
        facts_item["soundbites"] = len(bites)
        for sb in bites:
            try:
                start, length = float(sb.get("startTime")), float(sb.get("duration"))
            except (TypeError, ValueError):
                report.error(where, "podcast:soundbite needs numeric startTime and duration")
                continue
            if start < 0 or not 15 <= length <= 120:
                report.error(where, f"podcast:soundbite must start at >= 0 and last 15-120 s ({start}, {length})")
        for person in item.findall(f"{{{PODCAST}}}person"):
            if not (person.text or "").strip():
                report.error(where, "podcast:person without a name")
            if person.get("href") and not _absolute(person.get("href")):
                report.error(where, "podcast:person href must be an absolute URL")
        season = item.findtext(f"{{{PODCAST}}}season")
        if season is not None and not season.strip().isdigit():
            report.error(where, f"podcast:season must be a whole number ({season!r})")
        episode = item.findtext(f"{{{PODCAST}}}episode")
        if episode is not None and not re.match(r"^\d+(\.\d+)?$", episode.strip()):
            report.error(where, f"podcast:episode must be a number ({episode!r})")
        facts["items"].append(facts_item)
    return report, facts


def check_published(report: Report, facts: dict, published: Path) -> None:
    """Every URL under the feed's base URL is a file in ``published``; enclosure lengths equal the file sizes."""
    self_url = facts.get("self")
    if not self_url:
        return
    base = self_url.rsplit("/", 1)[0] + "/"
    sizes = {**facts.get("lengths", {}), **{item.get("url"): item.get("length") for item in facts["items"]}}
    for url in facts["urls"]:
        if not url or not url.startswith(base):
            continue
        rel = unquote(url[len(base):])
        path = published / rel
        if not path.is_file():
            report.error("published", f"{url} names no file ({path})")
        elif url in sizes and sizes[url] is not None and path.stat().st_size != sizes[url]:
            report.error("published",
                         f"{url}: enclosure length {sizes[url]} but the file has {path.stat().st_size} bytes")


def check_parsers(report: Report, data: bytes, facts: dict) -> None:
    """podcastparser (gPodder) and feedparser must read every item back."""
    import io

    try:
        import podcastparser
    except ImportError:
        report.warn("podcastparser", "not installed: skipped")
    else:
        try:
            parsed = podcastparser.parse(facts.get("self") or "https://example.invalid/feed.xml", io.BytesIO(data))
        except Exception as exc:  # noqa: BLE001 - any failure to parse is what we report
            report.error("podcastparser", f"cannot parse the feed: {exc}")
        else:
            episodes = parsed.get("episodes", [])
            if len(episodes) != len(facts["items"]):
                report.error("podcastparser", f"read {len(episodes)} episodes, the feed has {len(facts['items'])}")
            for ep in episodes:
                name = ep.get("title") or ep.get("guid")
                enclosures = ep.get("enclosures") or []
                if not enclosures or not enclosures[0].get("file_size", 0) > 0:
                    report.error("podcastparser", f"{name}: no enclosure size")
                if not ep.get("total_time"):
                    report.error("podcastparser", f"{name}: no duration")
                if not ep.get("published"):
                    report.error("podcastparser", f"{name}: no date")
                if "explicit" not in ep:
                    report.error("podcastparser", f"{name}: no explicit flag")
    try:
        import feedparser
    except ImportError:
        report.warn("feedparser", "not installed: skipped")
    else:
        parsed = feedparser.parse(data)
        if parsed.bozo:
            report.error("feedparser", f"not a clean feed: {parsed.bozo_exception}")
        if len(parsed.entries) != len(facts["items"]):
            report.error("feedparser", f"read {len(parsed.entries)} entries, the feed has {len(facts['items'])}")


PARTYTIME_VERSION = "5.0.0"
PARTYTIME_JS = """
const pt = require("podcast-partytime");
const fs = require("fs");
const feed = pt.parseFeed(fs.readFileSync(process.argv[2], "utf8"), {allowMissingGuid: false});
if (!feed) { console.log("null"); process.exit(0); }
console.log(JSON.stringify({
  title: feed.title, guid: feed.guid, locked: feed.locked, medium: feed.medium,
  pc20support: feed.pc20support,
  items: (feed.items || []).map(i => ({guid: i.guid, length: i.enclosure && i.enclosure.length,
    duration: i.duration, transcripts: (i.podcastTranscripts || []).length,
    soundbites: (i.podcastSoundbites || []).length, people: (i.podcastPeople || []).length}))
}));
"""


def partytime_dir() -> Path:
    return Path(os.environ.get("KINDCAST_PARTYTIME_DIR", Path.home() / ".cache" / "kindcast" / "partytime"))


def install_partytime(folder: Path) -> Path:
    """``npm install podcast-partytime`` into ``folder`` (once). Raises RuntimeError when npm cannot."""
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        raise RuntimeError("node and npm are needed for --partytime")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "node_modules" / "podcast-partytime" / "package.json").is_file():
        if not (folder / "package.json").is_file():
            (folder / "package.json").write_text('{"name": "kindcast-feed-check", "private": true}\n')
        proc = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
                               f"podcast-partytime@{PARTYTIME_VERSION}"], cwd=folder, capture_output=True,
                              text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"npm install podcast-partytime failed: {proc.stderr.strip()[-500:]}")
    (folder / "check.js").write_text(PARTYTIME_JS)
    return folder


def run_partytime(feed: Path, folder: Path) -> dict | None:
    proc = subprocess.run(["node", str(folder / "check.js"), str(Path(feed).resolve())], cwd=folder,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PARTYTIME_LOG": "silent"})
    if proc.returncode != 0:
        raise RuntimeError(f"podcast-partytime failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_partytime(report: Report, feed: Path, facts: dict, folder: Path) -> dict | None:
    try:
        install_partytime(folder)
        parsed = run_partytime(feed, folder)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        report.error("podcast-partytime", str(exc))
        return None
    if parsed is None:
        report.error("podcast-partytime", "could not parse the feed")
        return None
    if len(parsed["items"]) != len(facts["items"]):
        report.error("podcast-partytime", f"read {len(parsed['items'])} items, the feed has {len(facts['items'])}")
    for ours, theirs in zip(facts["items"], parsed["items"]):
        if ours.get("transcripts") != theirs["transcripts"] or ours.get("soundbites") != theirs["soundbites"]:
            report.error("podcast-partytime", f"{ours['title']}: transcripts/soundbites read back differently")
    return parsed


def validate(feed: Path, published: Path | None = None, partytime: bool = False) -> tuple[Report, dict]:
    data = Path(feed).read_bytes()
    report, facts = check_rules(data)
    if report.errors and not facts["items"] and "self" not in facts:
        return report, facts
    if published is not None:
        check_published(report, facts, Path(published))
    check_parsers(report, data, facts)
    if partytime:
        facts["partytime"] = check_partytime(report, Path(feed), facts, partytime_dir())
    return report, facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("feed", type=Path)
    parser.add_argument("--published", type=Path, help="the published folder (feeds/) to check files and sizes")
    parser.add_argument("--partytime", action="store_true", help="also parse with the npm podcast-partytime")
    parser.add_argument("--json", action="store_true", help="print errors and warnings as JSON")
    args = parser.parse_args(argv)
    if not args.feed.is_file():
        print(f"{args.feed}: no such file", file=sys.stderr)
        return 2
    report, facts = validate(args.feed, args.published, args.partytime)
    if args.json:
        print(json.dumps({"errors": report.errors, "warnings": report.warnings, "items": len(facts["items"])},
                         indent=1))
    else:
        for line in report.errors:
            print(f"error: {line}")
        for line in report.warnings:
            print(f"warning: {line}")
        print(f"{args.feed}: {len(facts['items'])} items, {len(report.errors)} errors, "
              f"{len(report.warnings)} warnings")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
