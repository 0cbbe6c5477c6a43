"""The site's search: a small static index of every published episode's notes and transcript, searched in the
browser by ``search.js`` (no server, no framework: any static host serves it).

Files, under ``feeds/search/``:

* ``episodes.json`` - ``{"version": 1, "episodes": [{"slug", "title", "date", "when", "href"}]}``, newest first;
* ``docs/<slug>.json`` - ``{"p": [[start, speaker, text], ...]}``: the episode's title and notes as paragraphs with
  no time (``start`` null), then its transcript's paragraphs with their published start time. Fetched only for
  the episodes a search shows;
* ``index/<key>.json`` - ``{token: [[episode, paragraph, paragraph, ...], ...]}``: for every token, the episodes
  (positions in ``episodes.json``) and paragraphs (positions in ``docs/<slug>.json``) it occurs in, sharded by
  the token's first two characters (:func:`shard_key`), so a query fetches one small file per word.

Tokens are runs of letters and digits after Unicode NFKD, with combining marks dropped and lower-cased
(:func:`tokens`); ``search.js`` tokenizes the query the same way. A query word matches every token it begins
(``kind`` finds ``kindness``); an episode is found when all the query's words occur in it; its moments are the
paragraphs holding the most query words, each a link that seeks the episode's player to that time.

The same input gives the same bytes, so an unchanged build rewrites nothing.
"""
from __future__ import annotations

import json
import re
import unicodedata

SEARCH_DIR = "search"
VERSION = 1
MIN_TOKEN = 2  # shorter tokens are not indexed (and shorter query words ignored)
_TOKEN = re.compile(r"[^\W_]+")  # letters and digits (Python's \w without the underscore)
_SAFE_KEY = re.compile(r"^[a-z0-9]+$")


def tokens(text: str) -> list[str]:
    """The words of ``text`` as indexed: NFKD, combining marks dropped, lower case, letters and digits only."""
    text = text or ""
    if not text.isascii():  # plain ASCII (most English) has nothing to decompose
        text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if unicodedata.category(ch) != "Mn")
    return [t for t in _TOKEN.findall(text.lower()) if len(t) >= MIN_TOKEN]


def shard_key(token: str) -> str:
    """The index file a token lives in: its first two characters when they are a-z/0-9, else ``u`` and their code
    points in hex (``αβγ`` -> ``u3b1-3b2``)."""
    head = token[:2]
    return head if _SAFE_KEY.match(head) else "u" + "-".join(f"{ord(c):x}" for c in head)


def _dump(data) -> bytes:
    return (json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


def build_index(episodes: list[dict]) -> dict[str, bytes]:
    """The search files (path inside ``feeds/`` -> bytes) for ``episodes``: dicts with ``slug``, ``title``,
    ``date`` (ISO), ``when`` (the date as the pages show it), ``notes`` (paragraphs of plain text) and ``transcript`` (paragraphs with ``start``, ``speaker`` and
    ``text``), newest first."""
    from collections import defaultdict

    files: dict[str, bytes] = {}
    postings: dict[str, list[list[int]]] = defaultdict(list)  # token -> [[episode, paragraph, ...], ...]
    listing = []
    for e_index, ep in enumerate(episodes):
        listing.append({"slug": ep["slug"], "title": ep["title"], "date": ep["date"][:10],
                        "when": ep.get("when") or ep["date"][:10], "href": f"episodes/{ep['slug']}/notes.html"})
        paragraphs: list[list] = [[None, None, ep["title"]]]
        paragraphs += [[None, None, text] for text in ep.get("notes") or [] if text.strip()]
        paragraphs += [[round(float(p["start"]), 2), p.get("speaker"), p["text"]]
                       for p in ep.get("transcript") or [] if p.get("text", "").strip()]
        found: dict[str, list[int]] = defaultdict(list)
        for p_index, (_, _, text) in enumerate(paragraphs):
            for token in set(tokens(text)):
                found[token].append(p_index)
        for token, paras in found.items():
            postings[token].append([e_index, *paras])
        files[f"{SEARCH_DIR}/docs/{ep['slug']}.json"] = _dump({"p": paragraphs})
    files[f"{SEARCH_DIR}/episodes.json"] = _dump({"version": VERSION, "episodes": listing})
    shards: dict[str, dict[str, list]] = defaultdict(dict)
    for token, lists in postings.items():
        shards[shard_key(token)][token] = lists
    for key, shard in shards.items():
        files[f"{SEARCH_DIR}/index/{key}.json"] = _dump(shard)
    return files
