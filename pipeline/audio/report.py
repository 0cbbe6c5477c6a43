"""The loudness report of one mastered recording: figures before and after, and a picture of loudness over time.

Built from what the measure and verify passes already logged (no extra pass over the audio):

- **before**: the raw recording's kept stretches: integrated loudness, loudness range (EBU Tech 3342, from the
  short-term loudness), true peak (of the whole raw file), noise floor (a low percentile of the momentary loudness:
  the level of the pauses);
- **after**: the same figures of the encoded, published audio;
- **speakers**, when it is known who speaks when: each one's integrated loudness before and after;
- **curve**: momentary loudness over published time, before (the raw blocks moved onto the published timeline) and
  after, for the picture.

:func:`write_report` writes ``loudness.json``, ``loudness.png`` (drawn with Pillow) and an ``index.html`` that shows
both; the master stage puts them in ``.kindcast/reports/<slug>/``, outside the published tree and linked from nothing
that is published. :func:`summary_lines` words the same figures for ``kindcast master``.
"""
from __future__ import annotations

import html
import json
import math
from array import array
from pathlib import Path
from typing import Sequence

from pipeline.audio.leveler import noise_floor as floor_of
from pipeline.audio.measure import Measurement, loudness_of, loudness_range
from pipeline.timeline import Timeline

REPORT_VERSION = 1
MAX_CURVE_POINTS = 4000


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def _published_pieces(timeline: Timeline, start: float, end: float) -> list[tuple[float, float]]:
    """The published stretches that a raw stretch [start, end) became."""
    out = []
    for seg in timeline.segments:
        s, e = max(start, seg.raw_start), min(end, seg.raw_end)
        if e > s:
            out.append((seg.published_start + s - seg.raw_start, seg.published_start + e - seg.raw_start))
    return out


def _curve(ends: Sequence[float], values: Sequence[float], duration: float) -> tuple[float, list[float | None]]:
    """Momentary loudness resampled to at most MAX_CURVE_POINTS points (the energy mean of each step)."""
    step = max(0.1, round(duration / MAX_CURVE_POINTS, 1))
    n = max(1, int(duration / step) + 1)
    sums = [0.0] * n
    counts = [0] * n
    for end, value in zip(ends, values):
        i = int((end - 0.2) / step)
        if 0 <= i < n and value > -70:
            sums[i] += 10 ** (value / 10)
        if 0 <= i < n:
            counts[i] += 1
    out: list[float | None] = []
    for total, count in zip(sums, counts):
        out.append(None if count == 0 else (round(10 * math.log10(total / count), 1) if total > 0 else -70.0))
    return step, out


