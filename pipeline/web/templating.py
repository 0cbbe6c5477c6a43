"""Jinja2 templates for show notes and the site, and the HTML helpers they need.

One environment per show root, built once per process: the show's own ``<root>/templates/`` comes first, then the
packaged defaults in ``pipeline/templates/`` (a show overrides a default by copying the file into its ``templates/``
folder and editing it). HTML templates are autoescaped; ``.md`` and ``.css`` templates are not.

Template mistakes are user mistakes: a missing template names every folder searched, a syntax or render error gives
one line naming the template file and the line.

Producer Markdown is rendered with the ``markdown`` package with raw HTML *escaped* (shown as text, never passed
through), then cleaned by :mod:`pipeline.web.sanitize` (link and image addresses limited to http, https, mailto and
relative ones), which also cuts an RSS description down to the tags Apple Podcasts allows.
"""
from __future__ import annotations

import functools
import html
import os
import re
import threading
import traceback
from html.parser import HTMLParser
from pathlib import Path

from pipeline.errors import KindcastError, Problem
from pipeline.web.sanitize import clean_page, safe_url

PACKAGED_TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
SHOW_TEMPLATES = "templates"  # relative to the show root


def template_dirs(root: Path) -> list[Path]:
    """Where templates are looked up, first match wins."""
    return [Path(root) / SHOW_TEMPLATES, PACKAGED_TEMPLATES]


# --- filters -------------------------------------------------------------------------------------------------------

def _clock(seconds) -> str:
    from pipeline.timeline import format_clock

    return format_clock(float(seconds or 0))


