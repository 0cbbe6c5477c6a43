"""The taxonomy of conditions an episode is tagged with (data file), and lookups by id or slug.

The suggester (conditions drawn from a transcript, with evidence) lives beside this in ``pipeline/suggest.py``.
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipeline.errors import KindcastError

DEFAULT_TAXONOMY = Path(__file__).parent / "data" / "conditions.yaml"


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    slug: str
    title: str
    short: str
    pillar: str
    description: str


class Taxonomy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    pillars: list[str]
    conditions: list[Condition]

    def resolve(self, ref: int | str) -> Condition | None:
        """A condition by id (``3``, ``"3"``) or slug; None when unknown."""
        for cond in self.conditions:
            if ref == cond.id or str(ref).strip().lower() in (str(cond.id), cond.slug):
                return cond
        return None

    def by_id(self, cond_id: int) -> Condition:
        found = self.resolve(cond_id)
        if found is None:
            raise KeyError(cond_id)
        return found

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
        raise KindcastError(f"{path}: {loc}: {first['msg']}") from None
