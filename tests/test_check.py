"""`kindcast check` and `kindcast new`: every problem reported at once, file and field named, no traceback."""
from __future__ import annotations

from pathlib import Path

import yaml

from conftest import REPO, kindcast, make_show, synth, write_episode


def good_front(**overrides) -> dict:
    front = {"title": "A good episode", "date": "2026-03-01", "guid": "guid-good-1", "number": 1,
             "conditions": [2, "inclusive-cultures"]}
    front.update(overrides)
    return front


def test_valid_show_passes(show_root: Path, tmp_path: Path):
    audio = synth(tmp_path / "raw.wav", "sine=f=220", 3)
    write_episode(show_root, "ep-one", good_front(), audio)
    proc = kindcast("check", "--root", show_root)
    assert proc.returncode == 0, proc.stderr
    assert "1 episodes" in proc.stdout


def test_the_sample_show_passes():
    proc = kindcast("check", "--root", REPO)
    assert proc.returncode == 0, proc.stderr


def test_no_title_unknown_condition_no_recording_all_named(show_root: Path):
    write_episode(show_root, "broken", {"date": "2026-03-01", "conditions": [42]})
    proc = kindcast("check", "--root", show_root)
    assert proc.returncode == 1
    err = proc.stderr
    assert "episodes/broken/episode.md: title: missing" in err
    assert "episodes/broken/episode.md: conditions[0]: unknown condition 42" in err
    assert "episodes/broken/episode.md: audio: no recording" in err
    assert "Traceback" not in err


def test_many_kinds_of_mistake_each_reported(show_root: Path, tmp_path: Path):
    audio = synth(tmp_path / "raw.wav", "sine=f=220", 3)
    write_episode(show_root, "ep-a", good_front(), audio)
    write_episode(show_root, "ep-b", good_front(guid="guid-good-1", date="not a date", titel="typo",
                                                cuts=[{"start": 10, "end": 12}, {"start": 2, "end": 1}]), audio)
    write_episode(show_root, "ep-c", good_front(guid="guid-c"), audio)  # same number as ep-a
    (show_root / "episodes" / "ep-d").mkdir()
    (show_root / "episodes" / "ep-d" / "episode.md").write_text("---\ntitle: [unclosed\n---\n")
    notaudio = show_root / "episodes" / "ep-e"
    write_episode(show_root, "ep-e", good_front(guid="guid-e", number=5))
    (notaudio / "raw.mp3").write_text("this is not audio")
    proc = kindcast("check", "--root", show_root)
    err = proc.stderr
    assert proc.returncode == 1
    assert "ep-b/episode.md: date:" in err
    assert "ep-b/episode.md: titel: unknown field (did you mean 'title'?)" in err
    assert "ep-b/episode.md: cuts[1]: end (1) must be after start (2)" in err
    assert "ep-c/episode.md: number: episode number 1 is also used by 'ep-a'" in err
    assert "ep-d/episode.md: front matter is not valid YAML" in err
    assert "ep-e/episode.md: audio: raw.mp3: not a readable audio file" in err
    assert "Traceback" not in err


def test_cut_and_chapter_after_the_end(show_root: Path, tmp_path: Path):
    audio = synth(tmp_path / "raw.wav", "sine=f=220", 3)
    write_episode(show_root, "ep", good_front(cuts=[{"start": 5, "end": 6}], chapters=[{"start": "0:09", "title": "Late"}]), audio)
    err = kindcast("check", "--root", show_root).stderr
    assert "cuts[0]: starts at 5s, after the recording ends (3.0s)" in err
    assert "chapters[0].start: 9s is after the recording ends" in err


def test_show_artwork_rules(tmp_path: Path):
    root = tmp_path / "show"
    (root / "episodes").mkdir(parents=True)
    from conftest import SHOW

    (root / "episodes" / "show.yaml").write_text(yaml.safe_dump({**SHOW, "artwork": "art.jpg"}))
    from PIL import Image

    Image.new("RGB", (1600, 1200)).save(root / "episodes" / "art.jpg", format="PNG")
    err = kindcast("check", "--root", root).stderr
    assert "episodes/show.yaml: artwork: art.jpg: the content is PNG but the extension says otherwise" in err
    assert "must be square (is 1600x1200)" in err


