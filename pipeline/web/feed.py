"""The podcast RSS feed: a plain data model of the channel and its items, and its rendering through feedgen.

feedgen (with its ``podcast`` extension for the iTunes tags) writes the RSS; small feedgen extensions of our own add
what it lacks:

* ``AppleExtension`` - ``itunes:explicit`` as ``true``/``false`` (feedgen 1.0 only knows yes/no/clean, which Apple no
  longer accepts) and ``itunes:keywords``;
* ``PodcastIndexExtension`` / ``PodcastIndexEntryExtension`` - the Podcasting 2.0 namespace
  (``https://podcastindex.org/namespace/1.0``): guid, locked, funding, medium, person, podping on the channel;
  transcript, chapters, soundbite, person, season and episode on each item;
* ``WebSubExtension`` - ``<atom:link rel="hub">`` for each WebSub hub (feedgen writes only the self link in RSS);
* ``ExtrasExtension`` / ``ExtrasEntryExtension`` - what the show gives when it gives it: ``podcast:txt``,
  ``podcast:updateFrequency``, ``podcast:license``, ``podcast:location``, ``itunes:new-feed-url``, ``itunes:block``
  and ``itunes:complete`` on the channel; ``podcast:alternateEnclosure`` (the smaller copy) and Podlove Simple
  Chapters (``psc:chapters``) on each item. Filled from the model by :func:`channel_extras` and :func:`item_extras`.

:func:`condition_feed_model` derives the feed of one condition (``conditions/<slug>.xml``) from the main model.

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
PSC_NS = "http://podlove.org/simple-chapters"
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

    ExtrasExtension, ExtrasEntryExtension = _extras_classes(BaseExtension, BaseEntryExtension, xml_elem)
    _EXTENSIONS = {
        "apple": (AppleExtension, AppleEntryExtension),
        "podcastindex": (PodcastIndexExtension, PodcastIndexEntryExtension),
        "extras": (ExtrasExtension, ExtrasEntryExtension),
        "websub": (WebSubExtension, None),
    }
    return _EXTENSIONS


def _extras_classes(BaseExtension, BaseEntryExtension, xml_elem):
    """The channel and item tags a show gives when it has them (see the module docstring)."""
    from pipeline.timeline import format_timestamp

    class ExtrasExtension(BaseExtension):
        def __init__(self) -> None:
            self._data: dict = {}

        def extend_ns(self) -> dict:  # the items' namespaces too: feedgen declares only the channel's on <rss>
            return {"podcast": PODCAST_NS, "itunes": ITUNES_NS, "psc": PSC_NS}

        def set(self, data: dict) -> None:
            self._data = data

        def extend_rss(self, rss_feed):
            channel, d = rss_feed[0], self._data
            for txt in d.get("txt") or []:
                elem = xml_elem(f"{{{PODCAST_NS}}}txt", channel)
                if txt.get("purpose"):
                    elem.attrib["purpose"] = txt["purpose"]
                elem.text = txt["text"]
            freq = d.get("update_frequency")
            if freq:
                elem = xml_elem(f"{{{PODCAST_NS}}}updateFrequency", channel)
                if freq.get("complete"):
                    elem.attrib["complete"] = "true"
                if freq.get("dtstart"):
                    elem.attrib["dtstart"] = freq["dtstart"]
                if freq.get("rrule"):
                    elem.attrib["rrule"] = freq["rrule"]
                elem.text = freq["text"]
            lic = d.get("license")
            if lic:
                elem = xml_elem(f"{{{PODCAST_NS}}}license", channel)
                if lic.get("url"):
                    elem.attrib["url"] = lic["url"]
                elem.text = lic["name"]
            loc = d.get("location")
            if loc:
                elem = xml_elem(f"{{{PODCAST_NS}}}location", channel)
                for key in ("rel", "geo", "osm"):
                    if loc.get(key):
                        elem.attrib[key] = loc[key]
                elem.text = loc["name"]
            if d.get("new_feed_url"):
                xml_elem(f"{{{ITUNES_NS}}}new-feed-url", channel).text = d["new_feed_url"]
            if d.get("block"):
                xml_elem(f"{{{ITUNES_NS}}}block", channel).text = "Yes"  # Apple acts on "Yes" only
            if d.get("complete"):
                xml_elem(f"{{{ITUNES_NS}}}complete", channel).text = "Yes"
            return rss_feed

        def extend_atom(self, feed):
            return feed

    class ExtrasEntryExtension(BaseEntryExtension):
        def __init__(self) -> None:
            self._alternates: list[dict] = []
            self._chapters: list[dict] = []

        def alternate_enclosure(self, url: str, type: str, length: int, bitrate: float | None = None,
                                codecs: str | None = None, title: str | None = None, default: bool = False) -> None:
            self._alternates.append({"url": url, "type": type, "length": length, "bitrate": bitrate,
                                     "codecs": codecs, "title": title, "default": default})

        def psc_chapters(self, chapters: list[dict]) -> None:
            self._chapters = list(chapters)

        def extend_ns(self) -> dict:
            return {"podcast": PODCAST_NS, "psc": PSC_NS}

        def extend_rss(self, item):
            for alt in self._alternates:
                elem = xml_elem(f"{{{PODCAST_NS}}}alternateEnclosure", item)
                elem.attrib["type"] = alt["type"]
                elem.attrib["length"] = str(alt["length"])
                if alt.get("bitrate"):
                    elem.attrib["bitrate"] = seconds_text(alt["bitrate"])
                for key in ("codecs", "title"):
                    if alt.get(key):
                        elem.attrib[key] = alt[key]
                if alt.get("default"):
                    elem.attrib["default"] = "true"
                xml_elem(f"{{{PODCAST_NS}}}source", elem).attrib["uri"] = alt["url"]
            if self._chapters:
                chapters = xml_elem(f"{{{PSC_NS}}}chapters", item)
                chapters.attrib["version"] = "1.2"
                for ch in self._chapters:
                    elem = xml_elem(f"{{{PSC_NS}}}chapter", chapters)
                    elem.attrib["start"] = format_timestamp(ch["start"])  # normal play time, HH:MM:SS.mmm
                    elem.attrib["title"] = ch["title"]
                    for key in ("href", "image"):
                        if ch.get(key):
                            elem.attrib[key] = ch[key]
            return item

    return ExtrasExtension, ExtrasEntryExtension


def channel_extras(fg, channel: dict) -> None:
    """The channel's optional tags (``channel["extras"]``, built by the feed stage from show.yaml)."""
    fg.extras.set(channel.get("extras") or {})


