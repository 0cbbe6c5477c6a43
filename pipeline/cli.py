"""The command line: a thin face over build and the single-file stages.

``main(argv) -> int`` never raises for a user mistake: it prints one line (``kindcast: error: ...``) and returns 1.
Exit codes: 0 success; 1 a user mistake, problems found, or an episode failed; 2 a command-line usage error.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import uuid
from datetime import date
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import KindcastError, ValidationFailed, problem_lines


def root_option(fn):
    return click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="The show's folder (holding episodes/). Default: the current folder.")(fn)


def resolve_root(ctx: click.Context, root: Path | None) -> Path:
    return (root or ctx.find_root().obj or Path.cwd()).resolve()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kindcast")
@root_option
@click.pass_context
def cli(ctx: click.Context, root: Path | None) -> None:
    """kindcast: publish a podcast from episode folders: mastered audio, transcripts, audiograms, feed and notes."""
    ctx.obj = root


def _err(message: str) -> None:
    click.echo(message, err=True)


def _print_lines(lines) -> None:
    """(to stderr?, text) pairs, as BuildReport.summary and problem_lines give them."""
    for to_err, line in lines:
        click.echo(line, err=to_err)


def _print_problems(problems, warnings=()) -> None:
    _print_lines(problem_lines(problems, warnings))


def _environment_warnings(project) -> list:
    """What the show asks for that this machine cannot give yet (a secret the environment lacks)."""
    from pipeline.errors import Problem
    from pipeline.publish.notify import PODPING_TOKEN_ENV
    from pipeline.show import EPISODES_DIR, SHOW_FILE

    show = project.show
    if show is not None and show.meta.publish.podping and not os.environ.get(PODPING_TOKEN_ENV, "").strip():
        return [Problem(f"{EPISODES_DIR}/{SHOW_FILE}", "publish.podping",
                        f"on, but {PODPING_TOKEN_ENV} is not set here: podping.cloud refuses a ping without it "
                        "(publish keeps the ping and tries again next time)")]
    return []


@cli.command()
@root_option
@click.pass_context
def check(ctx: click.Context, root: Path | None) -> None:
    """Validate the show and every episode; list every problem; exit 1 if any."""
    from pipeline.engine.build import published_slugs
    from pipeline.show import load_project
    from pipeline.web.templating import templates_for

    base = resolve_root(ctx, root)
    project = load_project(base, published=published_slugs(base))
    problems = project.problems + templates_for(base).check()
    _print_problems(problems, project.warnings + _environment_warnings(project))
    if problems:
        raise ValidationFailed(problems)
    click.echo(f"ok: show '{project.show.meta.title}', {len(project.episodes)} episodes")


@cli.command()
@click.argument("slug")
@click.option("--audio", "audio", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The raw recording (wav, mp3, m4a, flac); it is copied into the episode folder.")
@click.option("--title", default=None, help="Episode title (default: made from the slug).")
@root_option
@click.pass_context
def new(ctx: click.Context, slug: str, audio: Path, title: str | None, root: Path | None) -> None:
    """Scaffold episodes/SLUG/ with the recording and a filled-in episode.md (its GUID fixed now)."""
    from pipeline.media import AUDIO_EXTENSIONS, probe_audio
    from pipeline.show import EPISODE_FILE, EPISODES_DIR, SLUG_RE, episode_folders, read_front_matter

    base = resolve_root(ctx, root)
    if not SLUG_RE.match(slug):
        raise KindcastError(f"{slug}: not a slug (lower-case letters, digits and hyphens, e.g. 'ep-04-listening')")
    folder = base / EPISODES_DIR / slug
    if folder.exists():
        raise KindcastError(f"{folder}: already exists; not overwriting it")
    if audio.suffix.lower() not in AUDIO_EXTENSIONS:
        raise KindcastError(f"{audio}: not a recording kindcast reads ({', '.join(AUDIO_EXTENSIONS)})")
    info = probe_audio(audio)  # refuses what is not audio before anything is written
    numbers = []
    for other in episode_folders(base):
        try:
            data, _ = read_front_matter(other / EPISODE_FILE)
            if isinstance(data.get("number"), int):
                numbers.append(data["number"])
        except (KindcastError, OSError):
            continue
    title = title or slug.replace("-", " ").strip().capitalize()
    front = {
        "title": title,
        "date": date.today().isoformat(),
        "guid": str(uuid.uuid4()),
        "number": max(numbers, default=0) + 1,
        "episode_type": "full",
        "explicit": False,
        "summary": "",
        "audio": audio.name,
        "guests": [],
        "conditions": [],
        "chapters": [],
        "soundbites": [],
        "cuts": [],
    }
    import yaml

    text = ("---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100) + "---\n\n"
            f"Notes for *{title}*: who is speaking, what the conversation covers, links mentioned.\n")
    folder.mkdir(parents=True)
    try:
        shutil.copy2(audio, folder / audio.name)
        (folder / EPISODE_FILE).write_text(text, encoding="utf-8")
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    click.echo(f"created {folder.relative_to(base)}/ ({info.duration:.1f} s of audio); edit {EPISODE_FILE}, then run kindcast build")


@cli.command()
@click.option("--episode", "only", default=None, metavar="SLUG", help="Build only this episode (and the show pages).")
@click.option("--force", is_flag=True, help="Run every stage even when it is up to date.")
@click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Episodes built at once, each in its own process (with --executor dask: local Dask workers).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default=None,
              help="Where episodes run: local processes, or Dask (a local cluster of --jobs workers, or --scheduler's)."
                   " Default: dask when --scheduler or $DASK_SCHEDULER_ADDRESS is set, else local.")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Build the episodes on this Dask cluster (default: $DASK_SCHEDULER_ADDRESS); needs kindcast[dask].")
@click.option("--cluster-timeout", default=30.0, show_default=True, type=click.FloatRange(0.1, None),
              metavar="SECONDS", help="How long to wait for the Dask scheduler, its workers and their answers.")
@root_option
@click.pass_context
def build(ctx: click.Context, only: str | None, force: bool, jobs: int, executor: str | None, scheduler: str | None,
          cluster_timeout: float, root: Path | None) -> None:
    """Build the show into feeds/, redoing only what changed."""
    base = resolve_root(ctx, root)
    if not force and only is None:
        lines = _nothing_changed(base)
        if lines is not None:
            _print_lines(lines)
            return
    from pipeline.engine.build import build as run_build
    from pipeline.progress import Reporter

    with _stopped_by_signals(), Reporter() as reporter, _cluster(executor, scheduler, jobs, cluster_timeout) as runner:
        try:
            report = run_build(base, only=only, force=force, jobs=jobs, emit=reporter.event, executor=runner)
        except ValidationFailed as exc:
            _print_problems(exc.problems)
            raise
    _print_lines(report.summary(traces=True))
    if not report.ok:
        ctx.exit(1)


def _nothing_changed(base: Path) -> list[tuple[bool, str]] | None:
    """What the last build printed, when it found everything up to date and nothing it judged by has changed since
    (pipeline/engine/unchanged.py); None: build in full."""
    from pipeline.engine import unchanged

    answer_file = unchanged.location(base)
    if not answer_file.is_file():
        return None
    from pipeline.engine.lock import ShowLock

    with ShowLock(answer_file.parent, "build"):  # another build at work: the usual one line
        return unchanged.answer(base)


def _cluster(executor: str | None, scheduler: str | None, jobs: int, timeout: float):
    """The Dask executor when one is asked for (it imports distributed), else nothing: the local default."""
    import os

    if executor == "local":
        if scheduler:
            raise click.UsageError("--scheduler runs the build on Dask; it cannot go with --executor local")
        return contextlib.nullcontext()
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address is None and executor != "dask":
        return contextlib.nullcontext()
    from pipeline.engine.cluster import DaskExecutor

    return DaskExecutor(address, workers=jobs, timeout=timeout)


class Interrupted(KindcastError):
    exit_code = 130


@contextlib.contextmanager
def _stopped_by_signals():
    """Ctrl-C or SIGTERM (a service manager stopping the build) end it cleanly: workers and ffmpeg stop, what was
    published stays as it was, and the next build goes on from there."""
    def on_term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted; the published files are as they were before this build, and the next "
                          "build goes on from where this one stopped") from None
    finally:
        signal.signal(signal.SIGTERM, previous)


@cli.command()
@click.option("--episode", "only", default=None, metavar="SLUG")
@root_option
@click.pass_context
def status(ctx: click.Context, only: str | None, root: Path | None) -> None:
    """Per episode and stage: up to date, or why it will run."""
    from pipeline.engine.build import SHOW_UNIT, build as run_build

    report = run_build(resolve_root(ctx, root), only=only, dry=True)
    units = sorted(report.episodes.items()) + ([(SHOW_UNIT, report.show)] if report.show else [])
    for slug, unit in units:
        name = "show" if slug == SHOW_UNIT else slug
        for run in unit.runs:
            click.echo(f"{name:<28} {run.stage:<11} " + (f"will run: {run.reason}" if run.reason else "up to date"))
        # notices: said once by the build that did the work, and kept here
        for kind, line in [("warning", w) for w in unit.warnings] + [("note", n) for n in unit.notices]:
            stage, _, text = line.partition(": ")
            click.echo(f"{name:<28} {stage:<11} {kind}: {text}")
    for slug, problems in report.invalid.items():
        click.echo(f"{slug:<28} {'-':<11} will not build: {len(problems)} problem(s), see kindcast check")


@cli.command()
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--bind", default="127.0.0.1", show_default=True, help="The address to listen on (this machine only by default).")
@root_option
@click.pass_context
def serve(ctx: click.Context, port: int, bind: str, root: Path | None) -> None:
    """Preview feeds/ on this machine (byte ranges answered, so players can seek)."""
    from pipeline.show import load_show
    from pipeline.web.preview import serve as serve_folder

    base = resolve_root(ctx, root)
    show, problems = load_show(base)
    out = show.output_dir if show else base / "feeds"
    if not out.is_dir():
        raise KindcastError(f"{out}: nothing built yet; run kindcast build first")
    try:
        serve_folder(out, bind, port, ready=lambda url: click.echo(f"serving {out} at {url} (Ctrl-C to stop)"))
    except OSError as exc:
        raise KindcastError(f"--bind {bind} --port {port}: cannot listen there ({exc.strerror or exc})") from None


def _register_commands() -> None:
    """The commands beyond build, one module each: single-file ones (they mirror the stages), publish and watch."""
    from pipeline.commands import audiogram, conditions, master, publish, transcribe, watch

    for module in (conditions, master, transcribe, audiogram, publish, watch):
        module.register(cli)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code. User mistakes print one line, bugs keep their traceback."""
    try:
        code = cli.main(args=argv, prog_name="kindcast", standalone_mode=False)
    except ValidationFailed as exc:
        _err(f"kindcast: error: {len(exc.problems)} problem(s) found")
        return exc.exit_code
    except KindcastError as exc:
        _err(f"kindcast: error: {exc}")
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        _err("kindcast: aborted")
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    return code if isinstance(code, int) else 0


def run() -> None:
    sys.exit(main())