def _stamp(seconds) -> str:
    """``MM:SS`` (``HH:MM:SS`` from an hour): the chapter timestamps Spotify reads in a description."""
    total = int(float(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _md_text(value) -> str:
    """Metadata placed in a Markdown file: HTML-special characters become entities, so a Markdown renderer shows the
    text instead of running it as HTML."""
    return html.escape("" if value is None else str(value), quote=False)


def long_date(iso: str) -> str:
    """``14 September 2026``."""
    from datetime import datetime

    d = datetime.fromisoformat(iso)
    return f"{d.day} {d:%B %Y}"


class Templates:
    """The Jinja2 environment for one show root."""

    def __init__(self, root: Path):
        import jinja2

        self.root = Path(root)
        self.dirs = template_dirs(self.root)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html", "htm", "xml"), default_for_string=True,
                                                default=False),
            undefined=jinja2.StrictUndefined,  # a typo in a template is an error naming the line, not empty output
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["clock"] = _clock
        self.env.filters["stamp"] = _stamp
        self.env.filters["md"] = _md_text
        self.env.filters["long_date"] = long_date
        self._overrides: tuple[str, ...] | None = None

    def _sync(self) -> None:
        """Jinja2 reloads a cached template when *its* file changes, but not when a show override appears for (or
        disappears from) a name that was loaded from the packaged defaults: forget the cache when that happens."""
        show_dir = self.dirs[0]
        found = tuple(sorted(os.path.join(folder, name) for folder, _, names in os.walk(show_dir) for name in names))
        if found != self._overrides:
            if self._overrides is not None and self.env.cache is not None:
                self.env.cache.clear()
            self._overrides = found

    # --- lookup ---------------------------------------------------------------------------------------------------

    def display(self, filename: str | Path) -> str:
        """A template file as messages name it: relative to the show root when it is the show's own."""
        try:
            return str(Path(filename).resolve().relative_to(self.root.resolve()))
        except (ValueError, OSError):
            return str(filename)

    def _searched(self) -> str:
        return ", ".join(str(d) for d in self.dirs)

    def path_of(self, name: str) -> Path:
        """The file a template name resolves to (a show override, else the packaged default)."""
        for folder in self.dirs:
            candidate = folder / name
            if candidate.is_file():
                return candidate
        raise KindcastError(f"template '{name}' not found (searched: {self._searched()})")

    def files(self, names: list[str]) -> list[Path]:
        """Every template file that rendering ``names`` reads: the named ones and what they extend, include or
        import, each resolved to the show's override or the packaged default. Never raises: a template that does not
        parse is still listed (so editing it triggers a rebuild) and the error is reported when rendering."""
        self._sync()
        seen: dict[str, Path] = {}
        todo = list(names)
        while todo:
            name = todo.pop(0)
            if name in seen:
                continue
            try:
                path = self.path_of(name)
            except KindcastError:
                continue
            seen[name] = path
            todo += self._references(path, name)
        return sorted(set(seen.values()))

    def _references(self, path: Path, name: str) -> list[str]:
        """Templates that ``path`` extends, includes or imports; parsed once per file version, since the freshness
        check asks for every episode on every build."""
        from jinja2 import TemplateError, meta

        try:
            st = path.stat()
        except OSError:
            return []
        key = (str(path), st.st_mtime_ns, st.st_size)
        cache = self.__dict__.setdefault("_refs_cache", {})
        if key not in cache:
            try:
                ast = self.env.parse(path.read_text(encoding="utf-8"), name, str(path))
                cache[key] = [ref for ref in meta.find_referenced_templates(ast) if isinstance(ref, str)]
            except (TemplateError, OSError, UnicodeDecodeError):
                cache[key] = []
        return cache[key]

    # --- rendering ------------------------------------------------------------------------------------------------

    def render(self, name: str, **context) -> str:
        """Render a template; any template mistake becomes one KindcastError line naming the file and line."""
        import jinja2

        self._sync()
        try:
            template = self.env.get_template(name)
            return template.render(**context)
        except jinja2.TemplateNotFound as exc:
            missing = exc.name or name
            via = "" if missing == name else f" (needed by '{name}')"
            raise KindcastError(f"template '{missing}' not found{via} (searched: {self._searched()})") from None
        except jinja2.TemplateSyntaxError as exc:
            where = self.display(exc.filename) if exc.filename else (exc.name or name)
            raise KindcastError(f"{where}: line {exc.lineno}: template syntax error: {exc.message}") from None
        except KindcastError:
            raise
        except Exception as exc:  # an error while rendering: undefined variable, bad filter argument...
            where, line = self._template_frame(exc)
            if where is None:
                raise  # not inside a template: a bug in our code, keep the traceback
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise KindcastError(f"{where}: line {line}: error while rendering template '{name}': {message}") from None

    def check(self) -> list[Problem]:
        """Syntax problems in the show's own templates, one line each (for ``kindcast check``: found before any
        audio is processed, not when the notes stage reaches them)."""
        from jinja2 import TemplateSyntaxError

        show_dir = self.dirs[0]
        problems = []
        if not show_dir.is_dir():
            return problems
        for path in sorted(show_dir.rglob("*")):
            if (not path.is_file() or path.suffix not in (".html", ".htm", ".md", ".css", ".xml", ".txt", ".js")
                    or path.name.upper().startswith("README")):
                continue
            name = path.relative_to(show_dir).as_posix()
            try:
                self.env.parse(path.read_text(encoding="utf-8"), name, str(path))
            except TemplateSyntaxError as exc:
                problems.append(Problem(self.display(path), f"line {exc.lineno}", f"template syntax error: {exc.message}"))
            except UnicodeDecodeError:
                problems.append(Problem(self.display(path), "", "not UTF-8 text"))
        return problems

    def _template_frame(self, exc: BaseException) -> tuple[str | None, int | None]:
        """The innermost traceback frame that lies in a template file (Jinja2 rewrites frames to template lines)."""
        dirs = [str(d.resolve()) for d in self.dirs]
        found: tuple[str | None, int | None] = (None, None)
        for frame in traceback.extract_tb(exc.__traceback__):
            try:
                resolved = str(Path(frame.filename).resolve())
            except OSError:
                continue
            if any(resolved.startswith(d + "/") for d in dirs):
                found = (self.display(frame.filename), frame.lineno)
        return found


@functools.lru_cache(maxsize=8)
def _templates(root: str) -> Templates:
    return Templates(Path(root))


def templates_for(root: Path) -> Templates:
    """The environment for a show root, built once per process (Jinja2 reloads a template file when it changes)."""
    return _templates(str(Path(root).resolve()))


# --- Markdown ------------------------------------------------------------------------------------------------------

def _escape_html_extension():
    import markdown
    from markdown.treeprocessors import Treeprocessor

    class DropUnsafeUrls(Treeprocessor):
        def run(self, root):
            for el in root.iter():
                for attr in ("href", "src"):
                    if attr in el.attrib and safe_url(el.attrib[attr]) is None:
                        del el.attrib[attr]
                        if el.tag == "a":
                            el.tag = "span"  # the link text stays, as text

    class EscapeHtml(markdown.Extension):
        """Raw HTML in the producer's Markdown is shown as text: the two parts of Python-Markdown that pass HTML
        through (block-level HTML and inline tags) are switched off, so the serializer escapes it."""

        def extendMarkdown(self, md):
            md.preprocessors.deregister("html_block")
            md.inlinePatterns.deregister("html")
            md.treeprocessors.register(DropUnsafeUrls(md), "drop_unsafe_urls", 0)

    return EscapeHtml()


_local = threading.local()


def _markdown():
    """One converter per thread (a Markdown instance keeps state while converting)."""
    md = getattr(_local, "markdown", None)
    if md is None:
        import markdown

        md = _local.markdown = markdown.Markdown(extensions=[_escape_html_extension(), "sane_lists"],
                                                 output_format="html")
    return md


def render_markdown(text: str) -> str:
    """The producer's Markdown as HTML: raw HTML escaped, unsafe link schemes dropped. (One converter per process,
    reset between documents: building it is most of the cost.)"""
    md = _markdown()
    try:
        return clean_page(md.convert(text or ""))
    finally:
        md.reset()


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, whitespace collapsed."""
    parser = _Text()
    parser.feed(fragment or "")
    parser.close()
    return re.sub(r"\s+", " ", "".join(parser.parts)).strip()


def first_paragraph_text(markdown_text: str) -> str:
    """Plain text of the first paragraph of some Markdown (headings skipped)."""
    rendered = render_markdown(markdown_text)
    match = re.search(r"<p>(.*?)</p>", rendered, flags=re.S)
    return html_to_text(match.group(1)) if match else html_to_text(rendered)
