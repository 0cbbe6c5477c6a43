"""Benchmark the condition suggester: accuracy on passages against two TF-IDF baselines, calibration on
episode-length transcripts, and the time to read a one-hour transcript.

    python scripts/bench_conditions.py                    # development sets: accuracy, calibration check, timing
    python scripts/bench_conditions.py --details          # ... and every development passage it ranks wrong
    python scripts/bench_conditions.py --calibrate        # fit the two calibration curves on development material
    python scripts/bench_conditions.py --write-vectors    # refresh pipeline/data/conditions.vectors.npz
    python scripts/bench_conditions.py --score heldout5.yaml   # score ONE evaluation-only set (once, at the end)

Which set serves what is written in tests/data/conditions/README: the development sets (tune, heldout, heldout2,
heldout4 and the episodes made from them) are the only ones this script reads unless ``--score`` names an
evaluation-only set. Baselines: TF-IDF cosine against the paper's ten condition sections (read from
../shared/seeds/cultivating-radical-kindness.txt when present), and TF-IDF cosine against the very prototypes and
keywords the suggester uses (what the embedding model adds over matching their words).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.conditions.suggest import (CALIBRATION, Framing, Suggester, read_document,  # noqa: E402
                                         sentences_from_transcript, split_sentences)
from pipeline.conditions.taxonomy import load_taxonomy  # noqa: E402

DATA = REPO / "tests" / "data" / "conditions"
PAPER = REPO.parent / "shared" / "seeds" / "cultivating-radical-kindness.txt"
DEVELOPMENT = ["tune.yaml", "heldout.yaml", "heldout2.yaml", "heldout4.yaml"]
EVALUATION_ONLY = ["heldout3.yaml", "heldout5.yaml"]  # scored once each with --score, after the last change
SHOW, HOST, GUEST = "Radical Kindness", "Sam Okafor", "Priya Shah"

STOP = set("""a an the and or but of to in on at for with by from as is are was were be been being it its this that
these those there here we you they he she i me my our your their them his her us not no so if then than too very can
could would should will just do does did have has had what which who whom how when where why all any each some such
about into over also more most other only own same out up down off again once""".split())


def load_passages(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["passages"]


# ------------------------------------------------------------------------------------------------------- baselines

def paper_sections() -> dict[int, str]:
    text = PAPER.read_text(encoding="utf-8")
    body = text.split("In order to build kinder, more cohesive places", 1)[-1].split("\nConclusion", 1)[0]
    parts = re.split(r"^(\d{1,2})\. ", body, flags=re.M)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def prototype_documents(taxonomy) -> dict[int, str]:
    """Each condition as one document: the suggester's own prototypes and keywords."""
    return {c.id: " ".join([*c.prototypes, *c.keywords]) for c in taxonomy.conditions}


def _tokens(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP and len(w) > 2]


class TfidfBaseline:
    def __init__(self, documents: dict[int, str]):
        self.ids = sorted(documents)
        docs = [Counter(_tokens(documents[i])) for i in self.ids]
        df = Counter(w for d in docs for w in d)
        n = len(docs)
        self.idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
        self.vecs = [self._vec(d) for d in docs]

    def _vec(self, counts: Counter) -> dict[str, float]:
        v = {w: c * self.idf.get(w, 0.0) for w, c in counts.items()}
        norm = math.sqrt(sum(x * x for x in v.values())) or 1.0
        return {w: x / norm for w, x in v.items()}

    def rank(self, text: str) -> list[int]:
        q = self._vec(Counter(_tokens(text)))
        scores = [sum(q.get(w, 0) * x for w, x in sv.items()) for sv in self.vecs]
        return [self.ids[i] for i in sorted(range(len(scores)), key=lambda i: (-scores[i], self.ids[i]))]


def evaluate(rank_fn, passages: list[dict], details: bool = False, label: str = "") -> tuple[int, int]:
    top1 = top3 = 0
    for p in passages:
        ranked = rank_fn(p["text"])
        ok1 = ranked[0] in p["accept"]
        ok3 = any(r in p["accept"] for r in ranked[:3])
        top1 += ok1
        top3 += ok3
        if details and not ok1:
            print(f"  {label} {p['id']} accept={p['accept']} got={ranked[:3]} {'(top3 ok)' if ok3 else 'MISS'}")
    return top1, top3


# ----------------------------------------------------------------------------------------- episode-length material

