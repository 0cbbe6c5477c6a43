"""``kindcast conditions suggest FILE [--json]``: which conditions a text or transcript speaks to, with evidence."""
from __future__ import annotations

import json
from pathlib import Path

import click


def _taxonomy(root: Path | None):
    """(taxonomy, model, token budget, framing): the show's own when run in a show folder that configures them, else
    the defaults (the ten conditions, the packaged model). The framing is the show's title and hosts, kept out of
    the evidence."""
    from pipeline.conditions.suggest import Framing
    from pipeline.conditions.taxonomy import load_taxonomy
    from pipeline.errors import KindcastError
    from pipeline.settings import ConditionsSettings

    base = (root or Path.cwd()).resolve()
    show_yaml = base / "episodes" / "show.yaml"
    if show_yaml.is_file():
        import yaml

        try:
            data = yaml.safe_load(show_yaml.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise KindcastError(f"{show_yaml}: not valid YAML ({exc})") from None
        data = data if isinstance(data, dict) else {}
        title = data.get("title")
        hosts = [h.get("name") for h in data.get("hosts") or [] if isinstance(h, dict)]
        framing = Framing(show_names=(title,) if isinstance(title, str) and title.strip() else (),
                          hosts=tuple(h for h in hosts if isinstance(h, str) and h.strip()))
        settings = data.get("settings") or {}
        conds = settings.get("conditions") if isinstance(settings, dict) else None
        if isinstance(conds, dict):
            from pydantic import ValidationError

            try:
                cs = ConditionsSettings.model_validate(conds)
            except ValidationError as exc:
                first = exc.errors()[0]
                loc = ".".join(str(p) for p in first["loc"])
                raise KindcastError(f"{show_yaml}: settings.conditions.{loc}: {first['msg']}") from None
            return (load_taxonomy(base / "episodes" / cs.taxonomy if cs.taxonomy else None),
                    str(base / "episodes" / cs.model) if cs.model else None, cs.token_budget, framing)
        return load_taxonomy(), None, ConditionsSettings().token_budget, framing
    return load_taxonomy(), None, ConditionsSettings().token_budget, Framing()


def register(cli: click.Group) -> None:
    @cli.group("conditions")
    def conditions() -> None:
        """The conditions an episode is tagged with: list them, or suggest them from a text or transcript."""

    @conditions.command("suggest")
    @click.argument("file", type=click.Path(path_type=Path))
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON list (id, slug, title, score, evidence).")
    @click.option("--top", type=click.IntRange(1, 100), default=None,
                  help="Show only the best N conditions (default: all).")
    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="The show's folder: its own taxonomy (settings.conditions.taxonomy) is used when it has one.")
    def suggest_cmd(file: Path, as_json: bool, top: int | None, root: Path | None) -> None:
        """Rank the conditions FILE speaks to, best first, each with a 0-1 score and the sentences that show it.

        FILE is plain text or a Podcasting 2.0 transcript .json (then evidence carries start/end times).
        """
        from pipeline.errors import KindcastError
        from pipeline.conditions.suggest import iter_lines, read_document, suggest

        if root is None:
            root = click.get_current_context().find_root().obj
        sentences = read_document(file)
        if not sentences:
            raise KindcastError(f"{file}: no text to read")
        taxonomy, model, budget, framing = _taxonomy(root)
        ranked = suggest(sentences, taxonomy, model, budget, framing).suggestions[:top]
        if as_json:
            click.echo(json.dumps([s.to_json() for s in ranked], indent=2, ensure_ascii=False))
        else:
            for line in iter_lines(ranked):
                click.echo(line)

    @conditions.command("list")
    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None)
    def list_cmd(root: Path | None) -> None:
        """The taxonomy: id, slug, pillar and name of every condition."""
        if root is None:
            root = click.get_current_context().find_root().obj
        taxonomy = _taxonomy(root)[0]
        for c in taxonomy.conditions:
            click.echo(f"{c.id:>3}  {c.slug:<34} {c.pillar:<10} {c.title}")
