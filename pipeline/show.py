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
from typing import Annotated, Any, Callable, Collection, Literal
from urllib.parse import urlsplit

from pydantic import (AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator,
                      model_validator)

from pipeline.apple import category_problems, check_artwork
from pipeline.conditions.taxonomy import Taxonomy, load_taxonomy
from pipeline.errors import KindcastError, Problem
from pipeline.inputs import YamlError, clean_notes, control_problems, inside, is_inside, load_yaml, read_text, url_problem
from pipeline.media import AUDIO_EXTENSIONS, AudioInfo, ProbeCache, probe_audio
from pipeline.settings import Settings
from pipeline.timeline import parse_time

EPISODES_DIR = "episodes"
SHOW_FILE = "show.yaml"
EPISODE_FILE = "episode.md"
STATE_DIR = ".kindcast"  # kindcast's own folder in the show: state, work files, caches
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
SOUNDBITE_MIN, SOUNDBITE_MAX = 15.0, 90.0  # seconds: social video; Podcasting 2.0's soundbites may run to 120


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Seconds = float


def _time(value: Any) -> float:
    return parse_time(value)


def _http(value: str | None) -> str | None:
    """An http(s) URL, or a ValueError saying why not."""
    if value is None:
        return None
    why = url_problem(value)
    if why:
        raise ValueError(why)
    return value


def _http_or_mail(value: str | None) -> str | None:
    if value is None:
        return None
    why = url_problem(value, ("http", "https", "mailto"))
    if why:
        raise ValueError(why)
    return value


class Person(Model):
    name: str = Field(min_length=1)
    role: str = "guest"  # podcast:person roles: host, guest, ...
    href: str | None = None
    img: str | None = None
    channel: Literal["left", "right"] | None = None  # the stereo channel this person speaks on, when known

    _href = field_validator("href")(lambda cls, v: _http_or_mail(v))
    _img = field_validator("img")(lambda cls, v: _http(v))


class Owner(Model):
    name: str = Field(min_length=1)
    email: EmailStr


class Funding(Model):
    url: str
    text: str = "Support the show"

    _url = field_validator("url")(lambda cls, v: _http(v))


class Chapter(Model):
    start: Seconds
    title: str = Field(min_length=1)
    url: str | None = None
    img: str | None = None

    _t = field_validator("start", mode="before")(lambda cls, v: _time(v))
    _url = field_validator("url", "img")(lambda cls, v: _http(v))


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



class Txt(Model):
    """``podcast:txt``: free text for others to read, e.g. a verification token (``purpose: verify``)."""

    text: str = Field(min_length=1, max_length=4000)
    purpose: str | None = Field(None, min_length=1, max_length=128)


RRULE_RE = re.compile(r"^FREQ=(SECONDLY|MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY)(;[A-Z]+=[^;\s]+)*$")


