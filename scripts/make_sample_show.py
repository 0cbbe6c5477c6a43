#!/usr/bin/env python3
"""Regenerate the sample show in ``episodes/``: Radical Kindness, three short interview episodes.

Run from the repository root (or anywhere):

    python scripts/make_sample_show.py            # writes episodes/show.yaml, artwork.png and three episode folders
    python scripts/make_sample_show.py --check    # also prints the loudness and duration of each recording

What it makes, deterministically (same tools -> same bytes):

- ``episodes/show.yaml``: the show's metadata (see ``pipeline/show.py: ShowMeta``).
- ``episodes/artwork.png``: 3000x3000 RGB show artwork drawn with Pillow (two overlapping circles and a bridge arc,
  the title in large type; DejaVu Sans when installed, else Pillow's built-in font).
- three episode folders, each with ``episode.md`` (front matter + producer's notes) and the raw recording. The speech
  is espeak-ng reading the scripts below (host: a British male voice; guest: a female voice), mixed with short gaps
  between lines, 2-4 s of near-silence (very low noise) at each end, and a different loudness per episode:

    episode 1  coffee-on-larch-row       FLAC mono 22.05 kHz          ~ -30 LUFS   one false start, listed as a cut
    episode 2  two-schools-one-mural     MP3 mono 44.1 kHz 64 kbps    ~ -20 LUFS
    episode 3  listening-at-the-depot    M4A (AAC) stereo 48 kbps     ~ -14 LUFS   host on the left, guest on the right

  Chapter, soundbite and cut times in each ``episode.md`` are measured from the timeline this script builds, so they
  always match the audio, in raw-recording seconds.

Needs espeak-ng (Debian: ``apt-get install espeak-ng``), numpy and Pillow; ffmpeg comes from
``pipeline.media.ffmpeg_path()``. The generated files are committed, so a fresh clone never needs espeak-ng.
The people, places and stories are invented; the ten conditions are Belong's (``pipeline/data/conditions.yaml``).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import wave
from datetime import date
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.media import ffmpeg_path  # noqa: E402

RATE = 22050  # espeak-ng's native rate; all mixing happens here
HOST = "Sam Whitfield"
HOST_VOICE = ("en-gb", 162)  # (espeak-ng voice, words per minute)
BASE_URL = "https://radical-kindness.example.org/podcast/"
SITE = "https://radical-kindness.example.org/"

SHOW = {
    "title": "Radical Kindness",
    "description": (
        "Stories of people building bridges across difference: neighbours, teachers, artists and colleagues who bring "
        "together people who would not usually meet. Each short episode looks at one of the conditions that help "
        "radical kindness thrive in our lives, workplaces and communities. A sample show for kindcast, inspired by "
        "Belong's Radical Kindness project: the people and places are invented and the voices are synthetic."
    ),
    "author": "Belong - The Cohesion and Integration Network",
    "owner": {"name": "Radical Kindness podcast team", "email": "podcast@radical-kindness.example.org"},
    "language": "en-gb",
    "category": "Society & Culture",
    "artwork": "artwork.png",
    "explicit": False,
    "base_url": BASE_URL,
    "link": SITE,
    "copyright": "2026 Radical Kindness sample show (kindcast). Synthetic voices, invented stories.",
    "type": "episodic",
    "funding": [{"url": SITE + "support", "text": "Support Radical Kindness"}],
    "hosts": [{"name": HOST, "role": "host"}],
    "keywords": ["kindness", "community", "cohesion", "belonging", "social mixing"],
}


@dataclass
class Line:
    who: str  # "host" or "guest"
    text: str
    chapter: str | None = None  # a chapter starts with this line
    soundbite: str | None = None  # a soundbite starts with this line (runs on over whole lines, 20-40 s)
    false_start: bool = False  # this line is a false start: cut from its start to the next line's start


@dataclass
class EpisodeSpec:
    slug: str
    number: int
    title: str
    date: str
    guid: str
    guest: str
    guest_voice: tuple[str, int]
    conditions: list[str]
    summary: str
    notes: str
    fmt: str  # flac | mp3 | m4a
    lufs: float
    lead: float  # seconds of near-silence before the first line
    tail: float  # ... and after the last
    seed: int
    lines: list[Line] = field(default_factory=list)
    stereo: bool = False


H, G = "host", "guest"

EPISODES = [
    EpisodeSpec(
        slug="coffee-on-larch-row",
        number=1,
        title="Coffee, cake and three generations",
        date="2026-09-14",
        guid="46600e42-ede1-4904-953b-84f430aa906b",
        guest="Bernadette Quinn",
        guest_voice=("en-us+f3", 155),
        conditions=["social-mixing", "connected-local-infrastructure"],
        summary=(
            "Bernadette Quinn put a note in the lift of her tower block and started a weekly coffee morning that "
            "now brings students, young families and older neighbours round one table."
        ),
        notes="""\
