"""Tags and chapters in the published file: ID3 (with CHAP/CTOC chapters) for MP3, MP4 atoms for M4A (mutagen)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pipeline.timeline import Timeline


@dataclass(frozen=True)
class ChapterMark:
    """A chapter as the producer wrote it: ``start`` in raw-recording seconds."""

    start: float
    title: str
    url: str | None = None
    img: str | None = None


@dataclass(frozen=True)
class TagInfo:
    title: str | None = None
    album: str | None = None  # the show
    artist: str | None = None  # the show's author
    track: int | None = None
    date: str | None = None  # YYYY-MM-DD
    artwork: Path | None = None
    genre: str = "Podcast"
    comment: str | None = None



def remap_chapters(chapters: Sequence[ChapterMark], timeline: Timeline, duration: float) -> list[dict]:
    """Chapters on the published audio, in Podcasting 2.0 JSON form.

    A chapter inside a removed stretch moves to where the audio resumes; one after everything kept is dropped; when
    two land on the same time, the later one (whose content survived) wins. Intro music comes before the first
    chapter (its times are shifted by the intro's length, as the timeline says).
    """
    out: list[dict] = []
    for ch in chapters:
        t = timeline.to_published(ch.start)
        if t is None or t >= duration - 0.5:
            continue
        item = {"startTime": round(t, 3), "title": ch.title}
        if ch.url:
            item["url"] = ch.url
        if ch.img and re.match(r"^https?://", ch.img):
            item["img"] = ch.img
        if out and abs(out[-1]["startTime"] - item["startTime"]) < 0.001:
            out[-1] = item
        else:
            out.append(item)
    return out


def chapters_json(chapters: Sequence[dict]) -> str:
    """The Podcasting 2.0 chapters file (``chapters.json``) for chapters on the published timeline."""
    return json.dumps({"version": "1.2.0", "chapters": list(chapters)}, indent=2, ensure_ascii=False) + "\n"


def _image_mime(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(8)
    return "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"


def write_tags(path: Path, fmt: str, tags: TagInfo | None, chapters: Sequence[dict], duration: float) -> None:
    """Tags (and chapters where the format carries them in tags) for ``fmt``: mp3, m4a or opus."""
    if fmt == "mp3":
        _write_id3(path, tags or TagInfo(), chapters, duration)
    elif fmt == "opus":
        _write_vorbis(path, tags or TagInfo(), chapters)
    else:
        _write_mp4(path, tags or TagInfo())


def _write_vorbis(path: Path, tags: TagInfo, chapters: Sequence[dict]) -> None:
    """Vorbis comments of an Ogg Opus file, chapters as CHAPTERnnn / CHAPTERnnnNAME (the Vorbis chapter extension);
    no cover art (the smaller copy stays small)."""
    from mutagen.oggopus import OggOpus

    from pipeline.timeline import format_timestamp

    audio = OggOpus(str(path))
    audio.delete()
    values = {"title": tags.title, "album": tags.album, "artist": tags.artist, "date": tags.date,
              "genre": tags.genre, "comment": tags.comment,
              "tracknumber": str(tags.track) if tags.track is not None else None}
    for key, value in values.items():
        if value:
            audio[key] = [value]
    for i, ch in enumerate(chapters, start=1):
        audio[f"CHAPTER{i:03d}"] = [format_timestamp(ch["startTime"])]
        audio[f"CHAPTER{i:03d}NAME"] = [ch["title"]]
    audio.save()


def _write_id3(path: Path, tags: TagInfo, chapters: Sequence[dict], duration: float) -> None:
    from mutagen.id3 import APIC, CHAP, COMM, CTOC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK, WXXX, CTOCFlags
    from mutagen.id3 import ID3NoHeaderError

    try:
        id3 = ID3(str(path))
    except ID3NoHeaderError:
        id3 = ID3()
    id3.clear()
    if tags.title:
        id3.add(TIT2(encoding=3, text=[tags.title]))
    if tags.album:
        id3.add(TALB(encoding=3, text=[tags.album]))
    if tags.artist:
        id3.add(TPE1(encoding=3, text=[tags.artist]))
        id3.add(TPE2(encoding=3, text=[tags.artist]))
    if tags.track is not None:
        id3.add(TRCK(encoding=3, text=[str(tags.track)]))
    if tags.date:
        id3.add(TDRC(encoding=3, text=[tags.date]))
    if tags.genre:
        id3.add(TCON(encoding=3, text=[tags.genre]))
    if tags.comment:
        id3.add(COMM(encoding=3, lang="eng", desc="", text=[tags.comment]))
    if tags.artwork is not None:
        data = Path(tags.artwork).read_bytes()
        id3.add(APIC(encoding=3, mime=_image_mime(tags.artwork), type=3, desc="Cover", data=data))
    if chapters:
        ids = [f"chp{i}" for i in range(len(chapters))]
        id3.add(CTOC(element_id="toc", flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED, child_element_ids=ids,
                     sub_frames=[TIT2(encoding=3, text=["Chapters"])]))
        for i, ch in enumerate(chapters):
            start = int(round(ch["startTime"] * 1000))
            end = int(round((chapters[i + 1]["startTime"] if i + 1 < len(chapters) else duration) * 1000))
            subs = [TIT2(encoding=3, text=[ch["title"]])]
            if ch.get("url"):
                subs.append(WXXX(encoding=3, desc="chapter url", url=ch["url"]))
            id3.add(CHAP(element_id=ids[i], start_time=start, end_time=max(start, end), start_offset=0xFFFFFFFF,
                         end_offset=0xFFFFFFFF, sub_frames=subs))
    id3.save(str(path), v2_version=3)


def _write_mp4(path: Path, tags: TagInfo) -> None:
    from mutagen.mp4 import MP4, MP4Cover

    mp4 = MP4(str(path))
    if mp4.tags is None:
        mp4.add_tags()
    t = mp4.tags
    if tags.title:
        t["\xa9nam"] = [tags.title]
    if tags.album:
        t["\xa9alb"] = [tags.album]
    if tags.artist:
        t["\xa9ART"] = [tags.artist]
        t["aART"] = [tags.artist]
    if tags.track is not None:
        t["trkn"] = [(tags.track, 0)]
    if tags.date:
        t["\xa9day"] = [tags.date]
    if tags.genre:
        t["\xa9gen"] = [tags.genre]
    if tags.comment:
        t["\xa9cmt"] = [tags.comment]
    if tags.artwork is not None:
        data = Path(tags.artwork).read_bytes()
        kind = MP4Cover.FORMAT_PNG if _image_mime(tags.artwork) == "image/png" else MP4Cover.FORMAT_JPEG
        t["covr"] = [MP4Cover(data, imageformat=kind)]
    mp4.save()


