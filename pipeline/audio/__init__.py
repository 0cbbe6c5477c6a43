"""Mastering: the raw recording becomes the published audio (measure, plan, render, tag; ``master`` runs them).

The audio never passes through Python. Three ffmpeg runs, each streaming, so memory does not grow with length:

1. **measure** (:mod:`.measure`) the raw recording once: ``silencedetect`` finds where sound starts and ends,
   ``ebur128`` logs the momentary loudness of every 400 ms block (every 100 ms). From those blocks the integrated
   loudness (ITU BS.1770 gating) of exactly the stretches that will be published is computed, so trimming and cuts
   are accounted for. A long recording is measured as two halves at once on two cores.
2. **plan** (:mod:`.plan`): where sound starts and ends, and the kept stretches (the sound minus the cuts);
   the speech leveler's gain for every moment (:mod:`.leveler`), from the same loudness blocks.
3. **render** (:mod:`.render`): clean up the speech (``highpass``, ``afftdn`` set to the measured noise floor, the
   leveler's gain envelope read as a second input and multiplied in, a downward expander for the pauses), select
   the kept stretches (``atrim`` + ``concat``, with 10 ms fades at the joins), resample, apply one static gain, a
   look-ahead limiter (``alimiter``) a little below the true-peak ceiling, and encode; the encoded stream is
   measured again (``ebur128`` with true peak, every block logged for the report) while it is written, because MP3
   encoding adds overshoot. When the loudness is off target or the true peak over the ceiling, the render runs again
   with a corrected gain or a lower limiter ceiling (rarely needed: the first gain comes from a model of the
   denoiser, the leveler and the limiter over the measured blocks and their true peaks).
4. **tags** (:mod:`.tags`): mutagen writes ID3 (with CHAP/CTOC chapters) or MP4 tags; chapters move onto the
   published timeline.
5. **report** (:mod:`.report`): loudness before and after (integrated, range, true peak, noise floor, per speaker
   when turns are known) from the measure and verify logs, as JSON, a PNG and a page for the producer.

:mod:`.master` holds the job, its result and :func:`~pipeline.audio.master.master`, which runs the steps in order.
Nothing here imports a stage or the CLI.

Why not ``loudnorm``: measured here, its measuring pass runs at 52x real time against 244x for ``ebur128``, its
dynamic applying pass at 35x, and a naive two-pass loudnorm with trimming landed at -16.5 LUFS. A static gain is what
loudnorm's linear mode does anyway; the limiter plus the check on the encoded file make the true peak safe.
"""
