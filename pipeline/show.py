"""The Show and its Episodes: load ``episodes/`` and validate it, reporting every problem (file and field named).

``load_project(root)`` never stops at the first mistake: the show's problems, each episode's problems and the
problems between episodes (duplicate numbers or GUIDs) are all collected. Episodes with problems are left out of
``project.episodes`` and listed in ``project.invalid``; the others can still be built.
"""
from __future__ import annotations

import difflib
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from pipeline.apple import category_problems, check_artwork
from pipeline.conditions.taxonomy import Taxonomy, load_taxonomy
from pipeline.errors import KindcastError, Problem
from pipeline.media import AUDIO_EXTENSIONS, probe_audio
from pipeline.settings import Settings
from pipeline.timeline import parse_time

EPISODES_DIR = "episodes"
SHOW_FILE = "show.yaml"
EPISODE_FILE = "episode.md"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SOUNDBITE_MIN, SOUNDBITE_MAX = 15.0, 90.0  # seconds: social video; Podcasting 2.0's soundbites may run to 120


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = float


def _time(value: Any) -> float:
    return parse_time(value)


class Person(Model):
    name: str = Field(min_length=1)
    role: str = "guest"  # podcast:person roles: host, guest, ...
    href: str | None = None
    img: str | None = None
    channel: Literal["left", "right"] | None = None  # the stereo channel this person speaks on, when known


class Owner(Model):
    name: str = Field(min_length=1)
    email: EmailStr


class Funding(Model):
    url: str
    text: str = "Support the show"


class Chapter(Model):
    start: Seconds
    title: str = Field(min_length=1)
    url: str | None = None
    img: str | None = None

    _t = field_validator("start", mode="before")(lambda cls, v: _time(v))


class Soundbite(Model):
    start: Seconds
    duration: Seconds
    title: str | None = None

    _t = field_validator("start", "duration", mode="before")(lambda cls, v: _time(v))

    @field_validator("duration")
    @classmethod
    def _range(cls, v: float) -> float:
        if not SOUNDBITE_MIN <= v <= SOUNDBITE_MAX:
            raise ValueError(f"must be {SOUNDBITE_MIN:.0f} to {SOUNDBITE_MAX:.0f} seconds")
        return v


class Cut(Model):
    start: Seconds
    end: Seconds

    _t = field_validator("start", "end", mode="before")(lambda cls, v: _time(v))

    @model_validator(mode="after")
    def _order(self) -> "Cut":
        if self.end <= self.start:
            raise ValueError(f"end ({self.end:g}) must be after start ({self.start:g})")
        return self