def loudness_report(before: Measurement, after, *, segments: Sequence[tuple[float, float]], timeline: Timeline,
                    target: float, true_peak_limit: float, before_lufs: float | None, noise_floor: float,
                    turns: Sequence[tuple[str, float, float]] = (), cleanup: dict | None = None,
                    duration: float = 0.0) -> dict:
    """The report as a JSON-able dict. ``after`` is render's ``Verified`` (published-time blocks of the encoded
    audio); ``before`` the raw measurement; ``turns`` (name, raw start, raw end) give the speakers."""
    raw_ends, raw_m, raw_s = before.block_end, before.block_lufs, before.block_short or array("d")
    moved_ends, moved_m, moved_s = [], [], []
    for i, end in enumerate(raw_ends):
        start = end - 0.4
        seg = next((s for s in timeline.segments if s.raw_start - 0.05 <= start and end <= s.raw_end + 0.05), None)
        if seg is None:
            continue
        moved_ends.append(seg.published_start + end - seg.raw_start)
        moved_m.append(raw_m[i])
        if i < len(raw_s):
            moved_s.append(raw_s[i])
    after_m = list(after.block_lufs)
    published = duration or (after.block_end[-1] if len(after.block_end) else timeline.duration)

    speakers = []
    names = list(dict.fromkeys(name for name, _, _ in turns))
    after_meas = Measurement(published, array("d", after.block_end), array("d", after_m), [], None)
    for name in names:
        raw = sorted((s, e) for n, s, e in turns if n == name)
        kept = [(max(s, a), min(e, b)) for s, e in raw for a, b in segments if min(e, b) > max(s, a)]
        pub = sorted(p for s, e in raw for p in _published_pieces(timeline, s, e))
        b = loudness_of(before, _merge(kept)) if kept else None
        a = loudness_of(after_meas, _merge(pub)) if pub else None
        speakers.append({"name": name, "before_lufs": _round(b), "after_lufs": _round(a)})

    step, curve_b = _curve(moved_ends, moved_m, published)
    _, curve_a = _curve(after.block_end, after_m, published)
    return {
        "version": REPORT_VERSION,
        "target_lufs": target,
        "true_peak_limit_dbtp": true_peak_limit,
        "cleanup": cleanup or {},
        "before": {
            "integrated_lufs": _round(before_lufs),
            "loudness_range_lu": _round(loudness_range(moved_s)),
            "true_peak_dbtp": _round(before.true_peak if before.true_peak is not None else before.sample_peak),
            "noise_floor_lufs": _round(noise_floor),
        },
        "after": {
            "integrated_lufs": _round(after.lufs),
            "loudness_range_lu": _round(after.lra if after.lra is not None else loudness_range(after.block_short)),
            "true_peak_dbtp": _round(after.true_peak),
            "noise_floor_lufs": _round(floor_of(after_m)) if after_m else None,
        },
        "speakers": speakers,
        "curve": {"step": step, "before": curve_b, "after": curve_a},
    }


