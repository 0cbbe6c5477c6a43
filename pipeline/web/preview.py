"""``kindcast serve``: the published tree over HTTP on this machine, as a static host serves it, with the media types
of the files kindcast publishes.

Players seek (and chapter links jump) with byte-range requests, so a file is served whole (200) or in part: one
range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` gets 206 Partial Content with its Content-Range; a range that starts
past the end gets 416; several ranges at once, or a range that is not well formed, get the whole file (RFC 9110
lets a server ignore a Range header). ``If-Range`` with a date other than the file's own asks for the whole file.
Every file answer says ``Accept-Ranges: bytes``. Folders, index.html and errors are the standard library's. It
listens on 127.0.0.1 unless told otherwise: it is a preview, not a host.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
from pathlib import Path
from typing import Callable

DEFAULT_BIND = "127.0.0.1"
MEDIA_TYPES = {".opus": "audio/ogg", ".m4a": "audio/mp4", ".mp3": "audio/mpeg", ".vtt": "text/vtt",
               ".srt": "application/x-subrip", ".json": "application/json", ".xml": "application/xml",
               ".js": "text/javascript"}
_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


class Unsatisfiable(Exception):
    """The range starts at or after the end of the file (answered with 416)."""


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte a Range header asks for, or None to send the whole file.

    Raises Unsatisfiable when no byte of the file is in the range.
    """
    if not header:
        return None
    match = _RANGE.match(header)
    if match is None:  # not a single byte range (several ranges, another unit, a typo): the whole file
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # bytes=-n: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - n), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid: ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(int(last), size - 1) if last else size - 1


class PreviewHandler(http.server.SimpleHTTPRequestHandler):
    """``functools.partial(PreviewHandler, directory=...)``: the standard library's static file handler, answering
    byte ranges; quiet (the command prints where it serves)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **MEDIA_TYPES}
    _window: tuple[int, int] | None = None  # the part of the open file this response sends

    def log_message(self, format, *args):
        pass

    def send_head(self):
        self._window = None
        path = self.translate_path(self.path)
        header = self.headers.get("Range")
        if not header or not os.path.isfile(path) or self.path.split("?", 1)[0].split("#", 1)[0].endswith("/"):
            return super().send_head()  # whole files (Accept-Ranges added below), folders, redirects, 404s
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(http.HTTPStatus.NOT_FOUND, "File not found")
            return None
        try:
            st = os.fstat(f.fileno())
            size = st.st_size
            modified = self.date_time_string(int(st.st_mtime))
            condition = self.headers.get("If-Range")
            try:
                window = byte_range(header, size) if condition is None or condition.strip() == modified else None
            except Unsatisfiable:
                f.close()
                self.send_response(http.HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            if window is None:
                self.send_response(http.HTTPStatus.OK)
                self.send_header("Content-Length", str(size))
            else:
                first, last = window
                self.send_response(http.HTTPStatus.PARTIAL_CONTENT)
                self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                self.send_header("Content-Length", str(last - first + 1))
                self._window = window
            self.send_header("Content-type", self.guess_type(path))
            self.send_header("Last-Modified", modified)
            self.end_headers()
            return f
        except BaseException:
            f.close()
            raise

    def end_headers(self):
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def copyfile(self, source, outputfile) -> None:
        if self._window is None:
            return super().copyfile(source, outputfile)
        first, last = self._window
        source.seek(first)
        left = last - first + 1
        while left > 0:
            chunk = source.read(min(left, 1 << 16))
            if not chunk:
                break
            outputfile.write(chunk)
            left -= len(chunk)


def make_server(folder: Path, bind: str = DEFAULT_BIND, port: int = 8000) -> http.server.ThreadingHTTPServer:
    """A server of ``folder`` (not yet serving: call ``serve_forever``); port 0 picks a free port."""
    return http.server.ThreadingHTTPServer((bind, port), functools.partial(PreviewHandler, directory=str(folder)))


def serve(folder: Path, bind: str = DEFAULT_BIND, port: int = 8000,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve ``folder`` until interrupted; ``ready(url)`` is called once it listens."""
    with make_server(folder, bind, port) as httpd:
        host, real_port = httpd.server_address[:2]
        if ready is not None:
            ready(f"http://{host}:{real_port}/")
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
