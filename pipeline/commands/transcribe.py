"""``kindcast transcribe IN [--out DIR] [--model NAME_OR_DIR] [--language L]``: one file to word-timed transcripts.

Writes ``<IN name>.json`` (Podcasting 2.0), ``.vtt``, ``.srt`` and ``.txt`` into DIR (default: the current folder),
like the stage does for an episode. Imports nothing heavy until the command runs, so start-up stays short.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click


def register(cli: click.Group) -> None:
    @cli.command("transcribe")
    @click.argument("audio", metavar="IN", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="Folder for the transcripts (default: the current folder).")
    @click.option("--model", default=None, metavar="NAME_OR_DIR",
                  help="tiny.en (the bundled model, default) or a local CTranslate2 Whisper model folder.")
    @click.option("--language", default=None, metavar="L",
                  help="Language code, e.g. en (default: en for English-only models, else detected).")
    @click.option("--speakers", default=None, metavar="NAMES",
                  help="Names of the voices, comma-separated, host first (e.g. \"Host,Guest\"): each word is "
                       "labelled with who said it; which voice is whom is read from what they say (\"I'm Ana\", "
                       "\"Ben, what do you think?\"), else in order of first appearance. They are also hotwords. A "
                       "stereo file with one voice per channel takes LEFT,RIGHT.")
    @click.option("--glossary", default=None, metavar="TERMS",
                  help="Names and terms the speech contains, comma-separated (passed to the model as hotwords).")
    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None, hidden=True)
    def transcribe(audio: Path, out_dir: Path | None, model: str | None, language: str | None,
                   speakers: str | None, glossary: str | None, root: Path | None) -> None:
        """Transcribe one audio file with word times: JSON (Podcasting 2.0), VTT, SRT and plain text."""
        from pipeline.speech import whisper as core
        from pipeline.errors import KindcastError
        from pipeline.show import name_key
        from pipeline.speech.transcript import write_all

        if not audio.is_file():
            raise KindcastError(f"{audio}: no such file")
        model_dir = core.resolve_model(model, Path.cwd(), what="--model")
        channels = {}
        names = [n.strip() for n in (speakers or "").split(",")] if speakers is not None else []
        if speakers is not None and not all(names):
            raise KindcastError(f"--speakers: {speakers!r}: a name is empty; give names separated by commas, e.g. "
                                f"\"Ana,Ben\"")
        if len({name_key(n) for n in names}) != len(names):
            raise KindcastError(f"--speakers: {speakers!r}: a name is given twice; give each voice a name of its own")
        if len(names) == 2 and core.one_voice_per_channel(audio):
            channels = {"left": names[0], "right": names[1]}
        show = sys.stderr.isatty()

        def progress(fraction: float) -> None:
            if show:
                click.echo(f"\rtranscribing {audio.name}: {fraction:4.0%}", err=True, nl=False)

        transcript = core.transcribe_audio(audio, model_dir=model_dir, language=language.lower() if language else None,
                                           channels=channels, speakers=names, progress=progress,
                                           hotwords=core.glossary_hotwords((glossary or "").split(",") + names))
        if show:
            click.echo("", err=True)
        stem = audio.stem
        names = {kind: f"{stem}.{kind}" for kind in ("json", "vtt", "srt", "txt")}
        target = out_dir or Path.cwd()
        write_all(transcript.words, target, names)
        from pipeline.stages.transcribe import unsure_names

        for group in transcript.unsure:
            click.echo(f"warning: {unsure_names(*group, where='--speakers')}", err=True)
        voices = f", speakers {', '.join(transcript.speakers)}" if transcript.speakers else ""
        click.echo(f"{len(transcript.words)} words ({transcript.language}, {transcript.model}, "
                   f"{transcript.duration:.1f} s of audio{voices}) -> " + ", ".join(str(target / n) for n in names.values()))
