"""``kindcast watch [--publish]``: build (and publish) when recordings land or change, and when a scheduled
episode's time comes. One line per event; Ctrl-C ends it. See ``pipeline/publish/watch.py``."""
from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    from pipeline.cli import resolve_root, root_option

    @cli.command("watch")
    @click.option("--publish", "publish", is_flag=True, help="Publish after every build (to publish.to, or --to).")
    @click.option("--to", "to", metavar="DEST", default=None, help="Where to publish (implies --publish).")
    @click.option("--settle", type=click.FloatRange(0.2, 3600), default=20.0, show_default=True,
                  help="Seconds an episode folder must stay unchanged (its recording no longer growing) before it "
                       "is built.")
    @click.option("--jobs", "-j", default=1, show_default=True, type=click.IntRange(1, 64),
                  help="Episodes built at once, each in its own process.")
    @root_option
    @click.pass_context
    def watch_cmd(ctx: click.Context, publish: bool, to: str | None, settle: float, jobs: int,
                  root: Path | None) -> None:
        """Build (and publish) when recordings land or change, and when a scheduled episode's time comes."""
        import signal

        from pipeline.publish.watch import Watcher

        def terminate(signum, frame):  # a service manager's stop ends the watch like Ctrl-C
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        watcher = Watcher(resolve_root(ctx, root), publish=publish or to is not None, settle=settle, jobs=jobs,
                          to=to, emit=click.echo)
        try:
            watcher.run()
        except KeyboardInterrupt:
            click.echo("stopped")