def item_extras(fe, item: dict) -> None:
    """An item's alternate enclosures (the main file first, as the default, then the smaller copy) and its
    Podlove Simple Chapters."""
    for alt in item.get("alternates") or []:
        fe.extras.alternate_enclosure(**alt)
    if item.get("psc_chapters"):
        fe.extras.psc_chapters(item["psc_chapters"])


_EXTENSIONS: dict | None = None


def new_feed_generator():
    """A FeedGenerator with feedgen's podcast extension and ours registered (namespaces: itunes, podcast)."""
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.load_extension("podcast")
    for name, (feed_cls, entry_cls) in _extension_classes().items():
        fg.register_extension(name, feed_cls, entry_cls, atom=False, rss=True)
    return fg


# --- parts of the model ------------------------------------------------------------------------------------------

def channel_extras_model(meta) -> dict:
    """The optional channel tags a show gives in show.yaml (``ShowMeta``), as JSON-able data."""
    data: dict = {}
    if meta.txt:
        data["txt"] = [{k: v for k, v in {"text": t.text, "purpose": t.purpose}.items() if v} for t in meta.txt]
    if meta.update_frequency:
        f = meta.update_frequency
        data["update_frequency"] = {k: v for k, v in {
            "text": f.text, "rrule": f.rrule, "complete": f.complete,
            "dtstart": f.dtstart.isoformat().replace("+00:00", "Z") if f.dtstart else None}.items() if v}
    if meta.license:
        data["license"] = {k: v for k, v in {"name": meta.license.name, "url": meta.license.url}.items() if v}
    if meta.location:
        loc = meta.location
        data["location"] = {k: v for k, v in {"name": loc.name, "geo": loc.geo, "osm": loc.osm,
                                              "rel": loc.rel}.items() if v}
    for key in ("new_feed_url", "block", "complete"):
        if getattr(meta, key):
            data[key] = getattr(meta, key)
    return data


