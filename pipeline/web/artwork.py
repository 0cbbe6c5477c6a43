"""Artwork as published: the names it is published under and small thumbnails for the pages."""
from __future__ import annotations

from pathlib import Path, PurePosixPath


def published_artwork_name(name: str) -> str:
    """The name artwork is published under: its file name with a lower-case ``.jpg``/``.png`` suffix (feedgen and
    Apple only take those two; ``cover.JPEG`` becomes ``cover.jpg``)."""
    path = PurePosixPath(str(name).replace("\\", "/"))
    suffix = path.suffix.lower()
    return path.stem + (".jpg" if suffix in (".jpg", ".jpeg") else suffix)


THUMB_SIZE = 240  # px a side: sharp for the 40-160 px images on the pages, on a 2x phone screen


def thumb_name(artwork: str) -> str:
    """The file name of an artwork's thumbnail, published beside the artwork."""
    return f"{Path(artwork).stem}-{THUMB_SIZE}.jpg"


def thumbnail_bytes(src: Path, size: int = THUMB_SIZE) -> bytes:
    """A small JPEG of ``src`` for the pages (podcast artwork is 1400-3000 px: megabytes a phone should not fetch
    for a 72 px image). The same input gives the same bytes, so an unchanged build rewrites nothing."""
    import io

    from PIL import Image

    with Image.open(src) as img:
        img.draft("RGB", (size, size))  # JPEG sources decode at a reduced scale: much faster
        small = img.convert("RGB")
        small.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    return buffer.getvalue()