def _http_url(value: str) -> str:
    """A URL the producer wrote: http(s), with a host, and no user or password in it."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("no user names or passwords in show.yaml")
    return str(value).strip()


class PublishSettings(Model):
    """``publish:`` in show.yaml: where ``kindcast publish`` sends the built tree and whom it tells. Credentials never
    live here: they come from the AWS chain or the SSH agent and config."""

    to: str | None = None  # a folder, s3://bucket/prefix/ or sftp://user@host[:port]/path
    endpoint_url: str | None = None  # S3-compatible services (R2, B2, MinIO, Spaces); else AWS_ENDPOINT_URL
    websub: list[Annotated[str, AfterValidator(_http_url)]] = Field(default_factory=list)  # hubs: announced in the feed, pinged when it changes
    podcastindex: bool | str = False  # Podcast Index pubnotify (true: the official URL; or another URL)
    podping: bool | str = False  # podping.cloud (true) or another URL; the token from PODPING_TOKEN
    analytics_prefix: str | None = None  # prefixes enclosure URLs in the feed (OP3, Podtrac...)

    @field_validator("to")
    @classmethod
    def _destination(cls, v: str | None) -> str | None:
        from pipeline.publish.destinations import parse_destination

        if v is not None:
            parse_destination(v)  # ValueError: one line saying what is wrong
        return v

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v)

    @field_validator("podcastindex", "podping")
    @classmethod
    def _service(cls, v: bool | str) -> bool | str:
        return v if isinstance(v, bool) else _http_url(v)

    @field_validator("analytics_prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = _http_url(v)
        return v if v.endswith("/") else v + "/"


class ShowMeta(Model):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    author: str = Field(min_length=1)
    owner: Owner
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")
    category: str | list[str] = "Society & Culture"
    artwork: str
    explicit: bool = False
    base_url: str
    link: str | None = None
    copyright: str | None = None
    type: Literal["episodic", "serial"] = "episodic"
    funding: list[Funding] = Field(default_factory=list)
    locked: bool = False
    medium: str = "podcast"
    guid: str | None = None
    hosts: list[Person] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    settings: Settings = Field(default_factory=Settings)
    publish: PublishSettings = Field(default_factory=PublishSettings)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL, e.g. https://example.org/podcast/")
        return v if v.endswith("/") else v + "/"

    @property
    def categories(self) -> list[str]:
        return [self.category] if isinstance(self.category, str) else list(self.category)


def _zoned(text: str) -> Any:
    """``2026-03-01 09:00 Europe/Berlin``: a date and time followed by an IANA time zone name (summer time follows
    the zone). Other text is left for pydantic (ISO 8601, with or without an offset: none means UTC)."""
    match = re.match(r"^\s*(\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)\s+"
                     r"([A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*)\s*$", text)
    if not match:
        return text
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(match.group(2))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {match.group(2)!r} (use a name like Europe/London, or an offset "
                         "like +01:00)") from None
    return datetime.fromisoformat(match.group(1)).replace(tzinfo=zone)


class EpisodeMeta(Model):
    title: str = Field(min_length=1)
    date: datetime
    guid: str | None = None
    number: int | None = Field(None, ge=0)
    season: int | None = Field(None, ge=0)
    episode_type: Literal["full", "trailer", "bonus"] = "full"
    explicit: bool | None = None
    summary: str | None = None
    audio: str | None = None
    artwork: str | None = None
    hosts: list[Person] | None = None  # None: the show's hosts
    guests: list[Person] = Field(default_factory=list)
    conditions: list[int | str] = Field(default_factory=list)
    soundbites: list[Soundbite] = Field(default_factory=list)
    chapters: list[Chapter] = Field(default_factory=list)
    cuts: list[Cut] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)

    @field_validator("guid", mode="before")
    @classmethod
    def _guid_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) and not isinstance(v, bool) else v

    @field_validator("date", mode="before")
    @classmethod
    def _date(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime(v.year, v.month, v.day, tzinfo=timezone.utc)
        if isinstance(v, str):
            return _zoned(v)
        return v

    @field_validator("date")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Episode:
    """One validated episode: the object that travels through every stage."""

    slug: str
    dir: Path
    meta: EpisodeMeta
    notes: str  # the producer's Markdown
    recording: Path
    duration: float  # of the raw recording, seconds
    guid: str  # meta.guid, or one derived from the slug when the producer has none (a warning says so)
    conditions: tuple[int, ...]  # manual tags resolved to ids


@dataclass(frozen=True)
class Show:
    root: Path
    meta: ShowMeta
    taxonomy: Taxonomy

    @property
    def settings(self) -> Settings:
        return self.meta.settings

    @property
    def episodes_dir(self) -> Path:
        return self.root / EPISODES_DIR

    @property
    def output_dir(self) -> Path:
        return self.root / self.settings.output_dir

    @property
    def artwork_path(self) -> Path:
        return self.episodes_dir / self.meta.artwork

    def hosts_for(self, episode: Episode) -> list[Person]:
        return list(episode.meta.hosts if episode.meta.hosts is not None else self.meta.hosts)


@dataclass
class Project:
    root: Path
    show: Show | None
    episodes: list[Episode] = field(default_factory=list)
    invalid: dict[str, list[Problem]] = field(default_factory=dict)  # slug -> problems
    show_problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return self.show_problems + [p for probs in self.invalid.values() for p in probs]

    def require_show(self) -> Show:
        if self.show is None:
            from pipeline.errors import ValidationFailed

            raise ValidationFailed(self.show_problems)
        return self.show


# --- loading -----------------------------------------------------------------------------------------------------

def _rel(root: Path, path: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _pydantic_problems(file: str, exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        kind = err["type"]
        if kind == "missing":
            message = "missing (required)"
        elif kind == "extra_forbidden":
            known = list(model.model_fields)
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            message = "unknown field" + (f" (did you mean '{close[0]}'?)" if close else "")
        else:
            message = err["msg"].removeprefix("Value error, ")
            if "input" in err and kind not in ("model_type",) and not isinstance(err["input"], (dict, list)):
                message += f" (got {err['input']!r})"
        problems.append(Problem(file, loc or "(top level)", message))
    return problems


def read_front_matter(path: Path) -> tuple[dict, str]:
    """YAML front matter and Markdown body of an ``episode.md``. Raises KindcastError naming the file."""
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---"):
        raise KindcastError(f"{path}: no YAML front matter (the file must start with a line '---')")
    parts = re.split(r"^---[ \t]*$", text, maxsplit=2, flags=re.M)
    if len(parts) < 3:
        raise KindcastError(f"{path}: front matter is not closed by a line '---'")
    try:
        data = yaml.safe_load(parts[1]) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""
        raise KindcastError(f"{path}: front matter is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise KindcastError(f"{path}: front matter must be a mapping of fields")
    return data, parts[2].lstrip("\n")


def load_show(root: Path) -> tuple[Show | None, list[Problem]]:
    root = Path(root)
    path = root / EPISODES_DIR / SHOW_FILE
    file = _rel(root, path)
    if not path.is_file():
        return None, [Problem(file, "", "not found (every show needs episodes/show.yaml)")]
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return None, [Problem(file, "", f"not valid YAML: {exc}")]
    if not isinstance(data, dict):
        return None, [Problem(file, "", "must be a mapping of fields")]
    try:
        meta = ShowMeta.model_validate(data)
    except ValidationError as exc:
        return None, _pydantic_problems(file, exc, ShowMeta)
    problems = check_artwork(root / EPISODES_DIR / meta.artwork, file, "artwork")
    problems += [Problem(file, "category", message) for message in category_problems(meta.categories)]
    taxonomy_path = meta.settings.conditions.taxonomy
    try:
        taxonomy = load_taxonomy(root / EPISODES_DIR / taxonomy_path if taxonomy_path else None)
    except KindcastError as exc:
        problems.append(Problem(file, "settings.conditions.taxonomy", str(exc)))
        taxonomy = None
    for key in ("intro", "outro"):
        music = getattr(meta.settings.music, key)
        if music:
            try:
                probe_audio(root / EPISODES_DIR / music)
            except KindcastError as exc:
                problems.append(Problem(file, f"settings.music.{key}", str(exc)))
    if problems:
        return None, problems
    return Show(root=root, meta=meta, taxonomy=taxonomy), []


def find_recording(folder: Path, named: str | None) -> tuple[Path | None, str | None]:
    """The episode's raw recording: the one named in ``audio:``, else the only audio file in the folder."""
    if named:
        path = folder / named
        return (path, None) if path.is_file() else (None, f"{named}: file not found")
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not found:
        return None, "no recording in the folder (wav, mp3, m4a or flac); add one or name it in 'audio:'"
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        return None, f"several recordings ({names}); name the one to publish in 'audio:'"
    return found[0], None


