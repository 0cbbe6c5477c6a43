"""Real servers on 127.0.0.1 for the publishing tests: an S3 API (moto's server), an SFTP server (asyncssh) and an
HTTP server that records the notifications it receives. Each runs in a thread of the test process; the kindcast
under test runs in its own process and reaches them over loopback like any other client."""
from __future__ import annotations

import asyncio
import contextlib
import http.server
import logging
import os
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path


# --- S3 -------------------------------------------------------------------------------------------------------------

class RequestLog(logging.Handler):
    """The S3 server's own access log (werkzeug), to count PUTs the server received."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def puts(self, bucket: str) -> list[str]:
        """Keys written (PUT or multipart start), in order received."""
        keys = []
        for line in self.lines:
            for verb in ('"PUT /', '"POST /'):
                if verb + bucket + "/" in line:
                    path = line.split(verb + bucket + "/", 1)[1].split(" ", 1)[0]
                    key = urllib.parse.unquote(path.split("?", 1)[0])
                    if verb == '"PUT /' and "uploadId=" in path:
                        continue  # a part of a multipart upload already counted at its start
                    if verb == '"POST /' and "uploads" not in path.split("?", 1)[-1]:
                        continue
                    keys.append(key)
        return keys


@contextlib.contextmanager
def s3_server():
    """(endpoint URL, request log) of a moto S3 server on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    log = RequestLog()
    wlog = logging.getLogger("werkzeug")
    wlog.addHandler(log)
    wlog.setLevel(logging.INFO)
    wlog.propagate = False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}", log
    finally:
        server.stop()
        wlog.removeHandler(log)


# --- SFTP -----------------------------------------------------------------------------------------------------------

@dataclass
class SFTPServer:
    port: int
    root: Path  # what the server shows as "/"
    home: Path  # a HOME for the client: ~/.ssh/config, id_ed25519, known_hosts
    budget: dict = field(default_factory=lambda: {"files": None})  # files it accepts before "disk full"


@contextlib.contextmanager
def sftp_server(tmp: Path, user: str = "pod"):
    """An SFTP server (asyncssh) on 127.0.0.1 that lets ``user`` in with a key written to a fresh HOME, whose
    ~/.ssh/known_hosts trusts the server. ``server.budget["files"] = N`` makes it fail the (N+1)-th file half-way."""
    import asyncssh

    root, home = tmp / "sftp-root", tmp / "home"
    root.mkdir(parents=True)
    (home / ".ssh").mkdir(parents=True)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(home / ".ssh" / "id_ed25519"))
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    budget = {"files": None}

    class Server(asyncssh.SSHServer):
        def begin_auth(self, username: str) -> bool:
            return True

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key) -> bool:
            return username == user and key.public_data == client_key.public_data

    class LimitedSFTP(asyncssh.SFTPServer):
        """Fails the write of the file after the budget, half-way through (a full disk)."""

        def open(self, path, pflags, attrs):
            handle = super().open(path, pflags, attrs)
            if pflags & asyncssh.FXF_WRITE and budget["files"] is not None:
                budget["files"] -= 1
                if budget["files"] < 0:
                    self._failing = handle
            return handle

        def write(self, file_obj, offset, data):
            if getattr(self, "_failing", None) is file_obj:
                super().write(file_obj, offset, data[: len(data) // 2])
                raise asyncssh.SFTPFailure("disk full")
            return super().write(file_obj, offset, data)

    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict = {}

    async def start() -> None:
        state["server"] = await asyncssh.create_server(
            Server, "127.0.0.1", 0, server_host_keys=[host_key],
            sftp_factory=lambda chan: LimitedSFTP(chan, chroot=str(root).encode()))
        state["port"] = state["server"].sockets[0].getsockname()[1]
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    started.wait(10)
    port = state["port"]
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} " + host_key.export_public_key().decode())
    (home / ".ssh" / "config").write_text(f"Host podhost\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n")
    server = SFTPServer(port, root, home, budget)
    try:
        yield server
    finally:
        async def stop() -> None:
            state["server"].close()
            await state["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


# --- notifications --------------------------------------------------------------------------------------------------

@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    form: dict
    headers: dict


@contextlib.contextmanager
def notification_server():
    """(base URL, list of Recorded requests, failing paths): answers 204, or 500 for a path in the failing set."""
    received: list[Recorded] = []
    failing: set[str] = set()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self, body: bytes) -> None:
            parts = urllib.parse.urlsplit(self.path)
            received.append(Recorded(self.command, parts.path, dict(urllib.parse.parse_qsl(parts.query)),
                                     dict(urllib.parse.parse_qsl(body.decode())), dict(self.headers)))
            self.send_response(500 if parts.path in failing else 204)
            self.end_headers()

        def do_GET(self) -> None:
            self._record(b"")

        def do_POST(self) -> None:
            self._record(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received, failing
    finally:
        httpd.shutdown()
        httpd.server_close()
