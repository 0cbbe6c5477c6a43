"""``kindcast publish [--to DEST] [--dry-run] [--no-notify]``: send the built tree to its host, then tell the hubs.

Only what changed since the last publish to that destination is sent (by content hash), media first and the feed
last; files of removed episodes go once the new feed is up. See ``pipeline/publish/publisher.py``.
"""
from __future__ import annotations

from pathlib import Path

import click


def register(cli: click.Group) -> None:
    from pipeline.cli import resolve_root, root_option

    @cli.command("publish")
    @click.option("--to", "to", metavar="DEST", default=None,
                  help="A folder, s3://bucket/prefix/ or sftp://user@host[:port]/path (default: publish.to in "
                       "show.yaml).")
    @click.option("--dry-run", is_flag=True, help="List what would be uploaded, deleted and notified; send nothing.")
    @click.option("--no-notify", is_flag=True, help="Do not tell WebSub hubs, Podcast Index or podping this time.")
    @root_option
    @click.pass_context
    def publish_cmd(ctx: click.Context, to: str | None, dry_run: bool, no_notify: bool, root: Path | None) -> None:
        """Send the built tree to its host (only what changed, feed last), then notify hubs of a changed feed."""
        from pipeline.errors import ValidationFailed
        from pipeline.publish.publisher import human_size, publish_show

        def say(line: str) -> None:  # warnings and failed notifications on stderr, the rest on stdout
            click.echo(line, err=line.startswith(("warning:", "notify failed:")))

        try:
            report = publish_show(resolve_root(ctx, root), to=to, dry=dry_run, notify=not no_notify, emit=say)
        except ValidationFailed as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            raise
        verb = ("to upload", "to delete") if dry_run else ("uploaded", "deleted")
        counts = (f"{len(report.uploads)} {verb[0]} ({human_size(report.uploaded_bytes)}), "
                  f"{len(report.deletions)} {verb[1]}, {report.unchanged} unchanged")
        if dry_run:
            click.echo(f"dry run for {report.destination}: {counts}; nothing was sent")
            return
        cleaned = f", {report.cleaned} temporary file(s) of an interrupted publish removed" if report.cleaned else ""
        click.echo(f"published to {report.destination}: {counts}{cleaned}")
        if report.notify_failed:
            ctx.exit(1)