def test_new_scaffolds_with_fixed_guid_and_refuses_overwrite(show_root: Path, tmp_path: Path):
    audio = synth(tmp_path / "interview.flac", "sine=f=330", 2)
    proc = kindcast("new", "first-talk", "--audio", audio, "--title", "First talk", "--root", show_root)
    assert proc.returncode == 0, proc.stderr
    md = show_root / "episodes" / "first-talk" / "episode.md"
    front = yaml.safe_load(md.read_text().split("---")[1])
    assert front["title"] == "First talk" and front["number"] == 1 and len(front["guid"]) == 36
    assert (show_root / "episodes" / "first-talk" / "interview.flac").is_file()
    assert kindcast("check", "--root", show_root).returncode == 0
    again = kindcast("new", "first-talk", "--audio", audio, "--root", show_root)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert yaml.safe_load(md.read_text().split("---")[1])["guid"] == front["guid"]
    junk = tmp_path / "junk.wav"
    junk.write_text("nope")
    bad = kindcast("new", "second", "--audio", junk, "--root", show_root)
    assert bad.returncode == 1 and "junk.wav" in bad.stderr and not (show_root / "episodes" / "second").exists()


def test_help_works_both_ways():
    import subprocess
    import sys

    assert kindcast("--help").returncode == 0
    script = Path(sys.executable).parent / "kindcast"  # the console script installed beside this Python
    proc = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "build" in proc.stdout


def test_category_and_template_mistakes_found_before_any_build(tmp_path: Path):
    from conftest import make_show

    root = make_show(tmp_path / "show", category="Society > Nonsense")
    (root / "templates").mkdir()
    (root / "templates" / "notes.html").write_text("{% if x %}\nnever closed\n")
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 1
    assert "episodes/show.yaml: category: 'Society' is not an Apple Podcasts category" in proc.stderr
    assert "templates/notes.html: line 2: template syntax error" in proc.stderr


def test_each_person_is_named_once(tmp_path: Path):
    """The names label the voices of a transcript and the people of the feed: a guest with the host's name, or a
    name given twice, would merge two voices into one and list one person twice. Compared without case or spaces."""
    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "raw.wav", "sine=f=220", 3)
    write_episode(root, "host-again", good_front(guests=[{"name": "hana  host"}, {"name": "Grace Obi"}]), audio)
    write_episode(root, "twice", good_front(guid="guid-2", number=2, guests=[{"name": "Grace Obi"},
                                                                            {"name": "Grace Obi "}]), audio)
    write_episode(root, "own-hosts", good_front(guid="guid-3", number=3, hosts=[{"name": "Tom Hart", "role": "host"}],
                                                guests=[{"name": "Hana Host"}, {"name": "Tom Hart"}]), audio)
    write_episode(root, "fine", good_front(guid="guid-4", number=4, guests=[{"name": "Grace Obi"}]), audio)
    proc = kindcast("check", "--root", root)
    err = proc.stderr
    assert proc.returncode == 1 and "Traceback" not in err
    assert "host-again/episode.md: guests[0].name: 'hana  host' is listed already (a host in show.yaml)" in err
    assert "twice/episode.md: guests[1].name: 'Grace Obi ' is listed already (guests[0])" in err
    assert "own-hosts/episode.md: guests[1].name: 'Tom Hart' is listed already (hosts[0])" in err
    assert "own-hosts/episode.md: guests[0]" not in err  # its own hosts replace the show's
    assert "fine/episode.md" not in err
    make_show(root, hosts=[{"name": "Hana Host", "role": "host"}, {"name": "HANA HOST", "role": "host"}])
    proc = kindcast("check", "--root", root)
    assert proc.returncode == 1
    assert "show.yaml: hosts[1].name: 'HANA HOST' is listed already (hosts[0])" in proc.stderr


def test_an_empty_field_or_a_name_without_its_mapping_is_explained(show_root: Path, tmp_path: Path):
    """"guests:" with nothing after it, and "guests: [Grace Obi]" (a list of names, not of people), are said in the
    producer's words, not the validation library's ("Input should be a valid dictionary or instance of Person")."""
    audio = synth(tmp_path / "raw.wav", "sine=f=220", 3)
    write_episode(show_root, "empty", good_front(title=None, guests=None), audio)
    write_episode(show_root, "names", good_front(guid="guid-n", number=2, guests=["Grace Obi"], cuts=[5]), audio)
    proc = kindcast("check", "--root", show_root)
    err = proc.stderr
    assert proc.returncode == 1 and "Traceback" not in err and "Person" not in err
    assert "empty/episode.md: title: is empty: give a value\n" in err  # required: leaving it out is no way out
    assert "empty/episode.md: guests: is empty: give a value, or leave the line out" in err
    assert "names/episode.md: guests[0]: should be a mapping of fields, e.g. {name: Ana Ruiz} (got 'Grace Obi')" in err
    assert "names/episode.md: cuts[0]: should be a mapping of fields, e.g. {start: \"0:12.5\", end: \"0:19\"}" in err
