"""The taxonomy, the suggester and ``kindcast conditions suggest``: real model, real files, the real command line."""
from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, kindcast
from pipeline.conditions.taxonomy import load_taxonomy
from pipeline.errors import KindcastError
from pipeline.conditions.suggest import Framing, Sentence, Suggester, read_document, split_sentences, suggest

DATA = REPO / "tests" / "data" / "conditions"


def passages(name: str) -> list[dict]:
    return yaml.safe_load((DATA / name).read_text())["passages"]


def word_transcript(path: Path, lines: list[tuple[str, str]], gap: float = 0.3, start: float = 0.0) -> Path:
    """A Podcasting 2.0 transcript, one word per segment: [(speaker, text)], 0.4 s a word."""
    segments, t = [], start
    for speaker, text in lines:
        for word in text.split():
            segments.append({"startTime": round(t, 2), "endTime": round(t + 0.3, 2), "body": word,
                             "speaker": speaker})
            t += 0.4
        t += gap
    path.write_text(json.dumps({"version": "1.0.0", "segments": segments}))
    return path


@pytest.fixture(scope="module")
def suggester() -> Suggester:
    return Suggester(load_taxonomy())


# --- the taxonomy ------------------------------------------------------------------------------------------------

def test_taxonomy_has_ten_conditions_with_help_for_the_suggester():
    tax = load_taxonomy()
    assert [c.id for c in tax.conditions] == list(range(1, 11))
    assert {c.pillar for c in tax.conditions} == {"people", "place", "knowledge"}
    assert len({c.slug for c in tax.conditions}) == 10
    for c in tax.conditions:
        assert len(c.examples) >= 5 and len(c.keywords) >= 10, c.slug
    assert tax.resolve("tackle-misinformation").id == 4 and tax.resolve("4").id == 4 and tax.resolve(99) is None


def test_taxonomy_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "dup.yaml"
    bad.write_text(yaml.safe_dump({"name": "x", "pillars": ["a"], "conditions": [
        {"id": 1, "slug": "one", "title": "One", "short": "One", "pillar": "a", "description": "d"},
        {"id": 1, "slug": "two", "title": "Two", "short": "Two", "pillar": "a", "description": "d"}]}))
    with pytest.raises(KindcastError, match=r"dup.yaml: .*id 1 is used twice"):
        load_taxonomy(bad)
    with pytest.raises(KindcastError, match="taxonomy file not found"):
        load_taxonomy(tmp_path / "missing.yaml")


def test_packaged_prototype_vectors_match_the_taxonomy(suggester):
    """pipeline/data/conditions.vectors.npz spares every fresh install embedding the prototypes: it must be refreshed
    (python scripts/bench_conditions.py --write-vectors) whenever conditions.yaml changes."""
    import numpy as np

    from pipeline.conditions.suggest import PACKAGED_VECTORS

    with np.load(PACKAGED_VECTORS) as data:
        assert str(data["key"]) == suggester.prototype_key()
        assert data["vectors"].shape == (len(suggester.proto_texts), 384)
        assert data["classifier_w"].shape == (384, len(suggester.conditions))