def _merge(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _fmt(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


def summary_lines(report: dict) -> list[str]:
    """The report's figures as lines of text (``kindcast master`` prints them)."""
    b, a = report["before"], report["after"]
    rows = [("integrated loudness", "integrated_lufs", "LUFS"), ("loudness range", "loudness_range_lu", "LU"),
            ("true peak", "true_peak_dbtp", "dBTP"), ("noise floor", "noise_floor_lufs", "LUFS")]
    lines = [f"{'':22}{'before':>12}{'after':>12}"]
    for title, key, unit in rows:
        lines.append(f"{title:22}{_fmt(b[key], unit):>12}{_fmt(a[key], unit):>12}")
    for sp in report.get("speakers", []):
        lines.append(f"{('speaker ' + sp['name'])[:22]:22}{_fmt(sp['before_lufs'], 'LUFS'):>12}"
                     f"{_fmt(sp['after_lufs'], 'LUFS'):>12}")
    return lines


# --- the picture ---------------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 1200, 420
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 64, 16, 34, 40
TOP_LUFS, BOTTOM_LUFS = 0.0, -70.0
BEFORE_COLOUR = (222, 140, 60)
AFTER_COLOUR = (40, 100, 200)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def draw_png(report: dict, path: Path, title: str = "") -> None:
    """Momentary loudness over published time, before (orange) and after (blue), with the target and noise floors."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default()
    plot_w, plot_h = WIDTH - MARGIN_L - MARGIN_R, HEIGHT - MARGIN_T - MARGIN_B
    curve = report["curve"]
    step = curve["step"]
    n = max(len(curve["after"]), len(curve["before"]), 1)
    total = n * step

    def y_of(lufs: float) -> float:
        v = max(BOTTOM_LUFS, min(TOP_LUFS, lufs))
        return MARGIN_T + (TOP_LUFS - v) / (TOP_LUFS - BOTTOM_LUFS) * plot_h

    def x_of(t: float) -> float:
        return MARGIN_L + t / total * plot_w

    for lufs in range(int(TOP_LUFS), int(BOTTOM_LUFS) - 1, -10):
        y = y_of(lufs)
        d.line([(MARGIN_L, y), (WIDTH - MARGIN_R, y)], fill=(228, 228, 228))
        d.text((6, y - 6), f"{lufs} LUFS", fill=(90, 90, 90), font=font)
    ticks = max(1, int(total / 8))
    for nice in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600):
        if nice >= ticks:
            ticks = nice
            break
    t = 0.0
    while t <= total:
        x = x_of(t)
        d.line([(x, MARGIN_T), (x, HEIGHT - MARGIN_B)], fill=(240, 240, 240))
        d.text((x - 10, HEIGHT - MARGIN_B + 6), _clock(t), fill=(90, 90, 90), font=font)
        t += ticks
    for key, colour in (("before", BEFORE_COLOUR), ("after", AFTER_COLOUR)):
        points: list[tuple[float, float]] = []
        for i, v in enumerate(curve[key]):
            if v is None:
                if len(points) > 1:
                    d.line(points, fill=colour, width=1)
                points = []
                continue
            points.append((x_of((i + 0.5) * step), y_of(v)))
        if len(points) > 1:
            d.line(points, fill=colour, width=1)
    target = report["target_lufs"]
    for x in range(MARGIN_L, WIDTH - MARGIN_R, 12):
        d.line([(x, y_of(target)), (x + 6, y_of(target))], fill=(0, 140, 0), width=2)
    d.rectangle([MARGIN_L, MARGIN_T, WIDTH - MARGIN_R, HEIGHT - MARGIN_B], outline=(150, 150, 150))
    head = (title + "  " if title else "") + "momentary loudness:"
    d.text((MARGIN_L, 10), head, fill=(0, 0, 0), font=font)
    x0 = MARGIN_L + d.textlength(head, font=font) + 10
    for label, colour in (("before", BEFORE_COLOUR), ("after", AFTER_COLOUR), (f"target {target:g} LUFS", (0, 140, 0))):
        d.rectangle([x0, 12, x0 + 14, 20], fill=colour)
        d.text((x0 + 18, 10), label, fill=(0, 0, 0), font=font)
        x0 += 30 + d.textlength(label, font=font)
    from pipeline.fsutil import atomic_path

    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=True)


def page_html(report: dict, title: str) -> str:
    rows = "".join(f"<tr><td>{html.escape(line[:22].strip())}</td><td>{html.escape(line[22:34].strip())}</td>"
                   f"<td>{html.escape(line[34:].strip())}</td></tr>" for line in summary_lines(report)[1:])
    parts = ", ".join(f"{html.escape(k)}: {html.escape(str(v))}" for k, v in report.get("cleanup", {}).items())
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">"
            f"<title>Loudness report: {html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em;max-width:1250px}td,th{padding:.2em 1em;text-align:right}"
            "td:first-child{text-align:left}img{max-width:100%;border:1px solid #ccc}</style></head><body>"
            f"<h1>Loudness report: {html.escape(title)}</h1>"
            "<p>Build report for the producer; not part of the published site.</p>"
            f"<table><tr><th></th><th>before</th><th>after</th></tr>{rows}</table>"
            f"<p>Target {report['target_lufs']:g} LUFS, true peak at most {report['true_peak_limit_dbtp']:g} dBTP. "
            f"Clean-up: {parts or 'none'}.</p>"
            "<p><img src=\"loudness.png\" alt=\"Momentary loudness over time, before and after mastering\"></p>"
            "<p>Figures: <a href=\"loudness.json\">loudness.json</a></p></body></html>\n")


def write_report(report: dict, folder: Path, title: str) -> list[Path]:
    """Write ``loudness.json``, ``loudness.png`` and ``index.html`` into ``folder``; returns their paths."""
    from pipeline.fsutil import write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "loudness.json", folder / "loudness.png", folder / "index.html"]
    write_text(paths[0], json.dumps(report, indent=1) + "\n")
    draw_png(report, paths[1], title)
    write_text(paths[2], page_html(report, title))
    return paths
