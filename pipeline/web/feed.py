"""The podcast RSS feed: a plain data model of the channel and its items, and its rendering through feedgen.

feedgen (with its ``podcast`` extension for the iTunes tags) writes the RSS; small feedgen extensions of our own add
what it lacks:

* ``AppleExtension`` - ``itunes:explicit`` as ``true``/``false`` (feedgen 1.0 only knows yes/no/clean, which Apple no
  longer accepts) and ``itunes:keywords``;
* ``PodcastIndexExtension`` / ``PodcastIndexEntryExtension`` - the Podcasting 2.0 namespace
  (``https://podcastindex.org/namespace/1.0``): guid, locked, funding, medium, person, podping on the channel;
  transcript, chapters, soundbite, person, season and episode on each item;
* ``WebSubExtension`` - ``<atom:link rel="hub">`` for each WebSub hub (feedgen writes only the self link in RSS).

The model (plain dicts built by the feed stage, see ``pipeline/stages/feed.py``) is JSON-able, so the stage uses it
as its params: any change to what the feed says, including which scheduled episodes are now public, rebuilds it.
Rendering is deterministic: the same model gives the same bytes.

This module imports no stage and no CLI; feedgen and lxml are imported inside functions.
"""
from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pipeline.web.sanitize import clean_feed

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM_NS = "http://www.w3.org/2005/Atom"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
FEED_FILE = "feed.xml"

TRANSCRIPT_TYPES = {  # result["files"] key -> (MIME type, rel)
    "vtt": ("text/vtt", "captions"),
    "srt": ("application/x-subrip", None),
    "json": ("application/json", None),
}


# --- small pure helpers ------------------------------------------------------------------------------------------

def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid``: UUIDv5 of the feed URL without its scheme and trailing slashes."""
    bare = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", feed_url.strip()).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def url_join(base_url: str, *parts: str) -> str:
    """``base_url`` (ending in '/') + the URL-quoted path parts."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return base + "/".join(quote(p, safe="") for p in parts)


def analytics_url(prefix: str | None, url: str) -> str:
    """An enclosure URL behind an analytics prefix (OP3, Podtrac...): the prefix, then the URL without ``https://``
    (an ``http://`` URL keeps its scheme, as those services ask)."""
    if not prefix:
        return url
    return prefix + (url[len("https://"):] if url.startswith("https://") else url)


def seconds_text(value: float) -> str:
    """Seconds for an attribute: ``73``, ``73.5``, ``73.125`` (at most milliseconds, no trailing zeros)."""
    text = f"{float(value):.3f}".rstrip("0").rstrip(".")
    return text or "0"


def first_paragraph_html(markdown_text: str) -> str:
    """The first paragraph of the producer's Markdown notes, as allowed HTML ('' when there is none)."""
    import markdown

    blocks = [b.strip() for b in re.split(r"\n\s*\n", markdown_text or "") if b.strip()]
    for block in blocks:
        if block.startswith("#"):  # a heading is no description
            continue
        return clean_feed(markdown.markdown(block))
    return ""


# --- feedgen extensions ------------------------------------------------------------------------------------------