def test_the_tokenizer_is_packaged_with_its_licence():
    """The model's tokenizer ships in pipeline/data with its Apache-2.0 licence; no unrelated package provides it."""
    from pipeline.conditions.suggest import PACKAGED_TOKENIZER, default_model_files

    onnx, tok = default_model_files()
    assert tok == PACKAGED_TOKENIZER and tok.is_file() and onnx.is_file()
    licence = (tok.parent / "all-MiniLM-L6-v2.LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0" in licence


def test_another_taxonomy_of_any_size_works(tmp_path):
    """Nothing assumes ten conditions: a three-condition taxonomy without keywords or examples ranks too."""
    path = tmp_path / "garden.yaml"
    path.write_text(yaml.safe_dump({"name": "Garden show", "pillars": ["outdoors"], "conditions": [
        {"id": 7, "slug": "compost", "title": "Composting", "short": "Compost", "pillar": "outdoors",
         "description": "Turning kitchen scraps and garden waste into rich compost for the soil."},
        {"id": 8, "slug": "pollinators", "title": "Helping bees", "short": "Pollinators", "pillar": "outdoors",
         "description": "Planting flowers that feed bees, butterflies and other pollinating insects."},
        {"id": 9, "slug": "water", "title": "Saving water", "short": "Water", "pillar": "outdoors",
         "description": "Collecting rain in butts and watering wisely during dry summers."}]}))
    tax = load_taxonomy(path)
    ranked = suggest(split_sentences("We put lavender and foxgloves along the fence and the bumblebees love them. "
                                     "It's buzzing out there now."), tax).suggestions
    assert [s.condition.id for s in ranked][0] == 8
    assert len(ranked) == 3 and all(0.0 <= s.score <= 1.0 for s in ranked)


# --- reading text and transcripts --------------------------------------------------------------------------------

def test_plain_text_is_split_into_sentences():
    sents = split_sentences("Dr. Okafor joined us. Was it hard?\n\nYes! It was 3 a.m. and freezing.")
    assert [s.text for s in sents] == ["Dr. Okafor joined us.", "Was it hard?", "Yes!", "It was 3 a.m. and freezing."]
    assert all(s.start is None and s.end is None for s in sents)


def test_transcript_words_are_rebuilt_into_timed_sentences(tmp_path):
    path = word_transcript(tmp_path / "t.json", [
        ("Host", "So tell me how it started."),
        ("Guest", "Well we had no money"),  # no full stop: the change of speaker ends it
        ("Host", "Right."),
    ])
    sents = read_document(path)
    assert [s.text for s in sents] == ["So tell me how it started.", "Well we had no money", "Right."]
    assert sents[0].start == 0.0 and sents[0].end == pytest.approx(2.3)
    assert sents[1].start == pytest.approx(2.7) and sents[1].end == pytest.approx(4.6)
    assert sents[2].start == pytest.approx(5.0)


def test_a_long_pause_ends_a_sentence(tmp_path):
    path = tmp_path / "t.json"
    segs = [{"startTime": 0.0, "endTime": 0.4, "body": "okay"}, {"startTime": 0.5, "endTime": 0.9, "body": "then"},
            {"startTime": 4.0, "endTime": 4.4, "body": "another"}, {"startTime": 4.5, "endTime": 4.9, "body": "thought"}]
    path.write_text(json.dumps({"version": "1.0.0", "segments": segs}))
    assert [(s.text, s.start, s.end) for s in read_document(path)] == [("okay then", 0.0, 0.9),
                                                                        ("another thought", 4.0, 4.9)]


# --- ranking -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected, within", [
    ("Someone posted that the hostel residents were being handed free cars. Utter rubbish, so the local imam and "
     "the pharmacist made a video putting the record straight.", 4, 1),
    ("The trustees used to be six retired bankers. Now half the board grew up on the estates we serve.", 8, 1),
    ("The minister promised a ten-year cohesion plan, with compassion built into how it is measured.", 10, 1),
    # a known weakness: a single short sentence naming minority groups pulls towards participatory engagement (3)
    ("We did a community play where the refugees and the pensioners performed side by side.", 6, 3),
])
def test_ranking_puts_the_right_condition_first(suggester, text, expected, within):
    ranked = suggester.rank(split_sentences(text))
    ids = [s.condition.id for s in ranked]
    assert expected in ids[:within], [(s.condition.id, round(s.score, 2)) for s in ranked[:3]]
    assert ranked[0].score > ranked[-1].score
    assert ranked[0].evidence, "the top condition quotes its evidence"


@pytest.mark.parametrize("name", ["heldout.yaml", "heldout4.yaml"])
def test_development_passages_stay_above_the_bars(suggester, name):
    """A regression guard, not a measure of accuracy on unseen text: both sets are development sets now
    (tests/data/conditions/README; heldout4 stopped being held out when it became this bar). The bar of issue 5 scaled
    to the set: top-1 >= 25/30, top-3 >= 29/30."""
    held = passages(name)
    assert len(held) >= 30
    top1 = top3 = 0
    for p in held:
        ids = [s.condition.id for s in suggester.rank(split_sentences(p["text"]))]
        top1 += ids[0] in p["accept"]
        top3 += any(i in p["accept"] for i in ids[:3])
    assert top1 >= round(25 / 30 * len(held)), top1
    assert top3 >= round(29 / 30 * len(held)), top3


def test_scores_are_calibrated_to_0_1(suggester):
    on_topic = suggester.rank(split_sentences(passages("tune.yaml")[0]["text"]))
    off_topic = suggester.rank(split_sentences("The recipe needs two eggs, a cup of flour and a pinch of salt. "
                                               "Bake it for twenty minutes."))
    assert on_topic[0].score >= 0.5
    assert all(0.0 <= s.score <= 1.0 for s in on_topic + off_topic)
    assert off_topic[0].score < 0.5, "a cake recipe speaks to no condition"