def item_alternates(base_url: str, slug: str, master: dict, duration: float) -> list[dict]:
    """``podcast:alternateEnclosure`` entries: the main file (the default) and the master stage's smaller copy,
    when it made one. Lengths are the recorded byte sizes (the feed stage checks them against the files)."""
    alt = master.get("alternate")
    if not isinstance(alt, dict) or not alt.get("file") or not isinstance(alt.get("bytes"), int):
        return []
    mime = master.get("mime") or "audio/mpeg"
    size = master.get("bytes")
    main = {"url": url_join(base_url, "episodes", slug, master["file"]), "type": mime, "length": size,
            "bitrate": round(size * 8 / duration) if isinstance(size, int) and duration else None,
            "title": "MP3" if mime == "audio/mpeg" else "AAC", "default": True}
    kbps = round(int(alt.get("bitrate") or 0) / 1000)
    small = {"url": url_join(base_url, "episodes", slug, alt["file"]), "type": alt.get("mime") or "audio/opus",
             "length": alt["bytes"], "bitrate": alt.get("bitrate"), "codecs": alt.get("codecs"),
             "title": f"Smaller file ({str(alt.get('codecs') or 'opus').capitalize()}, {kbps} kb/s)"}
    return [{k: v for k, v in a.items() if v is not None} for a in (main, small)]


def psc_chapters_model(chapters: list[dict]) -> list[dict]:
    """Podlove Simple Chapters from the master stage's (Podcasting 2.0) chapters."""
    out = []
    for ch in chapters or []:
        if ch.get("startTime") is None or not ch.get("title"):
            continue
        item = {"start": float(ch["startTime"]), "title": str(ch["title"])}
        if ch.get("url"):
            item["href"] = ch["url"]
        if ch.get("img"):
            item["image"] = ch["img"]
        out.append(item)
    return out


CONDITION_EXTRAS = ("license", "location", "block", "complete")  # what a condition's feed keeps of the show's


def condition_feed_path(slug: str) -> str:
    return f"conditions/{slug}.xml"


def condition_feed_model(model: dict, condition: dict, base_url: str) -> dict:
    """The feed of one condition: the show's channel retitled, with its own address and podcast:guid, and only
    the items the producer tagged with that condition (``item["conditions"]``; suggestions do not count)."""
    ch = dict(model["channel"])
    self_url = url_join(base_url, *condition_feed_path(condition["slug"]).split("/"))
    ch.update({
        "title": f"{ch['title']}: {condition['short']}",
        "description": f"Episodes of {ch['title']} about {condition['title'][0].lower()}{condition['title'][1:]}"
                       .rstrip(".") + f". {condition['description']}",
        "link": url_join(base_url, "conditions", f"{condition['slug']}.html"),
        "self_url": self_url,
        "guid": podcast_guid(self_url),
        "extras": {k: v for k, v in (ch.get("extras") or {}).items() if k in CONDITION_EXTRAS},
    })
    items = [i for i in model["items"] if condition["slug"] in (i.get("conditions") or [])]
    return {"channel": ch, "items": items, "problems": []}


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
    channel_extras(fg, ch)
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
        item_extras(fe, item)
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
