"""The taxonomy of conditions an episode is tagged with (data file), and lookups by id or slug.

The suggester (conditions drawn from a transcript, with evidence) lives beside this in ``suggest.py``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pipeline.errors import KindcastError

DEFAULT_TAXONOMY = Path(__file__).resolve().parents[1] / "data" / "conditions.yaml"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    slug: str
    title: str
    short: str
    pillar: str
    description: str
    # Optional help for the suggester (pipeline/conditions/suggest.py): words and phrases typical of the condition, and example
    # sentences in the many ways people say it (written and spoken). Neither is required in a show's own taxonomy.
    keywords: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()

    @property
    def prototypes(self) -> tuple[str, ...]:
        """The sentences the suggester compares a transcript's sentences with: title, short name, description and
        examples."""
        return (self.title + ".", self.short + ".", self.description, *self.examples)


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    pillars: list[str]
    conditions: list[Condition] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "Taxonomy":
        seen_ids: set[int] = set()
        seen_slugs: set[str] = set()
        for i, cond in enumerate(self.conditions):
            if cond.id in seen_ids:
                raise ValueError(f"conditions[{i}]: id {cond.id} is used twice")
            if cond.slug in seen_slugs:
                raise ValueError(f"conditions[{i}]: slug {cond.slug!r} is used twice")
            if self.pillars and cond.pillar not in self.pillars:
                raise ValueError(f"conditions[{i}]: pillar {cond.pillar!r} is not one of {self.pillars}")
            seen_ids.add(cond.id)
            seen_slugs.add(cond.slug)
        return self

    def resolve(self, ref: int | str) -> Condition | None:
        """A condition by id (``3``, ``"3"``) or slug; None when unknown."""
        for cond in self.conditions:
            if ref == cond.id or str(ref).strip().lower() in (str(cond.id), cond.slug):
                return cond
        return None

    def describe_known(self) -> str:
        ids = [c.id for c in self.conditions]
        return f"known: ids {min(ids)}-{max(ids)} or slugs such as '{self.conditions[0].slug}'"


@functools.lru_cache(maxsize=8)
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file (default: the ten conditions). Loaded once per path."""
    path = Path(path) if path else DEFAULT_TAXONOMY
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Taxonomy.model_validate(data)
    except FileNotFoundError:
        raise KindcastError(f"{path}: taxonomy file not found") from None
    except yaml.YAMLError as exc:
        raise KindcastError(f"{path}: not valid YAML ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        raise KindcastError(f"{path}: {loc}: {msg}" if loc else f"{path}: {msg}") from None