class UpdateFrequency(Model):
    """``podcast:updateFrequency``: how often episodes come, in words and as an iCalendar RRULE."""

    text: str = Field(min_length=1, max_length=128)
    rrule: str | None = None
    complete: bool = False
    dtstart: datetime | None = None

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str | None) -> str | None:
        if v is not None and not RRULE_RE.match(v):
            raise ValueError("must be an iCalendar RRULE such as FREQ=WEEKLY or FREQ=MONTHLY;INTERVAL=2")
        return v

    @field_validator("dtstart", mode="before")
    @classmethod
    def _day(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime(v.year, v.month, v.day, tzinfo=timezone.utc)
        return v

    @field_validator("dtstart")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return v.replace(tzinfo=timezone.utc) if v is not None and v.tzinfo is None else v


class License(Model):
    """``podcast:license``: an SPDX identifier (e.g. cc-by-4.0), or a name and the URL of its terms."""

    name: str = Field(min_length=1, max_length=128)
    url: str | None = None

    _u = field_validator("url")(lambda cls, v: _http(v))


GEO_RE = re.compile(r"^geo:-?\d{1,2}(\.\d+)?,-?\d{1,3}(\.\d+)?(,-?\d+(\.\d+)?)?(;u=\d+(\.\d+)?)?$")
OSM_RE = re.compile(r"^[NWR]\d+(#\d+)?$")


class Location(Model):
    """``podcast:location``: where the show is made or what it is about."""

    name: str = Field(min_length=1, max_length=128)
    geo: str | None = None
    osm: str | None = None
    rel: Literal["subject", "creator"] | None = None

    @field_validator("geo")
    @classmethod
    def _geo(cls, v: str | None) -> str | None:
        if v is not None and not GEO_RE.match(v):
            raise ValueError("must be a geo URI: geo:LATITUDE,LONGITUDE, e.g. geo:51.5072,-0.1276")
        return v

    @field_validator("osm")
    @classmethod
    def _osm(cls, v: str | None) -> str | None:
        if v is not None and not OSM_RE.match(v):
            raise ValueError("must be an OpenStreetMap object: N, W or R and its number, e.g. R65606")
        return v


class PublishSettings(Model):
    """``publish:`` in show.yaml: where ``kindcast publish`` sends the built tree and whom it tells. Credentials never
    live here: they come from the AWS chain or the SSH agent and config."""

    to: str | None = None  # a folder, s3://bucket/prefix/ or sftp://user@host[:port]/path
    endpoint_url: str | None = None  # S3-compatible services (R2, B2, MinIO, Spaces); else AWS_ENDPOINT_URL
    websub: list[Annotated[str, AfterValidator(_http)]] = Field(default_factory=list)  # hubs: announced in the feed, pinged when it changes
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
        return None if v is None else _http(v)

    @field_validator("podcastindex", "podping")
    @classmethod
    def _service(cls, v: bool | str) -> bool | str:
        return v if isinstance(v, bool) else _http(v)

    @field_validator("analytics_prefix")
    @classmethod
    def _prefix(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = _http(v)
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
    # Podcasting 2.0 and Apple channel tags, written to the feed only when given
    txt: list[Txt] = Field(default_factory=list)
    update_frequency: UpdateFrequency | None = None
    license: License | None = None
    location: Location | None = None
    new_feed_url: str | None = None  # itunes:new-feed-url: the feed has moved there
    block: bool = False  # itunes:block: keep the show out of Apple Podcasts
    complete: bool = False  # itunes:complete: no more episodes will come
    settings: Settings = Field(default_factory=Settings)
    publish: PublishSettings = Field(default_factory=PublishSettings)

    _link = field_validator("link")(lambda cls, v: _http(v))
    _shorthands = field_validator("license", "location", "update_frequency", mode="before")(
        lambda cls, v, info: {"name" if info.field_name != "update_frequency" else "text": v} if isinstance(v, str) else v)
    _new_feed_url = field_validator("new_feed_url")(lambda cls, v: _http(v))

    @field_validator("txt", mode="before")
    @classmethod
    def _txt(cls, v: Any) -> Any:
        if isinstance(v, (str, dict)):
            v = [v]
        return [{"text": t} if isinstance(t, str) else t for t in v] if isinstance(v, list) else v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        why = url_problem(v)
        if why:
            raise ValueError(f"{why}, e.g. https://example.org/podcast/")
        if urlsplit(v).query or urlsplit(v).fragment:
            raise ValueError(f"{v!r}: the address where feeds/ is published takes no ?query or #fragment")
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

    @property
    def speech_language(self) -> str:
        """The language transcripts are made in: settings.transcription.language, else the show's (two letters)."""
        return (self.settings.transcription.language or self.meta.language).split("-")[0][:2].lower()

    def hosts_for(self, episode: Episode) -> list[Person]:
        return list(episode.meta.hosts if episode.meta.hosts is not None else self.meta.hosts)


@dataclass
class Project:
    root: Path
    show: Show | None
    episodes: list[Episode] = field(default_factory=list)
    invalid: dict[str, list[Problem]] = field(default_factory=dict)  # slug -> problems
    invalid_guids: dict[str, str] = field(default_factory=dict)  # slug -> the guid its episode.md gives, if any
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


_EXAMPLES = {"Person": "{name: Ana Ruiz}", "Chapter": "{start: \"1:42\", title: ...}",
             "Soundbite": "{start: \"2:05\", duration: 30}", "Cut": "{start: \"0:12.5\", end: \"0:19\"}"}


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
        elif kind == "model_type":  # "Input should be a valid dictionary or instance of Person"
            example = _EXAMPLES.get(str((err.get("ctx") or {}).get("class_name")))
            message = "should be a mapping of fields" + (f", e.g. {example}" if example else "") + \
                (f" (got {err['input']!r})" if isinstance(err.get("input"), (str, int, float)) else "")
        elif "input" in err and err["input"] is None:  # "guests:" with nothing after it
            field = model.model_fields.get(str(err["loc"][0])) if len(err["loc"]) == 1 else None
            message = "is empty: give a value" + (", or leave the line out" if field and not field.is_required() else "")
        else:
            message = err["msg"].removeprefix("Value error, ")
            if "input" in err and not isinstance(err["input"], (dict, list)):
                message += f" (got {err['input']!r})"
        problems.append(Problem(file, loc or "(top level)", message))
    return problems


def read_front_matter(path: Path) -> tuple[dict, str]:
    """YAML front matter and Markdown body of an ``episode.md``. Raises KindcastError naming the file (and the line
    of a YAML mistake, counted in the file)."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise KindcastError(f"{path}: not UTF-8 text (byte {exc.start + 1}); save it as UTF-8") from None
    if not text.startswith("---"):
        raise KindcastError(f"{path}: no YAML front matter (the file must start with a line '---')")
    parts = re.split(r"^---[ \t]*$", text, maxsplit=2, flags=re.M)
    if len(parts) < 3:
        raise KindcastError(f"{path}: front matter is not closed by a line '---'")
    try:
        data = load_yaml(parts[1])  # parts[1] starts on the first line, after its '---'
    except YamlError as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise KindcastError(f"{path}: front matter is not valid YAML{where}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KindcastError(f"{path}: front matter must be a mapping of fields")
    return data, parts[2].lstrip("\n")


def _show_paths(root: Path, meta: ShowMeta, file: str) -> list[Problem]:
    """Every path show.yaml names must stay inside the show; feeds/ must not cover the producer's own folders."""
    episodes = root / EPISODES_DIR
    s = meta.settings
    named = [(episodes, meta.artwork, "artwork"), (episodes, s.music.intro, "settings.music.intro"),
             (episodes, s.music.outro, "settings.music.outro"),
             (episodes, s.conditions.taxonomy, "settings.conditions.taxonomy"),
             (episodes, s.conditions.model, "settings.conditions.model"),
             (root, s.audiogram.theme.get("fonts_dir") or None, "settings.audiogram.theme.fonts_dir"),
             (root, s.output_dir, "settings.output_dir")]
    if s.transcription.model and s.transcription.model.strip() not in ("tiny.en", "default"):
        named.append((episodes, s.transcription.model, "settings.transcription.model"))
    problems = []
    for base, value, field_name in named:
        if value is None:
            continue
        _, problem = inside(root, base, value, file, field_name)
        if problem:
            problems.append(problem)
    out = (root / s.output_dir).resolve()
    real_root = root.resolve()
    own = [real_root / EPISODES_DIR, real_root / "templates", real_root / STATE_DIR]
    if is_inside(root, root / s.output_dir) and (
            out == real_root or any(out == d or d in out.parents or out in d.parents for d in own)):
        problems.append(Problem(file, "settings.output_dir", f"{s.output_dir}: the published tree must be a folder "
                                "of its own (e.g. feeds), not the show folder, episodes/, templates/ or .kindcast/"))
    return problems


def load_show(root: Path) -> tuple[Show | None, list[Problem]]:
    root = Path(root)
    path = root / EPISODES_DIR / SHOW_FILE
    file = _rel(root, path)
    if not path.is_file():
        return None, [Problem(file, "", "not found (every show needs episodes/show.yaml)")]
    try:
        data = load_yaml(read_text(path))
    except UnicodeDecodeError as exc:
        return None, [Problem(file, "", f"not UTF-8 text (byte {exc.start + 1}); save it as UTF-8")]
    except YamlError as exc:
        return None, [Problem(file, f"line {exc.line}" if exc.line else "", f"not valid YAML: {exc}")]
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [Problem(file, "", "must be a mapping of fields")]
    problems = control_problems(data, file)
    try:
        meta = ShowMeta.model_validate(data)
    except ValidationError as exc:
        return None, problems + _pydantic_problems(file, exc, ShowMeta)
    path_problems = _show_paths(root, meta, file)
    problems += path_problems
    bad = {p.field for p in path_problems}
    if "artwork" not in bad:
        problems += check_artwork(root / EPISODES_DIR / meta.artwork, file, "artwork")
    problems += [Problem(file, "category", message) for message in category_problems(meta.categories)]
    problems += _people_problems(file, [("hosts", data.get("hosts"))])
    taxonomy_path = meta.settings.conditions.taxonomy
    taxonomy = None
    if "settings.conditions.taxonomy" not in bad:
        try:
            taxonomy = load_taxonomy(root / EPISODES_DIR / taxonomy_path if taxonomy_path else None)
        except KindcastError as exc:
            problems.append(Problem(file, "settings.conditions.taxonomy", str(exc)))
    for key in ("intro", "outro"):
        music = getattr(meta.settings.music, key)
        if music and f"settings.music.{key}" not in bad:
            try:
                probe_audio(root / EPISODES_DIR / music)
            except KindcastError as exc:
                problems.append(Problem(file, f"settings.music.{key}", str(exc)))
    if problems:
        return None, problems
    return Show(root=root, meta=meta, taxonomy=taxonomy), []


def find_recording(root: Path, folder: Path, named: str | None, file: str) -> tuple[Path | None, Problem | None]:
    """The episode's raw recording: the one named in ``audio:``, else the only audio file in the folder. It must lie
    inside the show (a symbolic link to a file elsewhere is refused)."""
    if named is not None:
        path, problem = inside(root, folder, named, file, "audio")
        if problem:
            return None, problem
        return (path, None) if path.is_file() else (None, Problem(file, "audio", f"{named}: file not found"))
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not found:
        return None, Problem(file, "audio", "no recording in the folder (wav, mp3, m4a or flac); add one or name it "
                                            "in 'audio:'")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        return None, Problem(file, "audio", f"several recordings ({names}); name the one to publish in 'audio:'")
    if not is_inside(root, found[0]):
        return None, Problem(file, "audio", f"{found[0].name}: a link to a file outside the show folder; copy the "
                                            "recording into the episode's folder")
    return found[0], None


def derived_guid(slug: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"kindcast:episode:{slug}"))


def _valid_items(model: type[BaseModel], raw: Any) -> list[tuple[int, Any]]:
    """(index, item) for each item of a raw list that validates on its own (the others are reported already)."""
    out = []
    for i, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            out.append((i, model.model_validate(item)))
        except ValidationError:
            continue
    return out


def name_key(name: str) -> str:
    """A person's name as names are compared: without case or extra spaces ("hana  host" is Hana Host)."""
    return " ".join(name.split()).casefold()


def _people_problems(file: str, lists: list[tuple[str, Any]], known: Collection[tuple[str, str]] = ()) -> list[Problem]:
    """Each person's name once among the people of ``lists`` (``(field, raw list)``, e.g. an episode's hosts and
    guests), after ``known`` (``(name, where it is given)``, e.g. the show's hosts): the names label the voices of a
    transcript and the people of the feed, so a name given twice would merge two voices and list one person twice.
    Names are compared by :func:`name_key`."""
    seen = {name_key(name): where for name, where in known}
    problems = []
    for field, raw in lists:
        for i, person in _valid_items(Person, raw):
            key = name_key(person.name)
            if key in seen:
                problems.append(Problem(file, f"{field}[{i}].name", f"{person.name!r} is listed already ({seen[key]}); "
                                                                   "each voice needs a name of its own"))
            else:
                seen[key] = f"{field}[{i}]"
    return problems


def _time_problems(file: str, data: dict, duration: float) -> list[Problem]:
    """Cuts, chapters and soundbites against the recording's length: checked item by item on the raw data, so they
    are reported even when another field of the episode is wrong."""
    problems = []
    for i, cut in _valid_items(Cut, data.get("cuts")):
        if cut.start >= duration:
            problems.append(Problem(file, f"cuts[{i}]", f"starts at {cut.start:g}s, after the recording ends "
                                                        f"({duration:.1f}s)"))
    chapters = _valid_items(Chapter, data.get("chapters"))
    for i, ch in chapters:
        if ch.start >= duration:
            problems.append(Problem(file, f"chapters[{i}].start", f"{ch.start:g}s is after the recording ends "
                                                                  f"({duration:.1f}s)"))
    starts = [ch.start for _, ch in chapters]
    if starts != sorted(starts):
        problems.append(Problem(file, "chapters", "chapters must be in time order"))
    for i, sb in _valid_items(Soundbite, data.get("soundbites")):
        if sb.start + sb.duration > duration + 0.01:
            problems.append(Problem(file, f"soundbites[{i}]", f"runs to {sb.start + sb.duration:g}s, past the end "
                                                              f"of the recording ({duration:.1f}s)"))
    return problems


def load_episode(show: Show | None, folder: Path, root: Path,
                 probe: Callable[[Path], AudioInfo] = probe_audio) -> tuple[Episode | None, list[Problem], list[Problem]]:
    """One episode folder: (episode or None, problems, warnings). Every problem in the folder is reported."""
    slug = folder.name
    md = folder / EPISODE_FILE
    file = _rel(root, md)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not SLUG_RE.match(slug):
        problems.append(Problem(_rel(root, folder), "", "folder name must be a slug: lower-case letters, digits and "
                                                        "hyphens"))
    if not md.is_file():
        return None, problems + [Problem(file, "", "not found (each episode folder needs an episode.md)")], warnings
    try:
        data, notes = read_front_matter(md)
    except KindcastError as exc:
        return None, problems + [Problem(file, "", str(exc).split(": ", 1)[-1])], warnings
    problems += control_problems(data, file)
    notes, fixed_lines = clean_notes(notes)
    if fixed_lines:
        first = _body_first_line(md)
        lines = ", ".join(str(first + n - 1) for n in fixed_lines[:5])
        warnings.append(Problem(file, "notes", f"control characters (pasted from a word processor?) left out of the "
                                               f"notes, on line {lines}"))

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
                problems.append(Problem(file, f"conditions[{i}]", f"unknown condition {ref!r} "
                                                                  f"({show.taxonomy.describe_known()})"))
            elif cond.id in conditions:
                problems.append(Problem(file, f"conditions[{i}]", f"condition {ref!r} is listed twice"))
            else:
                conditions.append(cond.id)

    own_hosts = data.get("hosts")  # given, they replace the show's (Show.hosts_for)
    shows_hosts = [] if own_hosts is not None or show is None else \
        [(h.name, "a host in show.yaml") for h in show.meta.hosts]
    problems += _people_problems(file, [("hosts", own_hosts), ("guests", data.get("guests"))], shows_hosts)

    raw_audio = data.get("audio")
    recording, problem = find_recording(root, folder, raw_audio if raw_audio is not None else None, file)
    duration = 0.0
    if problem:
        if not any(p.field == "audio" for p in problems):
            problems.append(problem)
    else:
        try:
            info = probe(recording)
            duration = info.duration
            if duration <= 0:
                problems.append(Problem(file, "audio", f"{recording.name}: zero-length recording"))
        except KindcastError as exc:
            problems.append(Problem(file, "audio", f"{recording.name}: " + str(exc).split(": ", 1)[-1]))
    if duration > 0:
        problems += _time_problems(file, data, duration)
    if isinstance(data.get("artwork"), str):
        art, problem = inside(root, folder, data["artwork"], file, "artwork")
        problems += [problem] if problem else check_artwork(art, file, "artwork")

    if problems or meta is None or recording is None:
        return None, problems, warnings
    guid = meta.guid
    if not guid:
        guid = derived_guid(slug)
        warnings.append(Problem(file, "guid", f"no guid: using {guid}, derived from the folder name; add it to the "
                                              "front matter so renaming the folder never changes it"))
    episode = Episode(slug=slug, dir=folder, meta=meta, notes=notes, recording=recording, duration=duration,
                      guid=guid, conditions=tuple(conditions))
    return episode, [], warnings


def _body_first_line(md: Path) -> int:
    """The line of episode.md on which the Markdown notes start (for messages)."""
    text = read_text(md)
    marks = list(re.finditer(r"^---[ \t]*$", text, flags=re.M))[:2]
    if len(marks) < 2:
        return 1
    after = text[marks[1].end():]
    return text.count("\n", 0, marks[1].end()) + 1 + (len(after) - len(after.lstrip("\n")))


def raw_guid(folder: Path) -> str | None:
    """The guid written in a folder's episode.md, even when the episode is invalid (None when there is none)."""
    try:
        data, _ = read_front_matter(folder / EPISODE_FILE)
    except (KindcastError, OSError):
        return None
    guid = data.get("guid")
    return str(guid) if isinstance(guid, (str, int)) and not isinstance(guid, bool) and str(guid).strip() else None


def episode_folders(root: Path) -> list[Path]:
    base = Path(root) / EPISODES_DIR
    if not base.is_dir():
        return []
    return sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def load_project(root: Path, only: str | None = None, published: Collection[str] = ()) -> Project:
    """Load the show and every episode (or only one), collecting every problem. ``published``: slugs built and
    published before; when two folders share a GUID, the published one keeps it and the other is refused."""
    root = Path(root).resolve()
    show, show_problems = load_show(root)
    project = Project(root=root, show=show, show_problems=show_problems)
    folders = episode_folders(root)
    if only is not None:
        folders = [f for f in folders if f.name == only]
        if not folders:
            raise KindcastError(f"no episode folder {EPISODES_DIR}/{only}")
    cache = ProbeCache(root / STATE_DIR / "probe.json")
    for folder in folders:
        episode, problems, warnings = load_episode(show, folder, root, cache.probe)
        project.warnings += warnings
        if problems:
            project.invalid[folder.name] = problems
            guid = raw_guid(folder)
            if guid:
                project.invalid_guids[folder.name] = guid
        elif episode is not None:
            project.episodes.append(episode)
    cache.save()
    _cross_checks(project, set(published))
    return project


def _cross_checks(project: Project, published: set[str]) -> None:
    """Problems between episodes: duplicate GUIDs (the published episode keeps its GUID), duplicate episode numbers
    within a season."""
    seen_guid: dict[str, str] = {}
    seen_number: dict[tuple[int | None, int], str] = {}
    bad: dict[str, list[Problem]] = {}
    for ep in sorted(project.episodes, key=lambda e: (e.slug not in published, e.slug)):
        file = _rel(project.root, ep.dir / EPISODE_FILE)
        if ep.guid in seen_guid:
            owner = seen_guid[ep.guid]
            what = "the published episode" if owner in published else "episode"
            bad.setdefault(ep.slug, []).append(Problem(file, "guid", f"same guid as {what} '{owner}'; a new episode "
                                                                     "needs a guid of its own (kindcast new makes one)"))
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