def derived_guid(slug: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kindcast:episode:{slug}"))


def load_episode(show: Show | None, folder: Path, root: Path) -> tuple[Episode | None, list[Problem], list[Problem]]:
    """One episode folder: (episode or None, problems, warnings). Every problem in the folder is reported."""
    slug = folder.name
    md = folder / EPISODE_FILE
    file = _rel(root, md)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not SLUG_RE.match(slug):
        problems.append(Problem(_rel(root, folder), "", "folder name must be a slug: lower-case letters, digits and hyphens"))
    if not md.is_file():
        return None, problems + [Problem(file, "", "not found (each episode folder needs an episode.md)")], warnings
    try:
        data, notes = read_front_matter(md)
    except KindcastError as exc:
        return None, problems + [Problem(file, "", str(exc).split(": ", 1)[-1])], warnings

    meta = None
    try:
        meta = EpisodeMeta.model_validate(data)
    except ValidationError as exc:
        problems += _pydantic_problems(file, exc, EpisodeMeta)

    # Checks on the raw data run even when the model failed, so every problem is reported at once.
    conditions: list[int] = []
    raw_conditions = data.get("conditions") or []
    if show is not None and isinstance(raw_conditions, list):
        for i, ref in enumerate(raw_conditions):
            cond = show.taxonomy.resolve(ref) if isinstance(ref, (int, str)) and not isinstance(ref, bool) else None
            if cond is None:
                problems.append(Problem(file, f"conditions[{i}]", f"unknown condition {ref!r} ({show.taxonomy.describe_known()})"))
            elif cond.id in conditions:
                problems.append(Problem(file, f"conditions[{i}]", f"condition {ref!r} is listed twice"))
            else:
                conditions.append(cond.id)

    named = data.get("audio") if isinstance(data.get("audio"), str) else None
    recording, why = find_recording(folder, named)
    duration = 0.0
    if recording is None:
        problems.append(Problem(file, "audio", why))
    else:
        try:
            info = probe_audio(recording)
            duration = info.duration
            if duration <= 0:
                problems.append(Problem(file, "audio", f"{recording.name}: zero-length recording"))
        except KindcastError as exc:
            problems.append(Problem(file, "audio", f"{recording.name}: " + str(exc).split(": ", 1)[-1]))

    if meta is not None and duration > 0:
        for i, cut in enumerate(meta.cuts):
            if cut.start >= duration:
                problems.append(Problem(file, f"cuts[{i}]", f"starts at {cut.start:g}s, after the recording ends ({duration:.1f}s)"))
        for i, ch in enumerate(meta.chapters):
            if ch.start >= duration:
                problems.append(Problem(file, f"chapters[{i}].start", f"{ch.start:g}s is after the recording ends ({duration:.1f}s)"))
        for i, sb in enumerate(meta.soundbites):
            if sb.start + sb.duration > duration + 0.01:
                problems.append(Problem(file, f"soundbites[{i}]", f"runs to {sb.start + sb.duration:g}s, past the end of the recording ({duration:.1f}s)"))
        starts = [c.start for c in meta.chapters]
        if starts != sorted(starts):
            problems.append(Problem(file, "chapters", "chapters must be in time order"))
    if meta is not None and meta.artwork:
        problems += check_artwork(folder / meta.artwork, file, "artwork")

    if problems or meta is None or recording is None:
        return None, problems, warnings
    guid = meta.guid
    if not guid:
        guid = derived_guid(slug)
        warnings.append(Problem(file, "guid", f"no guid: using {guid}, derived from the folder name; add it to the front matter so renaming the folder never changes it"))
    episode = Episode(slug=slug, dir=folder, meta=meta, notes=notes, recording=recording, duration=duration,
                      guid=guid, conditions=tuple(conditions))
    return episode, [], warnings


def episode_folders(root: Path) -> list[Path]:
    base = Path(root) / EPISODES_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_project(root: Path, only: str | None = None) -> Project:
    """Load the show and every episode (or only one), collecting every problem."""
    root = Path(root).resolve()
    show, show_problems = load_show(root)
    project = Project(root=root, show=show, show_problems=show_problems)
    folders = episode_folders(root)
    if only is not None:
        folders = [f for f in folders if f.name == only]
        if not folders:
            raise KindcastError(f"no episode folder {EPISODES_DIR}/{only}")
    for folder in folders:
        episode, problems, warnings = load_episode(show, folder, root)
        project.warnings += warnings
        if problems:
            project.invalid[folder.name] = problems
        elif episode is not None:
            project.episodes.append(episode)
    _cross_checks(project)
    return project


def _cross_checks(project: Project) -> None:
    """Problems between episodes: duplicate GUIDs, duplicate episode numbers within a season."""
    seen_guid: dict[str, str] = {}
    seen_number: dict[tuple[int | None, int], str] = {}
    bad: dict[str, list[Problem]] = {}
    for ep in project.episodes:
        file = _rel(project.root, ep.dir / EPISODE_FILE)
        if ep.guid in seen_guid:
            bad.setdefault(ep.slug, []).append(Problem(file, "guid", f"same guid as episode '{seen_guid[ep.guid]}'"))
        else:
            seen_guid[ep.guid] = ep.slug
        if ep.meta.number is not None:
            key = (ep.meta.season, ep.meta.number)
            if key in seen_number:
                bad.setdefault(ep.slug, []).append(
                    Problem(file, "number", f"episode number {ep.meta.number} is also used by '{seen_number[key]}'"))
            else:
                seen_number[key] = ep.slug
    if bad:
        project.episodes = [e for e in project.episodes if e.slug not in bad]
        for slug, probs in bad.items():
            project.invalid.setdefault(slug, []).extend(probs)