def make_episodes(passages: list[dict], count: int, seed: int = 7) -> list[dict]:
    """Development episodes: a host's intro, questions and outro around a guest's answers, most of them small talk
    (tests/data/conditions/episode_talk.yaml) and a few of them development passages of one to three conditions.
    10, 30 or 60 minutes of word-timed Podcasting 2.0 transcript (0.4 s a word), with the accepted conditions of the
    passages it holds as its labels."""
    talk = yaml.safe_load((DATA / "episode_talk.yaml").read_text(encoding="utf-8"))
    rng = random.Random(seed)
    ids = sorted({p["accept"][0] for p in passages})
    by_condition = {c: [p for p in passages if p["accept"][0] == c] for c in ids}
    out = []
    for _ in range(count):
        conds = rng.sample(ids, rng.choice([1, 2, 2, 3]))
        chosen = []
        for c in conds:
            chosen += rng.sample(by_condition[c], min(len(by_condition[c]), rng.choice([1, 2, 3])))
        target_words = rng.choice([1500, 4500, 9000])

        def fmt(s: str) -> str:
            return s.format(show=SHOW, host=HOST, guest=GUEST)

        turns = [(HOST, fmt(s)) for s in talk["intro"]]
        answers = max(len(chosen) + 2, target_words // 55)
        at = dict(zip(sorted(rng.sample(range(1, answers), len(chosen))), chosen))
        for a in range(answers):
            turns.append((HOST, rng.choice(talk["questions"])))
            if a in at:
                turns.append((GUEST, at[a]["text"]))
            else:
                turns.append((GUEST, " ".join(rng.sample(talk["small_talk"], rng.randint(2, 5)))))
        turns += [(HOST, fmt(s)) for s in talk["outro"]]
        segments, t = [], 0.0
        for who, text in turns:
            for word in text.split():
                segments.append({"startTime": round(t, 2), "endTime": round(t + 0.3, 2), "body": word,
                                 "speaker": who})
                t += 0.4
            t += 0.6
        out.append({"version": "1.0.0", "segments": segments,
                    "labels": sorted({a for p in chosen for a in p["accept"]})})
    return out


def fit_logistic(x: list[float], y: list[bool], steps: int = 20000) -> tuple[float, float]:
    """(slope, centre) of P(accepted | raw) = 1 / (1 + exp(-slope * (raw - centre))), by gradient descent."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    mu, sd = x.mean(), x.std() or 1.0
    z = (x - mu) / sd
    a = b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(a * z + b)))
        a -= 0.5 * float(((p - y) * z).mean())
        b -= 0.5 * float((p - y).mean())
    return a / sd, mu - b * sd / a


def memoise(sug: Suggester) -> None:
    """Embed each distinct text once per run (the episodes share their small talk)."""
    import numpy as np

    encode, memo = sug.encoder.encode, {}

    def cached(texts, batch_size: int = 32):
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            memo.update(zip(missing, encode(missing)))
        return np.array([memo[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)

    sug.encoder.encode = cached


def calibration_pairs(sug: Suggester, passages: list[dict], episodes: list[dict]):
    short = [(s.raw, s.score, s.condition.id in p["accept"]) for p in passages
             for s in sug.rank(split_sentences(p["text"]))]
    framing = Framing((SHOW,), (HOST,))
    long, first = [], 0
    for e in episodes:
        ranked = sug.rank(sentences_from_transcript(e, Path("episode.json")), framing=framing)
        first += ranked[0].condition.id in e["labels"]
        long += [(s.raw, s.score, s.condition.id in e["labels"]) for s in ranked]
    return short, long, first


def report_calibration(name: str, pairs, threshold: float = 0.5) -> None:
    shown = [(score, ok) for _, score, ok in pairs if score >= threshold]
    right = sum(ok for _, ok in shown)
    positives = sum(ok for _, _, ok in pairs)
    print(f"  {name}: {len(pairs)} (document, condition) pairs, {positives} accepted; score >= {threshold}: "
          f"{len(shown)} shown, {right} accepted ({right / max(len(shown), 1):.0%}), recall "
          f"{right / max(positives, 1):.0%}; mean score {statistics.mean(s for _, s, _ in pairs):.3f} vs accepted "
          f"share {positives / max(len(pairs), 1):.3f}")


# ------------------------------------------------------------------------------------------------------------ speed

def synthetic_transcript(path: Path, words_target: int = 9000) -> Path:
    """A one-hour, word-level Podcasting 2.0 transcript (9,000 words at 0.4 s) whose sentences are all different, as
    a real episode's are (the suggester reads a repeated sentence once): the development passages and small talk,
    host and guest in turn, repeats told apart by a numbered opening."""
    talk = yaml.safe_load((DATA / "episode_talk.yaml").read_text(encoding="utf-8"))
    texts = [p["text"] for name in DEVELOPMENT for p in load_passages(name)] + talk["small_talk"]
    segments, t, i = [], 0.0, 0
    while len(segments) < words_target:
        text = texts[i % len(texts)]
        if i >= len(texts):
            text = f"In round {i // len(texts) + 1}, {text[0].lower()}{text[1:]}"
        for word in text.split():
            segments.append({"startTime": round(t, 2), "endTime": round(t + 0.32, 2), "body": word,
                             "speaker": HOST if i % 2 else GUEST})
            t += 0.4
        t += 0.6
        i += 1
    path.write_text(json.dumps({"version": "1.0.0", "segments": segments}))
    return path


def time_cli(path: Path, runs: int = 3) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU seconds (user + system) of the real command, process start included."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipeline", "conditions", "suggest", str(path)], check=True,
                       capture_output=True, cwd=REPO)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


# ------------------------------------------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--details", action="store_true")
    ap.add_argument("--write-vectors", action="store_true")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--no-timing", action="store_true")
    ap.add_argument("--score", metavar="SET", help="score this one evaluation-only set (and nothing else)")
    args = ap.parse_args()
    taxonomy = load_taxonomy()
    t0 = time.perf_counter()
    sug = Suggester(taxonomy)
    print(f"model + prototypes loaded in {time.perf_counter() - t0:.2f} s")
    if args.write_vectors:
        print("wrote", sug.save_packaged_vectors())

    def ours(text: str) -> list[int]:
        return [s.condition.id for s in sug.rank(split_sentences(text))]

    if args.score:
        if args.score not in EVALUATION_ONLY:
            ap.error(f"--score takes an evaluation-only set: {', '.join(EVALUATION_ONLY)}")
        sets = [(args.score.removesuffix(".yaml"), load_passages(args.score))]
    else:
        sets = [(name.removesuffix(".yaml"), load_passages(name)) for name in DEVELOPMENT]
    rows = [("kindcast", ours),
            ("tf-idf vs prototypes+keywords", TfidfBaseline(prototype_documents(taxonomy)).rank)]
    if PAPER.exists():
        rows.append(("tf-idf vs paper sections", TfidfBaseline(paper_sections()).rank))
    else:
        print(f"(paper baseline skipped: {PAPER} not found)")
    print(f"{'method':<32}" + "".join(f"{name + ' top1':>19} {'top3':>6}" for name, _ in sets))
    for name, fn in rows:
        cells = []
        for set_name, ps in sets:
            a1, a3 = evaluate(fn, ps, args.details or bool(args.score), f"[{name} {set_name}]")
            cells.append(f"{a1:>15}/{len(ps):<3} {a3:>3}/{len(ps):<2}")
        print(f"{name:<32}" + "".join(cells))
    for set_name, ps in sets:
        report_calibration(f"{set_name} (short texts)",
                           [(s.raw, s.score, s.condition.id in p["accept"]) for p in ps
                            for s in sug.rank(split_sentences(p["text"]))])
    if args.score:
        return 0

    passages = [p for _, ps in sets for p in ps]
    memoise(sug)
    episodes = make_episodes(passages, 60)
    short, long, first = calibration_pairs(sug, passages, episodes)
    print(f"development episodes: {len(episodes)} ({sum(len(e['segments']) for e in episodes)} words); "
          f"an accepted condition first in {first}")
    report_calibration("development passages", short)
    report_calibration("development episodes", long)
    if args.calibrate:
        for name, pairs in (("short", short), ("long", long)):
            slope, centre = fit_logistic([r for r, _, _ in pairs], [ok for _, _, ok in pairs])
            print(f"calibration {name}: slope {slope:.1f}, centre {centre:.3f} (in use: {CALIBRATION[name]})")

    if not args.no_timing:
        with tempfile.TemporaryDirectory() as tmp:
            big = synthetic_transcript(Path(tmp) / "big.json")
            n_words = len(json.loads(big.read_text())["segments"])
            fresh = Suggester(taxonomy)
            sents = read_document(big)
            t0 = time.perf_counter()
            ranking = fresh.rank_document(sents, framing=Framing((SHOW,), (HOST,)))
            inproc = time.perf_counter() - t0
            walls, cpus = time_cli(big)
            with open("/proc/loadavg") as fh:
                load = fh.read().split()[0]
            tokens = sum(fresh.encoder.token_counts([s.text for s in sents]))
            print(f"one-hour transcript: {n_words} words, {len(sents)} sentences, {tokens} word pieces; read "
                  f"{ranking.read} of {ranking.total} sentences worth reading ({ranking.framing} set aside as "
                  f"framing); in process (model loaded) {inproc:.2f} s")
            print(f"`kindcast conditions suggest big.json`: wall median {statistics.median(walls):.2f} s "
                  f"(runs: {', '.join(f'{t:.2f}' for t in walls)}), CPU median {statistics.median(cpus):.2f} s; "
                  f"load average {load} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
