"""Where a published tree goes: a local folder, an S3-compatible bucket, or a server over SFTP, behind one interface.

Every destination stores files under relative POSIX paths (``episodes/ep-1/ep-1.mp3``) and replaces a file whole: a
reader sees the old bytes or the new ones, never half (folder and SFTP upload to a temporary name and rename it; an S3
PUT is atomic). Credentials come only from the standard places: the AWS chain (environment, ``~/.aws/``, instance
roles) for S3, the SSH agent, ``~/.ssh/config`` and ``~/.ssh/`` keys for SFTP; never from show.yaml.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

from pipeline.errors import KindcastError

TEMP_PREFIX = ".kindcast-upload-"  # a destination's own temporary names; left-overs are removed by the next publish
SCHEMES = ("s3", "sftp", "file")
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


# --- what the producer wrote -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DestinationSpec:
    """A parsed destination: ``kind`` is folder, s3 or sftp."""

    kind: str
    text: str  # as the producer wrote it
    path: str = ""  # folder path, S3 key prefix ('' or ending in '/'), or remote path
    bucket: str = ""
    host: str = ""
    port: int | None = None
    user: str | None = None


def parse_destination(text: str) -> DestinationSpec:
    """``s3://bucket/prefix/``, ``sftp://user@host[:port]/path`` (``/~/path``: under the login's home), or a folder
    (a path, or ``file:///path``). Raises ValueError with a one-line reason."""
    text = str(text).strip()
    if not text:
        raise ValueError("empty destination")
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if not match:
        return DestinationSpec("folder", text, path=text)
    scheme = match.group(1).lower()
    if scheme not in SCHEMES:
        raise ValueError(f"unknown destination scheme '{scheme}://' (use a folder, s3://bucket/prefix/ or "
                         "sftp://user@host/path)")
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        raise ValueError("a destination has no '?query' or '#fragment'")
    if parts.password is not None:
        raise ValueError("no passwords in show.yaml: SFTP logs in with the SSH agent, ~/.ssh/config or your keys")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError("file:// destinations are local folders: file:///path/to/folder")
        return DestinationSpec("folder", text, path=unquote(parts.path))
    if scheme == "s3":
        bucket = parts.netloc
        if parts.username is not None or not _BUCKET_RE.match(bucket or ""):
            raise ValueError(f"'{bucket}' is not an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)")
        prefix = unquote(parts.path).strip("/")
        if any(seg in ("", ".", "..") for seg in prefix.split("/")) and prefix:
            raise ValueError(f"bad key prefix '{prefix}'")
        return DestinationSpec("s3", text, path=prefix + "/" if prefix else "", bucket=bucket)
    # sftp
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port must be a number, e.g. sftp://user@host:2222/path") from None
    if not parts.hostname:
        raise ValueError("no host: write sftp://user@host/path")
    path = unquote(parts.path)
    if not path.strip("/"):
        raise ValueError("no remote folder: write sftp://user@host/path/to/folder")
    if ".." in path.split("/"):
        raise ValueError("'..' is not allowed in the remote folder")
    if path.startswith("/~/"):
        path = path[3:]  # relative: under the login's home folder
    return DestinationSpec("sftp", text, path=path.rstrip("/"), host=parts.hostname, port=port,
                           user=unquote(parts.username) if parts.username else None)


# --- the interface -----------------------------------------------------------------------------------------------

class Destination:
    """One place a published tree is sent to. Paths are relative POSIX paths under the destination's root."""

    label: str = ""
    sets_headers: bool = False  # True when Content-Type / Cache-Control travel with each file (S3)

    def list(self) -> dict[str, int]:
        """Every file under the destination: relative path -> size in bytes."""
        raise NotImplementedError

    def read(self, rel: str) -> bytes | None:
        """A small file's bytes (the manifest), or None when it is not there."""
        raise NotImplementedError

    def upload(self, rel: str, local: Path, content_type: str, cache_control: str) -> None:
        """Put ``local`` at ``rel``, replacing any file there whole."""
        raise NotImplementedError

    def write(self, rel: str, data: bytes, content_type: str, cache_control: str) -> None:
        raise NotImplementedError

    def delete(self, rel: str) -> None:
        """Remove ``rel`` (no error when it is already gone)."""
        raise NotImplementedError

    def create(self, rel: str, data: bytes) -> bool:
        """Write ``data`` at ``rel`` only when nothing is there, in one step no other client can come between: True
        when written, False when ``rel`` already exists (the publish lock)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "Destination":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_destination(spec: DestinationSpec, *, root: Path, output_dir: Path, endpoint_url: str | None = None,
                     relative_to: Path | None = None) -> Destination:
    """Connect to the destination ``spec`` names. A relative folder is taken from ``relative_to`` (default: the
    show's root, as for ``publish.to``; the current folder for ``--to``)."""
    if spec.kind == "folder":
        return FolderDestination(_folder_path(spec, Path(relative_to or root), root, output_dir))
    if spec.kind == "s3":
        return S3Destination(spec.bucket, spec.path, endpoint_url=endpoint_url)
    return SFTPDestination(spec)


def _folder_path(spec: DestinationSpec, base: Path, root: Path, output_dir: Path) -> Path:
    path = Path(os.path.expanduser(spec.path))
    path = (path if path.is_absolute() else base / path).resolve()
    out, root = Path(output_dir).resolve(), Path(root).resolve()
    if path == out or out in path.parents or path in out.parents:
        raise KindcastError(f"{spec.text}: the destination overlaps the built tree {out}; publish to another folder")
    if path == root / "episodes" or (root / "episodes") in path.parents:
        raise KindcastError(f"{spec.text}: the destination is inside episodes/; publish to another folder")
    return path


# --- a local folder ----------------------------------------------------------------------------------------------

class FolderDestination(Destination):
    """A folder on this machine (or a mounted share), e.g. the document root nginx serves."""

    def __init__(self, path: Path):
        self.root = Path(path)
        self.label = str(self.root)

    def _path(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents:
            raise KindcastError(f"refusing to write outside {self.root}: {rel}")
        return path

    def list(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for folder, _dirs, names in os.walk(self.root):
            rel_dir = os.path.relpath(folder, self.root).replace(os.sep, "/")
            prefix = "" if rel_dir == "." else rel_dir + "/"
            for name in names:
                with contextlib.suppress(FileNotFoundError):
                    found[prefix + name] = os.stat(os.path.join(folder, name)).st_size
        return found

    def read(self, rel: str) -> bytes | None:
        try:
            return self._path(rel).read_bytes()
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _replacing(self, rel: str) -> Iterator[Path]:
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{path.name}")
        try:
            yield tmp
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def upload(self, rel: str, local: Path, content_type: str, cache_control: str) -> None:
        with self._replacing(rel) as tmp:
            shutil.copyfile(local, tmp)

    def write(self, rel: str, data: bytes, content_type: str, cache_control: str) -> None:
        with self._replacing(rel) as tmp:
            tmp.write_bytes(data)

    def create(self, rel: str, data: bytes) -> bool:
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True

    def delete(self, rel: str) -> None:
        path = self._path(rel)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        parent = path.parent
        while parent != self.root.resolve() and self.root.resolve() in parent.parents:
            try:
                parent.rmdir()  # only when empty
            except OSError:
                break
            parent = parent.parent


# --- S3 and S3-compatible services -------------------------------------------------------------------------------

class S3Destination(Destination):
    """An S3 bucket (AWS, or an S3-compatible service through ``endpoint_url``: R2, B2, MinIO, Spaces...)."""

    sets_headers = True

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None = None):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix
        self.label = f"s3://{bucket}/{prefix}"
        custom = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        config = Config(
            # Several S3-compatible services reject the newer default checksums; AWS accepts both.
            request_checksum_calculation="when_required", response_checksum_validation="when_required",
            s3={"addressing_style": "path"} if custom else {},
            retries={"mode": "standard", "max_attempts": 4},
        )
        with self._errors():
            self.client = boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

        try:
            yield
        except (NoCredentialsError, PartialCredentialsError):
            raise KindcastError(f"{self.label}: no AWS credentials found: set AWS_ACCESS_KEY_ID and "
                                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or write ~/.aws/credentials") from None
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise KindcastError(f"{self.label}: {err.get('Code', 'error')}: {err.get('Message') or exc}") from None
        except (BotoCoreError, S3UploadFailedError) as exc:
            raise KindcastError(f"{self.label}: {exc}") from None

    def _key(self, rel: str) -> str:
        return self.prefix + rel

    def list(self) -> dict[str, int]:
        found: dict[str, int] = {}
        with self._errors():
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
                for obj in page.get("Contents", []):
                    found[obj["Key"][len(self.prefix):]] = int(obj["Size"])
        return found

    def read(self, rel: str) -> bytes | None:
        with self._errors():
            try:
                return self.client.get_object(Bucket=self.bucket, Key=self._key(rel))["Body"].read()
            except self.client.exceptions.NoSuchKey:
                return None

    def upload(self, rel: str, local: Path, content_type: str, cache_control: str) -> None:
        with self._errors():
            self.client.upload_file(str(local), self.bucket, self._key(rel),
                                    ExtraArgs={"ContentType": content_type, "CacheControl": cache_control})

    def write(self, rel: str, data: bytes, content_type: str, cache_control: str) -> None:
        with self._errors():
            self.client.put_object(Bucket=self.bucket, Key=self._key(rel), Body=data, ContentType=content_type,
                                   CacheControl=cache_control)

    def create(self, rel: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        put = {"Bucket": self.bucket, "Key": self._key(rel), "Body": data, "ContentType": "application/json",
               "CacheControl": "no-store"}
        with self._errors():
            try:  # a conditional write (If-None-Match: *): refused with 412 when the key exists (409: being written)
                self.client.put_object(**put, IfNoneMatch="*")
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409"):
                    return False
                if code not in ("NotImplemented", "501"):
                    raise
                # a service without conditional writes: look, then write (two machines starting within the same
                # second could both get through)
                if self.read(rel) is not None:
                    return False
                self.client.put_object(**put)
        return True

    def delete(self, rel: str) -> None:
        with self._errors():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(rel))


# --- SFTP ----------------------------------------------------------------------------------------------------------

class SFTPDestination(Destination):
    """A folder on a server reached over SFTP (a VPS running nginx), through asyncssh.

    Host, port, user and keys follow ``~/.ssh/config``; keys come from the SSH agent or ``~/.ssh/``; the server's
    host key must already be in ``~/.ssh/known_hosts`` (connect once with ``ssh`` to check and accept it).
    """

    def __init__(self, spec: DestinationSpec):
        import asyncssh

        self._asyncssh = asyncssh
        self.label = spec.text
        self.base = spec.path
        self._loop = asyncio.new_event_loop()
        self._made: set[str] = set()
        options = {}
        if spec.port:
            options["port"] = spec.port
        if spec.user:
            options["username"] = spec.user
        try:
            self._conn = self._run(asyncssh.connect(spec.host, **options))
            self._sftp = self._run(self._conn.start_sftp_client())
        except BaseException:
            self._loop.close()
            raise

    def _run(self, coro):
        asyncssh = self._asyncssh
        try:
            return self._loop.run_until_complete(coro)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise KindcastError(f"{self.label}: the server's host key is not in ~/.ssh/known_hosts ({exc.reason}); "
                                "connect once with ssh to check and accept it") from None
        except asyncssh.PermissionDenied:
            raise KindcastError(f"{self.label}: the server refused the login: add your key to the SSH agent, "
                                "~/.ssh/ or IdentityFile in ~/.ssh/config") from None
        except asyncssh.SFTPError as exc:
            raise KindcastError(f"{self.label}: {exc.reason}") from None
        except (asyncssh.Error, OSError) as exc:
            raise KindcastError(f"{self.label}: {getattr(exc, 'reason', None) or exc}") from None

    def _remote(self, rel: str) -> str:
        return posixpath.join(self.base, rel)

    def list(self) -> dict[str, int]:
        found: dict[str, int] = {}

        async def walk(folder: str, rel: str) -> None:
            async for entry in self._sftp.scandir(folder):
                name = entry.filename
                if name in (".", ".."):
                    continue
                child = f"{rel}{name}"
                if entry.attrs.type == self._asyncssh.FILEXFER_TYPE_DIRECTORY:
                    await walk(posixpath.join(folder, name), child + "/")
                elif entry.attrs.type == self._asyncssh.FILEXFER_TYPE_REGULAR:
                    found[child] = int(entry.attrs.size or 0)

        async def run() -> None:
            if await self._sftp.isdir(self.base):
                await walk(self.base, "")

        self._run(run())
        return found

    def read(self, rel: str) -> bytes | None:
        async def run() -> bytes | None:
            try:
                async with self._sftp.open(self._remote(rel), "rb") as fh:
                    return await fh.read()
            except self._asyncssh.SFTPNoSuchFile:
                return None

        return self._run(run())

    async def _mkdirs(self, folder: str) -> None:
        if folder and folder not in self._made:
            await self._sftp.makedirs(folder, exist_ok=True)
            self._made.add(folder)

    async def _replace(self, tmp: str, final: str) -> None:
        try:
            await self._sftp.posix_rename(tmp, final)
        except self._asyncssh.SFTPOpUnsupported:  # servers without the OpenSSH extension: remove, then rename
            with contextlib.suppress(self._asyncssh.SFTPNoSuchFile):
                await self._sftp.remove(final)
            await self._sftp.rename(tmp, final)

    def _tmp(self, final: str) -> str:
        folder, name = posixpath.split(final)
        return posixpath.join(folder, f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{name}")

    def upload(self, rel: str, local: Path, content_type: str, cache_control: str) -> None:
        final = self._remote(rel)
        tmp = self._tmp(final)

        async def run() -> None:
            await self._mkdirs(posixpath.dirname(final))
            await self._sftp.put(str(local), tmp)
            await self._replace(tmp, final)

        self._run(run())

    def write(self, rel: str, data: bytes, content_type: str, cache_control: str) -> None:
        final = self._remote(rel)
        tmp = self._tmp(final)

        async def run() -> None:
            await self._mkdirs(posixpath.dirname(final))
            async with self._sftp.open(tmp, "wb") as fh:
                await fh.write(data)
            await self._replace(tmp, final)

        self._run(run())

    def create(self, rel: str, data: bytes) -> bool:
        final = self._remote(rel)

        async def run() -> bool:
            await self._mkdirs(posixpath.dirname(final))
            try:
                async with self._sftp.open(final, "xb") as fh:  # O_CREAT | O_EXCL on the server
                    await fh.write(data)
            except self._asyncssh.SFTPFileAlreadyExists:
                return False
            except self._asyncssh.SFTPFailure:
                if await self._sftp.exists(final):  # SFTP version 3 servers say only "failure"
                    return False
                raise
            return True

        return self._run(run())

    def delete(self, rel: str) -> None:
        async def run() -> None:
            with contextlib.suppress(self._asyncssh.SFTPNoSuchFile):
                await self._sftp.remove(self._remote(rel))
            parent = posixpath.dirname(rel)
            while parent:
                try:
                    await self._sftp.rmdir(self._remote(parent))  # only when empty
                except self._asyncssh.SFTPError:
                    break
                parent = posixpath.dirname(parent)

        self._run(run())

    def close(self) -> None:
        try:
            self._sftp.exit()
            self._conn.close()
            self._loop.run_until_complete(self._conn.wait_closed())
        except (self._asyncssh.Error, OSError):
            pass  # the connection is already gone; nothing left to tidy
        finally:
            self._loop.close()