def test_nothing_to_read_gives_no_ranking(suggester):
    assert suggester.rank([]) == []
    assert suggester.rank([Sentence("")]) == []


# --- the command line --------------------------------------------------------------------------------------------

def test_cli_prints_ranked_conditions_with_evidence(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("Our choir has pensioners, students and two lads who arrived from Sudan last spring.\n"
                    "When you sing together, the differences stop mattering.\n")
    proc = kindcast("conditions", "suggest", text, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(" 1. ") and "[6] Arts, culture and sport" in lines[0], proc.stdout
    assert "choir" in lines[1] or "sing" in lines[1]
    assert sum(1 for line in lines if line[:3].strip().rstrip(".").isdigit()) == 10


def test_cli_json_shape_for_plain_text(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text(passages("tune.yaml")[6]["text"])  # misinformation
    data = json.loads(kindcast("conditions", "suggest", text, "--json", check=True).stdout)
    assert isinstance(data, list) and len(data) == 10
    for item in data:
        assert {"id", "slug", "title", "score", "evidence"} <= set(item)
        assert 0.0 <= item["score"] <= 1.0
        for ev in item["evidence"]:
            assert set(ev) == {"text", "start", "end"} and ev["start"] is None and ev["end"] is None
    assert [d["score"] for d in data] == sorted((d["score"] for d in data), reverse=True)
    assert data[0]["id"] == 4 and data[0]["slug"] == "tackle-misinformation" and data[0]["evidence"]


def test_cli_json_for_a_transcript_has_timestamps(tmp_path):
    path = word_transcript(tmp_path / "transcript.json", [
        ("Host", "Welcome back to the show, lovely to have you."),
        ("Guest", "Thanks. So last spring a rumour went round the estate on social media that the new arrivals "
                  "were jumping the housing queue."),
        ("Guest", "It was completely false, so we asked the vicar and the imam to post the real figures."),
        ("Host", "And did people believe them?"),
    ], start=30.0)
    data = json.loads(kindcast("conditions", "suggest", path, "--json", check=True).stdout)
    assert data[0]["id"] == 4
    ev = data[0]["evidence"]
    assert ev and all(isinstance(e["start"], float) and e["end"] > e["start"] >= 30.0 for e in ev)
    rumour = next(e for e in ev if "rumour" in e["text"])
    words = json.loads(path.read_text())["segments"]
    first = next(w for w in words if w["body"] == "So")
    assert rumour["start"] == first["startTime"]


@pytest.mark.parametrize("content, message", [
    (None, "file not found"),
    ("{not json", "not valid JSON (line 1"),
    ('{"version": "1.0.0"}', "segments: not a Podcasting 2.0 transcript"),
    ('{"segments": [{"startTime": "0:01", "endTime": 1, "body": "hi"}]}', "segments[0].startTime: expected a number"),
    ('{"segments": [{"startTime": 0, "endTime": 1, "body": 5}]}', "segments[0].body: expected text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a text file"),
    ("   \n\n  ", "no text to read"),
])
def test_cli_bad_files_give_one_clear_line(tmp_path, content, message):
    path = tmp_path / ("input.json" if isinstance(content, str) and content.startswith("{") else "input.txt")
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    proc = kindcast("conditions", "suggest", path)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"kindcast: error: {path}: {message}" or \
        proc.stderr.startswith(f"kindcast: error: {path}: {message}"), proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_uses_the_shows_own_taxonomy(tmp_path):
    from conftest import make_show

    root = make_show(tmp_path / "show", settings={"conditions": {"taxonomy": "mine.yaml"}})
    (root / "episodes" / "mine.yaml").write_text(yaml.safe_dump({"name": "Two", "pillars": ["p"], "conditions": [
        {"id": 1, "slug": "trains", "title": "Railways", "short": "Trains", "pillar": "p",
         "description": "Steam engines, timetables and station platforms."},
        {"id": 2, "slug": "baking", "title": "Baking", "short": "Baking", "pillar": "p",
         "description": "Bread, cakes and the smell of an oven on a Sunday morning."}]}))
    text = tmp_path / "t.txt"
    text.write_text("The sourdough needs a long slow rise before it goes in the oven.")
    data = json.loads(kindcast("--root", root, "conditions", "suggest", text, "--json", check=True).stdout)
    assert [d["slug"] for d in data] == ["baking", "trains"]


def test_a_whole_one_hour_transcript_is_read_in_seconds(tmp_path):
    """~9,000 words, every sentence different (as in a real episode): the command reads all of it. About 6 s of CPU
    here (0.4-0.6 ms a word piece, plus loading the model); other jobs share this machine, so wall time is checked
    loosely and the CPU time the command used, strictly enough to catch reading it twice."""
    texts = [p["text"] for name in ("tune.yaml", "heldout.yaml", "heldout2.yaml") for p in passages(name)]
    lines, i = [], 0
    while sum(len(t.split()) for _, t in lines) < 9000:
        text = texts[i % len(texts)]
        if i >= len(texts):
            text = f"In round {i // len(texts) + 1}, {text[0].lower()}{text[1:]}"
        lines.append(("Host" if i % 2 else "Guest", text))
        i += 1
    big = word_transcript(tmp_path / "big.json", lines)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = kindcast("conditions", "suggest", big, "--json", check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    data = json.loads(proc.stdout)
    assert len(data) == 10 and data[0]["evidence"][0]["start"] is not None
    last = max(e["end"] for d in data for e in d["evidence"])
    assert last > 0.8 * json.loads(big.read_text())["segments"][-1]["endTime"], "the end of the episode was read"
    assert cpu < 15.0, f"used {cpu:.1f} s of CPU (wall {wall:.1f} s)"
    assert wall < 120.0, f"took {wall:.1f} s"


def test_evidence_is_the_guests_story_not_the_shows_framing(suggester, tmp_path):
    """Intros and outros, questions and sentences naming the show are never quoted; a host's summary only when no
    guest sentence shows the condition."""
    path = word_transcript(tmp_path / "t.json", [
        ("Sam Okafor", "Hello and welcome back to Radical Kindness, where we talk about kindness in public policy."),
        ("Sam Okafor", "So how did the council, the charities and the businesses work together?"),
        ("Sam Okafor", "So the council and the charities really did back your group with rooms and training."),
        ("Priya Shah", "Whenever we asked the council, the food bank or the churches for help the answer was yes, "
                       "and they lent us rooms, vans and training for our volunteers."),
        ("Sam Okafor", "Radical Kindness is about exactly that kind of partnership."),
        ("Sam Okafor", "Thank you so much for listening, and subscribe wherever you get your podcasts."),
    ])
    sentences = read_document(path)
    ranking = suggester.rank_document(sentences, framing=Framing(("Radical Kindness",), ("Sam Okafor",)))
    assert ranking.framing == 3 and ranking.read == ranking.total == 3
    top = ranking.suggestions[0]
    assert top.condition.id == 1, [(s.condition.id, round(s.score, 2)) for s in ranking.suggestions[:3]]
    assert top.evidence[0].speaker == "Priya Shah" and "answer was yes" in top.evidence[0].text
    quoted = [e.text for s in ranking.suggestions for e in s.evidence]
    assert quoted and not any(q.endswith("?") or "Radical Kindness" in q or "subscribe" in q for q in quoted)
    assert not any(s.evidence for s in ranking.suggestions if s.condition.id == 10), "the show's name is not policy"
    # with nobody known as host, the host's summary may be quoted too, but the framing never
    plain = suggester.rank_document(sentences, framing=Framing(("Radical Kindness",)))
    assert not any("Radical Kindness" in e.text or e.text.endswith("?") for s in plain.suggestions
                   for e in s.evidence)


def test_phrase_level_segments_are_split_into_sentences(tmp_path):
    """Transcripts from other tools may hold whole phrases per segment: each word gets a share of its segment's time
    by its length (the one transcript reader, speech.transcript), so a sentence inside one gets its words' share."""
    path = tmp_path / "phrases.json"
    path.write_text(json.dumps({"version": "1.0.0", "segments": [
        {"startTime": 10.0, "endTime": 14.0, "body": "We met every week. It changed everything for us"},
        {"startTime": 14.2, "endTime": 16.0, "body": "in the end."},
    ]}))
    sents = read_document(path)
    assert [s.text for s in sents] == ["We met every week.", "It changed everything for us in the end."]
    share = 4 * 15 / 39  # "We met every week." is 15 of the segment's 39 letters and marks
    assert sents[0].start == 10.0 and sents[0].end == pytest.approx(10 + share, abs=1e-3)
    assert sents[1].start == pytest.approx(10 + share, abs=1e-3) and sents[1].end == 16.0
