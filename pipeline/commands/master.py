"""``kindcast master IN OUT [--target-lufs -16] [--true-peak -1]``: master one file outside a show.

Trims silence at both ends, normalises loudness (-16 LUFS integrated and -1 dBTP by default, mono or stereo alike:
that is this command's contract), encodes MP3 or M4A by OUT's extension, and prints what it measured.
"""
from __future__ import annotations

from pathlib import Path

import click

FORMATS = {".mp3": "mp3", ".m4a": "m4a", ".mp4": "m4a", ".aac": "m4a"}


def register(cli: click.Group) -> None:
    @cli.command("master")
    @click.argument("source", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
    @click.argument("dest", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--target-lufs", type=click.FloatRange(-40, -5), default=-16.0, show_default=True,
                  help="Integrated loudness of the result (LUFS).")
    @click.option("--true-peak", type=click.FloatRange(-9, 0), default=-1.0, show_default=True,
                  help="True-peak ceiling of the encoded result (dBTP).")
    @click.option("--bitrate", default="128k", show_default=True, help="Encoder bitrate, e.g. 96k, 128k, 192k.")
    @click.option("--channels", type=click.Choice(["auto", "mono", "stereo"]), default="auto", show_default=True,
                  help="auto keeps a mono recording mono and makes anything else stereo.")
    @click.option("--no-trim", is_flag=True, help="Keep the silence at both ends.")
    def master_cmd(source: Path, dest: Path, target_lufs: float, true_peak: float, bitrate: str, channels: str,
                   no_trim: bool) -> None:
        """Master the recording IN into OUT (.mp3 or .m4a): trim silence, normalise loudness, encode."""
        import re

        from pipeline.errors import KindcastError
        from pipeline.audio.master import MasterJob, master
        from pipeline.settings import EncodeSettings, SilenceSettings

        fmt = FORMATS.get(dest.suffix.lower())
        if fmt is None:
            raise KindcastError(f"{dest}: OUT must end in .mp3 or .m4a")
        if not re.match(r"^\d{2,3}k$", bitrate):
            raise KindcastError(f"--bitrate: {bitrate!r} is not like 128k")
        if source.resolve() == dest.resolve():
            raise KindcastError(f"{dest}: OUT must not be the same file as IN")
        silence, encode = SilenceSettings(), EncodeSettings()
        job = MasterJob(
            source=source, output=dest, label=str(source), target_lufs=target_lufs, mono_target_lufs=None,
            true_peak=true_peak, fmt=fmt, bitrate=bitrate, quality=encode.quality, sample_rate=encode.sample_rate,
            channels=channels, silence_threshold_db=silence.threshold_db, min_silence=silence.min_silence,
            pad=silence.pad, trim=not no_trim,
        )
        r = master(job)
        click.echo(f"{dest}: {r.lufs:.1f} LUFS, true peak {r.true_peak:.1f} dBTP, {r.duration:.1f} s "
                   f"(from {r.source_duration:.1f} s), {'mono' if r.channels == 1 else 'stereo'}, {r.bytes} bytes, "
                   f"{r.seconds:.1f} s ({r.source_duration / max(r.seconds, 1e-6):.0f}x real time)")
        for warning in r.warnings:
            click.echo(f"warning: {source}: {warning}", err=True)
