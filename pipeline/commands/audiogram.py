"""``kindcast audiogram IN --start T --duration D [--size ...] [--transcript JSON] [--title T] [--artwork IMG] -o OUT``.

Renders a captioned audiogram of one clip of any audio file, outside a show. Without ``--transcript`` the clip is
transcribed first: only the clip, offline, with ``--model`` and ``--language`` (default: the show's
``settings.transcription`` when ``--root`` holds a show, else the bundled tiny.en in English), naming the voices
given by ``--speakers``. ``--size all`` writes ``OUT-square.mp4``, ``OUT-vertical.mp4`` and
``OUT-landscape.mp4``; a poster image (the loudest moment) is written beside them as ``OUT.jpg``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

SIZES = ("square", "vertical", "landscape", "all")


def _time(ctx, param, value):
    from pipeline.timeline import parse_time

    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def register(cli: click.Group) -> None:
    @cli.command("audiogram")
    @click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--start", required=True, callback=_time, help="Clip start in IN: seconds or H:MM:SS.")
    @click.option("--duration", required=True, callback=_time, help="Clip length, 15 to 90 seconds.")
    @click.option("--size", type=click.Choice(SIZES), default="square", show_default=True,
                  help="square 1080x1080, vertical 1080x1920, landscape 1920x1080, or all three.")
    @click.option("--transcript", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Podcasting 2.0 JSON transcript of IN (times relative to the whole file). "
                       "Default: transcribe the clip.")
    @click.option("--title", default=None, help="Episode title shown on the video (default: IN's name).")
    @click.option("--show", "show_title", default="", help="Show name shown above the title.")
    @click.option("--artwork", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="Square artwork (PNG/JPEG) shown beside the title.")
    @click.option("--font", default=None, help="Caption and title font family (default: Lato, shipped with kindcast).")
    @click.option("--fonts-dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
                  help="A folder of .ttf/.otf files to find --font in.")
    @click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
                  help="Output .mp4 (with --size all: OUT-square.mp4, OUT-vertical.mp4, OUT-landscape.mp4).")
    @click.option("--model", default=None, metavar="NAME_OR_DIR",
                  help="Whisper model for the clip (default: the show's settings.transcription.model, else tiny.en).")
    @click.option("--language", default=None, metavar="L",
                  help="Language of the clip (default: the show's, else en).")
    @click.option("--speakers", default=None, metavar="NAMES",
                  help="Names of the voices in the clip, host first (captions coloured by voice; which voice is "
                       "whom as for kindcast transcribe --speakers).")
    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="A show folder whose transcription settings (model, language) are used for the clip.")
    def audiogram_cmd(source: Path, start: float, duration: float, size: str, transcript: Path | None,
                      title: str | None, show_title: str, artwork: Path | None, font: str | None,
                      fonts_dir: Path | None, model: str | None, language: str | None, speakers: str | None,
                      out: Path, root: Path | None) -> None:
        """Render a captioned audiogram video of a clip of IN."""
        import time

        from pipeline.video.audiogram import SHAPES, Theme, find_fonts, make_clip, output_names
        from pipeline.speech.transcript import load_words
        from pipeline.errors import KindcastError

        overrides: dict = {}
        if font:
            overrides["font"] = font
        if fonts_dir:
            overrides["fonts_dir"] = str(fonts_dir.resolve())
        theme = Theme.from_settings(overrides, where="audiogram")
        fonts = find_fonts(theme, where="--font")
        if artwork is not None and not artwork.is_file():
            raise KindcastError(f"{artwork}: --artwork: file not found")
        if not source.is_file():
            raise KindcastError(f"{source}: no such file")
        words = load_words(transcript) if transcript else None
        transcribe = None
        if words is None:
            transcribe = _clip_transcriber(root or click.get_current_context().find_root().obj, model, language,
                                           speakers)
        sizes = list(SHAPES) if size == "all" else [size]
        outputs = output_names(out, sizes)
        stem = out.with_suffix("") if out.suffix.lower() == ".mp4" else out
        poster = stem.with_name(stem.name + ".jpg")
        began = time.perf_counter()
        with _Bar(f"audiogram {out.name}") as bar:
            result = make_clip(source, outputs, start=start, duration=duration, words=words,
                               show_title=show_title, episode_title=title or source.stem.replace("_", " "),
                               artwork=artwork, theme=theme, fonts=fonts, poster=poster, progress=bar.update,
                               transcribe=transcribe)
        seconds = time.perf_counter() - began
        for shape, path in result.files.items():
            click.echo(f"{path}: {shape} {SHAPES[shape][0]}x{SHAPES[shape][1]}, {duration:g} s")
        click.echo(f"{poster}: poster at {result.poster_time:.1f} s; {result.captions} captions, "
                   f"{len(result.words)} words; {seconds:.1f} s")
        for warning in result.warnings:
            click.echo(f"warning: {out}: {warning}", err=True)


def _clip_transcriber(root: Path | None, model: str | None, language: str | None, speakers: str | None):
    """transcribe(audio, start, duration) for the clip: the options first, then the show at ``root`` (its model
    folder is relative to its episodes/ folder, never to the current folder), then tiny.en in English."""
    import functools

    from pipeline.errors import KindcastError
    from pipeline.show import load_show
    from pipeline.speech.whisper import resolve_model
    from pipeline.video.audiogram import transcribe_clip

    settings, base = None, Path.cwd()
    if root is not None and (Path(root) / "episodes" / "show.yaml").is_file():
        show, problems = load_show(Path(root))
        if show is None:
            raise KindcastError(str(problems[0]))
        settings = show.settings.transcription
        if model is None and settings.model:
            model, base = settings.model, show.episodes_dir
        if language is None:
            language = show.speech_language
    model_dir = resolve_model(model, base, what="--model" if base == Path.cwd() else "settings.transcription.model")
    names = [n.strip() for n in speakers.split(",") if n.strip()] if speakers else []
    return functools.partial(transcribe_clip, model=str(model_dir), language=(language or "en").lower(),
                             speakers=names)


class _Bar:
    """A rich progress bar on a terminal; silent otherwise."""

    def __init__(self, label: str):
        self.label = label
        self.progress = None
        self.task = None

    def __enter__(self) -> "_Bar":
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                     TimeElapsedColumn(), console=Console(file=sys.stderr), transient=True)
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=1.0)
        return self

    def update(self, fraction: float) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=fraction)

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()
