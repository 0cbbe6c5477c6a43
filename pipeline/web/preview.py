"""The local preview server's request handler (``kindcast serve``): static files from ``feeds/`` as a static host
serves them, including byte ranges (HTTP 206), without which a browser cannot seek an episode's player, and the
media types of the files kindcast publishes."""
from __future__ import annotations

import http.server
import os
import re

MEDIA_TYPES = {".opus": "audio/ogg", ".m4a": "audio/mp4", ".mp3": "audio/mpeg", ".vtt": "text/vtt",
               ".srt": "application/x-subrip", ".json": "application/json", ".xml": "application/xml",
               ".js": "text/javascript"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class PreviewHandler(http.server.SimpleHTTPRequestHandler):
    """``functools.partial(PreviewHandler, directory=...)``; answers one ``Range: bytes=a-b`` with 206."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MEDIA_TYPES}
    _remaining: int | None = None

    def log_message(self, format, *args):  # quiet: the command prints where it serves
        pass

    def end_headers(self):
        if self._remaining is None:
            self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):
        self._remaining = None
        wanted = _RANGE.fullmatch((self.headers.get("Range") or "").strip())
        path = self.translate_path(self.path)
        if wanted is None or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        first, last = wanted.groups()
        if first == "":  # the last N bytes
            first, last = max(0, size - int(last or 0)), size - 1
        else:
            first, last = int(first), min(int(last), size - 1) if last else size - 1
        if first >= size or first > last:
            self._remaining = 0
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        handle = open(path, "rb")
        handle.seek(first)
        self._remaining = last - first + 1
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(self._remaining))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return handle

    def copyfile(self, source, outputfile):
        if self._remaining is None:
            return super().copyfile(source, outputfile)
        left = self._remaining
        while left > 0:
            chunk = source.read(min(1 << 16, left))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)