def _extension_classes():
    """The extension classes, built on first use so that importing this module does not import feedgen."""
    global _EXTENSIONS
    if _EXTENSIONS is not None:
        return _EXTENSIONS
    from feedgen.ext.base import BaseEntryExtension, BaseExtension
    from feedgen.util import xml_elem

    def apple_elems(parent, explicit: bool | None, keywords: list[str]) -> None:
        if explicit is not None:
            xml_elem(f"{{{ITUNES_NS}}}explicit", parent).text = "true" if explicit else "false"
        if keywords:
            xml_elem(f"{{{ITUNES_NS}}}keywords", parent).text = ",".join(keywords)

    def person_elems(parent, people: list[dict]) -> None:
        for person in people:
            elem = xml_elem(f"{{{PODCAST_NS}}}person", parent)
            for key in ("role", "group", "href", "img"):
                if person.get(key):
                    elem.attrib[key] = str(person[key])
            elem.text = person["name"]

    class _AppleFields:
        def __init__(self) -> None:
            self._explicit: bool | None = None
            self._keywords: list[str] = []

        def explicit(self, value: bool | None = None) -> bool | None:
            """Get or set ``itunes:explicit`` (written as ``true``/``false``)."""
            if value is not None:
                self._explicit = bool(value)
            return self._explicit

        def keywords(self, values: list[str] | None = None) -> list[str]:
            if values is not None:
                self._keywords = [" ".join(str(v).replace(",", " ").split()) for v in values if str(v).strip()]
            return self._keywords

    class AppleExtension(_AppleFields, BaseExtension):
        """Channel: ``itunes:explicit`` true/false, ``itunes:keywords``."""

        def extend_ns(self) -> dict:
            return {"itunes": ITUNES_NS}

        def extend_rss(self, rss_feed):
            apple_elems(rss_feed[0], self._explicit, self._keywords)
            return rss_feed

        def extend_atom(self, feed):
            return feed

    class AppleEntryExtension(_AppleFields, BaseEntryExtension):
        """Item: ``itunes:explicit`` true/false, ``itunes:keywords``."""

        def extend_rss(self, item):
            apple_elems(item, self._explicit, self._keywords)
            return item

    class PodcastIndexExtension(BaseExtension):
        """Channel-level Podcasting 2.0 tags: guid, locked, funding, medium, person."""

        def __init__(self) -> None:
            self._guid: str | None = None
            self._locked: tuple[bool, str | None] | None = None
            self._funding: list[dict] = []
            self._medium: str | None = None
            self._people: list[dict] = []
            self._podping = False

        def extend_ns(self) -> dict:
            return {"podcast": PODCAST_NS}

        def podping(self, uses: bool) -> None:
            """``<podcast:podping usesPodping="true"/>``: apps may rely on podping instead of polling."""
            self._podping = bool(uses)

        def guid(self, value: str) -> None:
            self._guid = value

        def locked(self, locked: bool, owner: str | None = None) -> None:
            self._locked = (bool(locked), owner)

        def funding(self, url: str, text: str) -> None:
            self._funding.append({"url": url, "text": text})

        def medium(self, value: str) -> None:
            self._medium = value

        def person(self, **person: Any) -> None:
            self._people.append(person)

        def extend_rss(self, rss_feed):
            channel = rss_feed[0]
            if self._locked is not None:
                locked, owner = self._locked
                elem = xml_elem(f"{{{PODCAST_NS}}}locked", channel)
                if owner:
                    elem.attrib["owner"] = owner
                elem.text = "yes" if locked else "no"
            if self._guid:
                xml_elem(f"{{{PODCAST_NS}}}guid", channel).text = self._guid
            if self._medium:
                xml_elem(f"{{{PODCAST_NS}}}medium", channel).text = self._medium
            for fund in self._funding:
                elem = xml_elem(f"{{{PODCAST_NS}}}funding", channel)
                elem.attrib["url"] = fund["url"]
                elem.text = fund["text"]
            person_elems(channel, self._people)
            if self._podping:
                xml_elem(f"{{{PODCAST_NS}}}podping", channel).attrib["usesPodping"] = "true"
            return rss_feed

        def extend_atom(self, feed):
            return feed

    class WebSubExtension(BaseExtension):
        """``<atom:link rel="hub" href="..."/>`` for each WebSub hub the feed is announced to."""

        def __init__(self) -> None:
            self._hubs: list[str] = []

        def extend_ns(self) -> dict:
            return {"atom": ATOM_NS}

        def hub(self, url: str) -> None:
            self._hubs.append(url)

        def extend_rss(self, rss_feed):
            for url in self._hubs:
                xml_elem(f"{{{ATOM_NS}}}link", rss_feed[0], href=url, rel="hub")
            return rss_feed

        def extend_atom(self, feed):
            return feed

    class PodcastIndexEntryExtension(BaseEntryExtension):
        """Item-level Podcasting 2.0 tags: transcript, chapters, soundbite, person, season, episode."""

        def __init__(self) -> None:
            self._transcripts: list[dict] = []
            self._chapters: dict | None = None
            self._soundbites: list[dict] = []
            self._people: list[dict] = []
            self._season: dict | None = None
            self._episode: dict | None = None

        def transcript(self, url: str, type: str, rel: str | None = None, language: str | None = None) -> None:
            self._transcripts.append({"url": url, "type": type, "language": language, "rel": rel})

        def chapters(self, url: str, type: str = "application/json+chapters") -> None:
            self._chapters = {"url": url, "type": type}

        def soundbite(self, start: float, duration: float, title: str | None = None) -> None:
            self._soundbites.append({"start": start, "duration": duration, "title": title})

        def person(self, **person: Any) -> None:
            self._people.append(person)

        def season(self, number: int, name: str | None = None) -> None:
            self._season = {"number": number, "name": name}

        def episode(self, number: int | float, display: str | None = None) -> None:
            self._episode = {"number": number, "display": display}

        def extend_rss(self, item):
            for t in self._transcripts:
                elem = xml_elem(f"{{{PODCAST_NS}}}transcript", item)
                for key in ("url", "type", "language", "rel"):
                    if t.get(key):
                        elem.attrib[key] = t[key]
            if self._chapters:
                elem = xml_elem(f"{{{PODCAST_NS}}}chapters", item)
                elem.attrib["url"] = self._chapters["url"]
                elem.attrib["type"] = self._chapters["type"]
            for sb in self._soundbites:
                elem = xml_elem(f"{{{PODCAST_NS}}}soundbite", item)
                elem.attrib["startTime"] = seconds_text(sb["start"])
                elem.attrib["duration"] = seconds_text(sb["duration"])
                if sb.get("title"):
                    elem.text = sb["title"]
            person_elems(item, self._people)
            if self._season is not None:
                elem = xml_elem(f"{{{PODCAST_NS}}}season", item)
                if self._season.get("name"):
                    elem.attrib["name"] = self._season["name"]
                elem.text = str(self._season["number"])
            if self._episode is not None:
                elem = xml_elem(f"{{{PODCAST_NS}}}episode", item)
                if self._episode.get("display"):
                    elem.attrib["display"] = self._episode["display"]
                elem.text = seconds_text(self._episode["number"])
            return item

    _EXTENSIONS = {
        "apple": (AppleExtension, AppleEntryExtension),
        "podcastindex": (PodcastIndexExtension, PodcastIndexEntryExtension),
        "websub": (WebSubExtension, None),
    }
    return _EXTENSIONS


