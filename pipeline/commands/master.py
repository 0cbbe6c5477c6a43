"""``kindcast master IN OUT [--target-lufs -16] [--true-peak -1]``: master one file outside a show.

Trims silence at both ends, cleans up the speech (high-pass, noise reduction, leveler; each can be switched off),
normalises loudness (-16 LUFS integrated and -1 dBTP by default, mono or stereo alike: that is this command's
contract), encodes MP3 or M4A by OUT's extension, and prints the loudness report: before and after figures, and each
speaker's loudness when ``--turns`` says who speaks when. ``--report DIR`` also writes the report's JSON, picture
and page there.
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
    @click.option("--no-highpass", is_flag=True, help="No high-pass filter against rumble.")
    @click.option("--no-denoise", is_flag=True, help="No noise reduction.")
    @click.option("--no-leveler", is_flag=True, help="No speech leveler (one gain for the whole recording).")
    @click.option("--turns", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="JSON list of {speaker, start, end} (raw seconds), or an object with such a 'turns' list: "
                       "the report gives each speaker's loudness.")
    @click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Also write loudness.json, loudness.png and index.html into this folder.")
    def master_cmd(source: Path, dest: Path, target_lufs: float, true_peak: float, bitrate: str, channels: str,
                   no_trim: bool, no_highpass: bool, no_denoise: bool, no_leveler: bool, turns: Path | None,
                   report_dir: Path | None) -> None:
        """Master the recording IN into OUT (.mp3 or .m4a): trim silence, normalise loudness, encode."""
        import re

        from pipeline.errors import KindcastError
        from pipeline.audio.master import MasterJob, master
        from pipeline.audio.report import summary_lines, write_report
        from pipeline.settings import CleanupSettings, EncodeSettings, SilenceSettings

        fmt = FORMATS.get(dest.suffix.lower())
        if fmt is None:
            raise KindcastError(f"{dest}: OUT must end in .mp3 or .m4a")
        if not re.match(r"^\d{2,3}k$", bitrate):
            raise KindcastError(f"--bitrate: {bitrate!r} is not like 128k")
        if source.resolve() == dest.resolve():
            raise KindcastError(f"{dest}: OUT must not be the same file as IN")
        silence, encode, cleanup = SilenceSettings(), EncodeSettings(), CleanupSettings()
        job = MasterJob(
            source=source, output=dest, label=str(source), target_lufs=target_lufs, mono_target_lufs=None,
            true_peak=true_peak, fmt=fmt, bitrate=bitrate, quality=encode.quality, sample_rate=encode.sample_rate,
            channels=channels, silence_threshold_db=silence.threshold_db, min_silence=silence.min_silence,
            pad=silence.pad, trim=not no_trim,
            highpass_hz=None if no_highpass else cleanup.highpass_hz,
            denoise_db=None if no_denoise else cleanup.denoise_db, leveler=not no_leveler,
            max_gain_db=cleanup.max_gain_db, pause_db=cleanup.pause_db,
            turns=_read_turns(turns) if turns else (),
        )
        r = master(job)
        click.echo(f"{dest}: {r.lufs:.1f} LUFS, true peak {r.true_peak:.1f} dBTP, {r.duration:.1f} s "
                   f"(from {r.source_duration:.1f} s), {'mono' if r.channels == 1 else 'stereo'}, {r.bytes} bytes, "
                   f"{r.seconds:.1f} s ({r.source_duration / max(r.seconds, 1e-6):.0f}x real time)")
        for line in summary_lines(r.report):
            click.echo(f"  {line}")
        if report_dir is not None:
            written = write_report(r.report, report_dir, dest.stem)
            click.echo(f"report: {written[-1]}")
        for warning in r.warnings:
            click.echo(f"warning: {source}: {warning}", err=True)


def _read_turns(path: Path) -> tuple[tuple[str, float, float], ...]:
    """(speaker, start, end) from a JSON file: a list of turns, or an object whose ``turns`` is one."""
    import json

    from pipeline.errors import KindcastError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KindcastError(f"--turns: {path}: not a readable JSON file ({exc})") from None
    items = data.get("turns") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise KindcastError(f"--turns: {path}: expected a list of {{speaker, start, end}} or an object with 'turns'")
    out = []
    for i, t in enumerate(items):
        try:
            start, end = float(t["start"]), float(t["end"])
            speaker = str(t["speaker"])
        except (KeyError, TypeError, ValueError):
            raise KindcastError(f"--turns: {path}: turns[{i}]: needs speaker, start and end (seconds)") from None
        if end <= start or start < 0:
            raise KindcastError(f"--turns: {path}: turns[{i}]: end must be after start, both >= 0")
        out.append((speaker, start, end))
    return tuple(out)
