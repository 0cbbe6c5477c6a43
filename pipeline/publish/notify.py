"""Telling the podcast world that the feed changed: WebSub hubs, Podcast Index and podping, behind one interface.

Each notifier sends one HTTP request with the feed's URL (urllib from the standard library) and reports failure as
a one-line reason instead of raising, so that a failed ping never undoes an upload: publish records it and retries
at the next publish.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

PODCASTINDEX_URL = "https://api.podcastindex.org/api/1.0/hub/pubnotify"
PODPING_URL = "https://podping.cloud/"
PODPING_TOKEN_ENV = "PODPING_TOKEN"
TIMEOUT = 20.0


def _user_agent() -> str:
    from pipeline import __version__

    return f"kindcast/{__version__}"


class Notifier:
    """One place to tell. ``key`` names it in the manifest's list of pending notifications."""

    kind = ""

    def __init__(self, url: str):
        self.url = url

    @property
    def key(self) -> str:
        return f"{self.kind} {self.url}"

    def request(self, feed_url: str) -> urllib.request.Request:
        raise NotImplementedError

    def send(self, feed_url: str) -> str | None:
        """Notify; None on success, else why it failed (one line)."""
        try:
            req = self.request(feed_url)
        except ValueError as exc:
            return str(exc)
        req.add_header("User-Agent", _user_agent())
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
                resp.read(65536)
                return None
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code} {exc.reason}"
        except urllib.error.URLError as exc:
            return f"cannot reach {urllib.parse.urlsplit(self.url).netloc}: {exc.reason}"
        except (OSError, ValueError) as exc:  # timeouts, resets, malformed answers
            return str(exc) or type(exc).__name__

    def __str__(self) -> str:
        return self.key


class WebSubHub(Notifier):
    """A WebSub hub: ``POST hub.mode=publish&hub.url=<feed URL>`` (the feed announces the hub with
    ``<atom:link rel="hub">``)."""

    kind = "websub"

    def request(self, feed_url: str) -> urllib.request.Request:
        body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode()
        return urllib.request.Request(self.url, data=body, method="POST",
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})


class PodcastIndex(Notifier):
    """Podcast Index's pubnotify: ``GET <url>?url=<feed URL>`` (no key needed)."""

    kind = "podcastindex"

    def request(self, feed_url: str) -> urllib.request.Request:
        return urllib.request.Request(_with_query(self.url, {"url": feed_url}), method="GET")


class Podping(Notifier):
    """podping through a podping.cloud front-end: ``GET <url>?url=<feed URL>&reason=update&medium=<medium>`` with the
    token from ``PODPING_TOKEN`` in the Authorization header."""

    kind = "podping"

    def __init__(self, url: str, medium: str = "podcast"):
        super().__init__(url)
        self.medium = medium

    def request(self, feed_url: str) -> urllib.request.Request:
        token = os.environ.get(PODPING_TOKEN_ENV, "").strip()
        if not token:
            raise ValueError(f"{PODPING_TOKEN_ENV} is not set (podping.cloud gives publishers a token)")
        query = {"url": feed_url, "reason": "update", "medium": self.medium}
        return urllib.request.Request(_with_query(self.url, query), method="GET", headers={"Authorization": token})


def _with_query(url: str, params: dict) -> str:
    return url + ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(params)


def notifiers_for(settings, medium: str = "podcast") -> list[Notifier]:
    """Everyone the show's ``publish:`` section asks to tell, in a stable order."""
    found: list[Notifier] = [WebSubHub(url) for url in settings.websub]
    if settings.podcastindex:
        found.append(PodcastIndex(settings.podcastindex if isinstance(settings.podcastindex, str) else PODCASTINDEX_URL))
    if settings.podping:
        found.append(Podping(settings.podping if isinstance(settings.podping, str) else PODPING_URL, medium))
    return found