_EXTENSIONS: dict | None = None


def new_feed_generator():
    """A FeedGenerator with feedgen's podcast extension and ours registered (namespaces: itunes, podcast)."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("podcast")
    for name, (feed_cls, entry_cls) in _extension_classes().items():
        fg.register_extension(name, feed_cls, entry_cls, atom=False, rss=True)
    return fg


# --- rendering the model -----------------------------------------------------------------------------------------

def render(model: dict) -> bytes:
    """The RSS document for a feed model (see the feed stage for its shape). Same model -> same bytes."""
    fg = new_feed_generator()
    ch = model["channel"]
    fg.title(ch["title"])
    fg.description(ch["description"])
    fg.link(href=ch["self_url"], rel="self", type="application/rss+xml")
    fg.link(href=ch["link"], rel="alternate")  # feedgen's RSS <link> is the last one given
    fg.language(ch["language"])
    if ch.get("copyright"):
        fg.copyright(ch["copyright"])
    fg.generator("kindcast")
    fg.image(url=ch["image"], title=ch["title"], link=ch["link"])
    fg.podcast.itunes_author(ch["author"])
    fg.podcast.itunes_owner(name=ch["owner"]["name"], email=ch["owner"]["email"])
    fg.podcast.itunes_image(ch["image"])
    fg.podcast.itunes_type(ch["type"])
    fg.podcast.itunes_category([{"cat": c, **({"sub": s} if s else {})} for c, s in ch["categories"]])
    fg.apple.explicit(ch["explicit"])
    fg.apple.keywords(ch.get("keywords") or [])
    pi = fg.podcastindex
    pi.locked(ch["locked"], ch["owner"]["email"])
    pi.guid(ch["guid"])
    pi.medium(ch["medium"])
    for fund in ch["funding"]:
        pi.funding(fund["url"], fund["text"])
    for person in ch["people"]:
        pi.person(**person)
    pi.podping(ch.get("podping", False))
    for hub in ch.get("hubs") or []:
        fg.websub.hub(hub)

    newest = None
    for item in model["items"]:
        date = datetime.fromisoformat(item["date"])
        newest = date if newest is None or date > newest else newest
        fe = fg.add_entry(order="append")
        fe.guid(item["guid"], permalink=False)
        fe.title(item["title"])
        if item.get("link"):
            fe.link(href=item["link"])
        fe.description(item["description_html"])
        fe.content(item["description_html"], type="CDATA")
        fe.enclosure(item["url"], str(item["length"]), item["mime"])
        fe.pubDate(date)
        fe.podcast.itunes_duration(item["duration"])
        fe.podcast.itunes_episode_type(item["episode_type"])
        if item.get("number"):  # Apple takes non-zero numbers only; podcast:episode below may be 0
            fe.podcast.itunes_episode(item["number"])
        if item.get("season"):
            fe.podcast.itunes_season(item["season"])
        if item.get("image"):
            fe.podcast.itunes_image(item["image"])
        fe.apple.explicit(item["explicit"])
        fe.apple.keywords(item.get("keywords") or [])
        ext = fe.podcastindex
        for t in item["transcripts"]:
            ext.transcript(t["url"], t["type"], rel=t.get("rel"), language=t.get("language"))
        if item.get("chapters"):
            ext.chapters(item["chapters"])
        for sb in item["soundbites"]:
            ext.soundbite(sb["start"], sb["duration"], sb.get("title"))
        for person in item["people"]:
            ext.person(**person)
        if item.get("season") is not None:
            ext.season(item["season"])
        if item.get("number") is not None:
            ext.episode(item["number"])
    if newest is not None:
        fg.lastBuildDate(newest)
    data = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    if newest is None:  # nothing published yet: no build time either, so the bytes never churn
        from lxml import etree

        root = etree.fromstring(data)
        for elem in root[0].findall("lastBuildDate"):
            root[0].remove(elem)
        data = etree.tostring(root, pretty_print=True, encoding="UTF-8", xml_declaration=True)
    return data
