"""Cleaning what the producer writes before it lands in a page or the feed: one HTML sanitizer (nh3, the Ammonia
library, which parses HTML as a browser does, entities included) with two policies, and the URL check.

- :func:`clean_page`: the episode page's notes (Markdown's output): the tags Markdown makes, links and images only
  with http(s)/mailto or relative addresses.
- :func:`clean_feed`: an RSS description: Apple's allowed tags only (p, a, ul, ol, li, strong, em, br; b, i and
  headings are mapped onto those), relative links made absolute (a feed reader has no page to resolve them from).
- :func:`safe_url`: a URL from metadata (a guest's page, a chapter link) or None when it is not http(s)/mailto or
  relative (``javascript:``, ``data:``, and their entity-encoded or whitespace-split spellings).
"""
from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
PAGE_TAGS = frozenset({"p", "a", "ul", "ol", "li", "strong", "em", "b", "i", "code", "pre", "blockquote", "br", "hr",
                       "h1", "h2", "h3", "h4", "h5", "h6", "img", "dl", "dt", "dd", "span"})
FEED_TAGS = frozenset({"p", "a", "ul", "ol", "li", "strong", "em", "br"})
_FEED_RENAME = {"b": "strong", "i": "em", "h1": "p", "h2": "p", "h3": "p", "h4": "p", "h5": "p", "h6": "p", "dt": "p",
                "dd": "p"}
_DROP_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "template", "noscript", "audio",
                                "video", "head", "title", "svg", "math", "select", "textarea"})
_RENAME_RE = re.compile(r"<(/?)(" + "|".join(_FEED_RENAME) + r")(\s[^>]*)?>", re.I)


def safe_url(url: str | None) -> str | None:
    """``url`` (stripped) when it is relative or http(s)/mailto; None for anything else."""
    if not url:
        return None
    # what a browser would see: entities decoded, control characters and spaces inside the scheme ignored
    cleaned = re.sub(r"[\x00-\x20\x7f]", "", html.unescape(str(url)))
    scheme = urlsplit(cleaned).scheme.lower()
    if scheme and scheme not in SAFE_SCHEMES:
        return None
    return str(url).strip()


def clean_page(fragment: str) -> str:
    """HTML for a page: Markdown's tags kept, links and images only with safe addresses, everything else dropped."""
    import nh3

    return nh3.clean(fragment or "", tags=set(PAGE_TAGS), clean_content_tags=set(_DROP_WITH_CONTENT),
                     attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}},
                     url_schemes=set(SAFE_SCHEMES), link_rel=None)


def clean_feed(fragment: str, base_url: str | None = None) -> str:
    """HTML for an RSS description: Apple's tags only, well nested, relative links made absolute against
    ``base_url``; the text of other tags is kept, scripts and styles are dropped with their content."""
    import nh3

    def absolute(tag: str, attr: str, value: str) -> str | None:
        if tag == "a" and attr == "href":
            if base_url and not urlsplit(value).scheme:
                return urljoin(base_url, value)
        return value

    renamed = _RENAME_RE.sub(lambda m: f"<{m.group(1)}{_FEED_RENAME[m.group(2).lower()]}>", fragment or "")
    text = nh3.clean(renamed, tags=set(FEED_TAGS), clean_content_tags=set(_DROP_WITH_CONTENT),
                     attributes={"a": {"href"}}, attribute_filter=absolute, url_schemes=set(SAFE_SCHEMES),
                     link_rel=None)
    text = re.sub(r"<(p|li|strong|em|ul|ol)>\s*</\1>", "", text)  # empty leftovers
    text = re.sub(r"<a>(.*?)</a>", r"\1", text, flags=re.S)  # links whose address was unsafe
    text = re.sub(r"\n{2,}", "\n", text)
    return text.strip()