A note in a lift, a kettle and a borrowed community room: Bernadette's coffee morning on Larch Row shows how little it
takes to start social mixing between generations, and how much it helps when the organisations around you keep saying
yes. The housing association, the corner bakery, the library and the council's community team all play a part.

Want to start something similar? Our one-page guide to running a neighbour-led coffee morning is at
[radical-kindness.example.org/coffee](https://radical-kindness.example.org/coffee), and you can tell us about your
own on the [show's website](https://radical-kindness.example.org/).

*Producer's note: Bernadette, Larch Row and Eastbrook are invented for this sample show; the voices are synthetic.*
""",
        fmt="flac",
        lufs=-30.0,
        lead=2.5,
        tail=2.5,
        seed=101,
        lines=[
            Line(H, "Hello, and welcome to Radical Kindness, the podcast about people who build bridges across "
                    "difference. I'm Sam Whitfield, and today I'm with Bernadette Quinn, who started a coffee morning "
                    "in her tower block in Eastbrook.", chapter="Welcome"),
            Line(H, "So Bernadette, the first thing I wanted to ask is, um. Sorry, let me start that again.",
                 false_start=True),
            Line(H, "Bernadette, how did the coffee morning begin?", chapter="How it started"),
            Line(G, "It began because I was lonely. I had lived in this block for eleven years, and I knew three "
                    "names. Students, young families, older people like me: we shared a lift and never spoke. So I put "
                    "a note in the lift. Coffee and cake, Thursday at ten, everyone welcome."),
            Line(G, "Four people came, and two of them were nineteen. One of the students, Tariq, taught Mister "
                    "Duffy from the ninth floor to video call his granddaughter in Canada. Now Mister Duffy helps "
                    "Tariq with his cooking. When you sit across a table from someone, the stories you had in your "
                    "head about them just fall away.", soundbite="Tariq and Mister Duffy"),
            Line(H, "You didn't do all this on your own, though.", chapter="Everyone said yes"),
            Line(G, "Not at all. The housing association gave us the room for free, the corner bakery sends over "
                    "yesterday's cakes, the library brings a box of books, and the council's community team paid for "
                    "a ramp. Every time we asked, someone said yes. It's a whole local network, working together as "
                    "partners."),
            Line(H, "Any advice for listeners?", chapter="Start with a kettle"),
            Line(G, "Start small, and start with a kettle. And make sure the door is open to everyone, not just to "
                    "people who look like you."),
            Line(H, "Bernadette Quinn, thank you. Look after each other, and see you next time."),
        ],
    ),
    EpisodeSpec(
        slug="two-schools-one-mural",
        number=2,
        title="Two schools, one mural",
        date="2026-10-12",
        guid="0a9db5aa-8f56-4a09-bc27-693a39fb0cec",
        guest="Nadia Kowalski",
        guest_voice=("en+f4", 150),
        conditions=["arts-culture-sport", "active-engagement-agency"],
        summary=(
            "Teacher Nadia Kowalski on a year of linking two primary schools from opposite sides of town, and the "
            "mural the children designed, campaigned for and painted together."
        ),
        notes="""\
Fernhill and St Aidan's are two miles apart and a world away from each other. A year of letters, visits, a sports
afternoon and a shared mural turned strangers into friends, and the children ran the mural project themselves, right
up to presenting their plans to the town council.

School linking works best when it lasts a whole year and ends in something the children make together. Resources for
linking classes are collected at [radical-kindness.example.org/schools](https://radical-kindness.example.org/schools).

*Producer's note: the schools, the town of Millbeck and Nadia are invented for this sample show; the voices are
synthetic.*
""",
        fmt="mp3",
        lufs=-20.0,
        lead=3.0,
        tail=2.5,
        seed=202,
        lines=[
            Line(H, "Welcome to Radical Kindness. I'm Sam Whitfield. My guest is Nadia Kowalski, a teacher at "
                    "Fernhill Primary in Millbeck, which has spent the past year linked with Saint Aidan's, a school "
                    "on the other side of town.", chapter="Welcome"),
            Line(H, "How different are the two schools?", chapter="Two schools, one town"),
            Line(G, "They are two miles apart, but they might as well be on different planets. Most of our children "
                    "come from Polish, Pakistani and Somali families. Saint Aidan's is almost all white British "
                    "children from the villages. Every child in my class is paired with a child there. They write "
                    "letters, then visit each other's schools, then meet at the museum or in the park."),
            Line(H, "And this year they made something together.", chapter="The mural"),
            Line(G, "They did. The children asked to paint a mural in the underpass that joins the two halves of "
                    "town. We said: it's your project, you decide. They voted on the design, wrote to the council for "
                    "permission, and presented their plans to the councillors in the town hall. Ten year olds at the "
                    "microphone, asking for paint.", soundbite="Ten year olds asking for paint"),
            Line(H, "That's real civic participation."),
            Line(G, "It is. They found out that their voice counts, and that young people have the power to change "
                    "their own town. Three of them have since joined the youth council."),
            Line(H, "What did they paint?"),
            Line(G, "Hands. Hundreds of overlapping hands, one from every child in both schools, so you cannot tell "
                    "whose is whose. And a football match in the middle, because the sports afternoon was what they "
                    "all loved most."),
            Line(H, "What changed for the children?", chapter="What changed"),
            Line(G, "One boy told me: I thought they would be posh, they thought we would be rough, and actually we "
                    "are all rubbish at maths. Once they had shared a paintbrush and a football, they stopped being "
                    "strangers."),
            Line(H, "Nadia Kowalski, thank you. That's all from Radical Kindness this week."),
        ],
    ),
    EpisodeSpec(
        slug="listening-at-the-depot",
        number=3,
        title="Listening at the depot",
        date="2026-11-09",
        guid="a075c122-6128-4aff-9f10-2f13664f2eef",
        guest="Grace Adeyemi",
        guest_voice=("en-us+f2", 155),
        conditions=["tackle-misinformation", "inclusive-cultures"],
        summary=(
            "Depot manager Grace Adeyemi on stopping a canteen rumour with the facts and trusted messengers, and on "
            "the listening circles that changed how two hundred drivers and engineers treat each other."
        ),
        notes="""\
When a false story about new drivers and the best routes spread through a bus depot's group chat, a memo from head
office would not have stopped it. The union reps and long-serving drivers checked the rota themselves and told
everyone what they found, in three languages. Then came the fortnightly listening circles, with one rule: whoever holds
the ticket machine speaks, and everyone else listens.

This episode is recorded in stereo with the host on the left channel and the guest on the right. More about running a
listening circle at work: [radical-kindness.example.org/listening](https://radical-kindness.example.org/listening).

*Producer's note: Grace and the Portley depot are invented for this sample show; the voices are synthetic.*
""",
        fmt="m4a",
        lufs=-14.0,
        lead=3.5,
        tail=3.0,
        seed=303,
        stereo=True,
        lines=[
            Line(H, "This is Radical Kindness, and I'm Sam Whitfield. Today I'm talking to Grace Adeyemi, who manages "
                    "a bus depot in Portley with two hundred drivers and engineers. Welcome, Grace.",
                 chapter="Welcome"),
            Line(G, "Thanks, Sam. I'm glad to be here."),
            Line(H, "Last year your depot had a problem with a rumour. What happened?", chapter="A rumour on the rota"),
            Line(G, "We took on thirty new drivers, many of them from Romania and Nigeria. Soon a story was going "
                    "round the canteen that the new drivers got the best routes and the easy shifts. It wasn't true, "
                    "but misinformation spreads on a group chat faster than any memo."),
            Line(H, "So how did you tackle it?"),
            Line(G, "Not with a poster from head office. Accurate information works when it comes from messengers "
                    "people already trust. So we asked the union reps and two of our longest serving drivers to "
                    "check the real rota line by line. Then they told "
                    "everyone what they had found, face to face and in the group chat, in English, Romanian and "
                    "Yoruba. The rumour was gone within a fortnight.",
                 soundbite="Trusted messengers and the real rota"),
            Line(H, "And then you started listening circles.", chapter="Listening circles"),
            Line(G, "Every other Wednesday, anyone can join a circle in the training room. There is one rule: whoever "
                    "holds the old ticket machine speaks, and everyone else listens. No interrupting, no fixing. A "
                    "driver who had been with us twenty years said nobody had ever asked him how he was."),
            Line(H, "What has changed since then?"),
            Line(G, "People stay, and sickness is down. Drivers from very different backgrounds cover each other's "
                    "shifts. When people feel heard and valued, they look after each other. That is what an inclusive "
                    "culture looks like to me."),
            Line(H, "Grace Adeyemi, thank you. You've been listening to Radical Kindness. Until next time, take "
                    "care."),
        ],
    ),
]

SOUNDBITE_MIN, SOUNDBITE_MAX = 20.0, 40.0
NOISE_DBFS = -84.0  # RMS of the room tone under everything ("very low noise")


# --- speech --------------------------------------------------------------------------------------------------------

def speak(text: str, voice: str, wpm: int, tmp: Path) -> np.ndarray:
    """espeak-ng -> float32 mono at RATE, with its leading/trailing silence trimmed to 20 ms."""
    out = tmp / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(out), text], check=True)
    with wave.open(str(out), "rb") as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(pcm) > 0.003)
    keep = int(0.02 * RATE)
    return pcm[max(0, loud[0] - keep): loud[-1] + keep + 1]


@dataclass
class Placed:
    line: Line
    start: float  # seconds in the raw recording
    end: float


def build_mix(spec: EpisodeSpec, tmp: Path) -> tuple[np.ndarray, list[Placed]]:
    """Lay the lines out on a timeline. Returns (samples [n, channels] float32, placed lines)."""
    rng = np.random.default_rng(spec.seed)
    voices = {H: HOST_VOICE, G: spec.guest_voice}
    pieces: list[tuple[int, str, np.ndarray]] = []
    placed: list[Placed] = []
    pos = int(spec.lead * RATE)
    previous = None
    for line in spec.lines:
        if previous is not None:
            gap = 0.45 if previous.false_start else float(rng.uniform(0.3, 0.8))
            pos += int(round(gap * RATE))
        voice, wpm = voices[line.who]
        audio = speak(line.text, voice, wpm, tmp)
        pieces.append((pos, line.who, audio))
        placed.append(Placed(line, pos / RATE, (pos + len(audio)) / RATE))
        pos += len(audio)
        previous = line
    total = pos + int(spec.tail * RATE)
    channels = 2 if spec.stereo else 1
    mix = np.zeros((total, channels), dtype=np.float32)
    for start, who, audio in pieces:
        col = (0 if who == H else 1) if spec.stereo else 0
        mix[start:start + len(audio), col] += audio
    return mix, placed


def room_tone(shape: tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 7)
    return (rng.standard_normal(shape) * 10 ** (NOISE_DBFS / 20)).astype(np.float32)


def soft_limit(x: np.ndarray, threshold: float = 0.6, ceiling: float = 0.92) -> np.ndarray:
    """Leave everything under ``threshold`` alone; bend peaks smoothly towards ``ceiling`` (never reached)."""
    mag = np.abs(x)
    over = mag > threshold
    span = ceiling - threshold
    out = x.copy()
    out[over] = np.sign(x[over]) * (threshold + span * np.tanh((mag[over] - threshold) / span))
    return out


# --- ffmpeg ----------------------------------------------------------------------------------------------------------

def measure(data: np.ndarray | None = None, path: Path | None = None) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) by ffmpeg's ebur128, of raw float samples or of a file."""
    cmd = [ffmpeg_path(), "-hide_banner", "-nostats"]
    if path is None:
        cmd += ["-f", "f32le", "-ar", str(RATE), "-ac", str(data.shape[1]), "-i", "-"]
    else:
        cmd += ["-i", str(path)]
    cmd += ["-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"]
    proc = subprocess.run(cmd, input=None if data is None else data.astype("<f4").tobytes(),
                          capture_output=True, check=True)
    err = proc.stderr.decode("utf-8", "replace")
    summary = err[err.rfind("Summary:"):]
    lufs = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return lufs, peak


def level(mix: np.ndarray, target: float, seed: int) -> np.ndarray:
    """Scale the speech to ``target`` LUFS (soft-limiting peaks when that needs it), then add the room tone."""
    noise = room_tone(mix.shape, seed)
    gain = 1.0
    out = mix
    for _ in range(4):
        out = soft_limit(mix * gain) + noise
        lufs, _peak = measure(out)
        if abs(lufs - target) < 0.15:
            break
        gain *= 10 ** ((target - lufs) / 20)
    return out


ENCODE = {
    "flac": (".flac", ["-ar", "22050", "-ac", "1", "-c:a", "flac", "-sample_fmt", "s16", "-compression_level", "8"]),
    "mp3": (".mp3", ["-ar", "44100", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k"]),
    # no intensity stereo: it would leak each speaker into the other channel
    "m4a": (".m4a", ["-ar", "44100", "-ac", "2", "-c:a", "aac", "-b:a", "48k", "-aac_is", "0",
                     "-movflags", "+faststart"]),
}


def encode(data: np.ndarray, fmt: str, out: Path) -> None:
    ext, args = ENCODE[fmt]
    assert out.suffix == ext
    tmp = out.with_name(out.stem + ".part" + ext)
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(RATE),
           "-ac", str(data.shape[1]), "-i", "-", "-map_metadata", "-1", "-fflags", "+bitexact",
           "-flags:a", "+bitexact", *args, str(tmp)]
    subprocess.run(cmd, input=data.astype("<f4").tobytes(), check=True)
    tmp.replace(out)


# --- episode.md ------------------------------------------------------------------------------------------------------

def r2(x: float) -> float:
    return round(x + 1e-9, 2)


def front_matter(spec: EpisodeSpec, placed: list[Placed], recording: str) -> dict:
    chapters = [{"start": 0.0 if i == 0 else r2(p.start), "title": p.line.chapter}
                for i, p in enumerate(x for x in placed if x.line.chapter)]
    soundbites = []
    for i, p in enumerate(placed):
        if not p.line.soundbite:
            continue
        end = p.end
        for q in placed[i + 1:]:
            if q.end - p.start > SOUNDBITE_MAX:
                break
            end = q.end
            if end - p.start >= SOUNDBITE_MIN:
                break
        duration = end - p.start
        if not SOUNDBITE_MIN <= duration <= SOUNDBITE_MAX:
            raise SystemExit(f"{spec.slug}: soundbite '{p.line.soundbite}' is {duration:.1f} s (needs 20-40 s)")
        soundbites.append({"start": r2(p.start), "duration": r2(duration), "title": p.line.soundbite})
    cuts = []
    for i, p in enumerate(placed):
        if p.line.false_start:
            cuts.append({"start": r2(p.start), "end": r2(placed[i + 1].start)})
    guest = {"name": spec.guest, "role": "guest"}
    data = {
        "title": spec.title,
        "date": date.fromisoformat(spec.date),
        "guid": spec.guid,
        "number": spec.number,
        "season": 1,
        "episode_type": "full",
        "explicit": False,
        "summary": spec.summary,
        "audio": recording,
    }
    if spec.stereo:
        data["hosts"] = [{"name": HOST, "role": "host", "channel": "left"}]
        guest["channel"] = "right"
    data.update({
        "guests": [guest],
        "conditions": spec.conditions,
        "chapters": chapters,
        "soundbites": soundbites,
    })
    if cuts:
        data["cuts"] = cuts
    return data


def dump_yaml(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


def write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def make_episode(spec: EpisodeSpec, episodes: Path, tmp: Path) -> dict:
    mix, placed = build_mix(spec, tmp)
    audio = level(mix, spec.lufs, spec.seed)
    folder = episodes / spec.slug
    folder.mkdir(parents=True, exist_ok=True)
    recording = "recording" + ENCODE[spec.fmt][0]
    for old in folder.iterdir():  # one recording per folder
        if old.is_file() and old.name.startswith("recording") and old.name != recording:
            old.unlink()
    encode(audio, spec.fmt, folder / recording)
    meta = front_matter(spec, placed, recording)
    write_if_changed(folder / "episode.md", "---\n" + dump_yaml(meta) + "---\n\n" + spec.notes)
    return {"slug": spec.slug, "file": folder / recording, "duration": len(audio) / RATE, "meta": meta}


# --- artwork ---------------------------------------------------------------------------------------------------------

def _font(size: int, bold: bool = True):
    from PIL import ImageFont

    names = ["DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"]
    for base in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts"):
        for name in names:
            path = Path(base) / name
            if path.is_file():
                return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size=size)


def make_artwork(path: Path, size: int = 3000) -> None:
    """Warm terracotta ground, two overlapping circles (the overlap: common ground), a bridge arc, the title."""
    from PIL import Image, ImageDraw

    bg, left_c, right_c, both_c = (186, 84, 58), (242, 169, 59), (47, 122, 120), (250, 226, 170)
    cream, ink = (253, 243, 226), (70, 34, 24)
    ss = 2  # draw shapes at twice the size, then shrink: smooth edges
    S = size * ss

    def disc(cx, cy, r):
        m = Image.new("L", (S, S), 0)
        ImageDraw.Draw(m).ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)
        return m

    from PIL import ImageChops

    img = Image.new("RGB", (S, S), bg)
    r = 720
    a, b = disc(1150, 1060, r), disc(1850, 1060, r)
    img.paste(left_c, mask=a)
    img.paste(right_c, mask=b)
    img.paste(both_c, mask=ImageChops.multiply(a, b))
    # the bridge: a thick arc under the circles, with two piers
    d = ImageDraw.Draw(img)
    w = 60 * ss
    d.arc([500 * ss, 1530 * ss, 2500 * ss, 2330 * ss], start=180, end=360, fill=cream, width=w)
    d.rectangle([380 * ss, 1925 * ss, 2620 * ss, 1925 * ss + w], fill=cream)
    img = img.resize((size, size), Image.LANCZOS)

    d = ImageDraw.Draw(img)
    title_font = _font(300)
    for text, y in (("RADICAL", 2040), ("KINDNESS", 2360)):
        box = d.textbbox((0, 0), text, font=title_font)
        d.text(((size - (box[2] - box[0])) / 2 - box[0], y), text, font=title_font, fill=cream)
    sub = _font(92, bold=False)
    text = "stories of bridging difference"
    box = d.textbbox((0, 0), text, font=sub)
    d.text(((size - (box[2] - box[0])) / 2 - box[0], 2730), text, font=sub, fill=ink)
    # few colours -> small PNG; back to RGB because podcast apps want RGB artwork
    img = img.quantize(colors=48, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).convert("RGB")
    tmp = path.with_name(path.stem + ".part.png")
    img.save(tmp, "PNG", optimize=True)
    if path.exists() and path.read_bytes() == tmp.read_bytes():
        tmp.unlink()
    else:
        tmp.replace(path)


# --- main ------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root (default: this checkout)")
    parser.add_argument("--check", action="store_true", help="print each recording's loudness and duration")
    args = parser.parse_args(argv)
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng is needed to regenerate the sample show (apt-get install espeak-ng)")
    episodes = args.root / "episodes"
    episodes.mkdir(exist_ok=True)
    write_if_changed(episodes / "show.yaml", "# The sample show; regenerate with scripts/make_sample_show.py\n"
                     + dump_yaml(SHOW))
    make_artwork(episodes / SHOW["artwork"])
    with tempfile.TemporaryDirectory() as tmp:
        for spec in EPISODES:
            made = make_episode(spec, episodes, Path(tmp))
            line = f"{spec.slug}: {made['duration']:.1f} s, {made['file'].stat().st_size / 1024:.0f} KiB"
            if args.check:
                lufs, peak = measure(path=made["file"])
                line += f", {lufs:.1f} LUFS, peak {peak:.1f} dBFS"
            print(line)
            cuts = made["meta"].get("cuts")
            if cuts:
                print(f"  cuts: {cuts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
