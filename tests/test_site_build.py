"""Notes and site through the real command line: `kindcast build` writes them, a second build leaves them alone,
a show template override makes both rebuild, and a broken template fails that episode with one clear line."""
from __future__ import annotations

import re

from conftest import kindcast, make_show, synth, write_episode


def status_of(root, unit: str, stage: str) -> str:
    out = kindcast("status", "--root", root, check=True).stdout
    match = re.search(rf"^{re.escape(unit)}\s+{stage}\s+(.*)$", out, flags=re.M)
    assert match, out
    return match.group(1)


def test_build_status_and_template_override(tmp_path):
    root = make_show(tmp_path / "show")
    audio = synth(tmp_path / "take.wav", "sine=f=300", 2)
    write_episode(root, "kind-one", {"title": "Soup <kitchen> stories", "date": "2026-10-01", "number": 1,
                                     "guid": "g1", "conditions": ["social-mixing"]}, audio,
                  notes="We talk about *sharing* meals.\n")
    kindcast("build", "--root", root, check=True)
    feeds = root / "feeds"
    notes = (feeds / "episodes" / "kind-one" / "notes.html").read_text()
    assert "Soup &lt;kitchen&gt; stories" in notes and "<em>sharing</em>" in notes
    assert (feeds / "episodes" / "kind-one" / "notes.md").is_file()
    index = (feeds / "index.html").read_text()  # the mastered episode is listed, with its player
    assert "Soup &lt;kitchen&gt; stories" in index and 'src="episodes/kind-one/kind-one.mp3"' in index
    assert "Soup &lt;kitchen&gt; stories" in (feeds / "conditions" / "social-mixing.html").read_text()
    again = kindcast("build", "--root", root, check=True).stdout
    # nothing changed for the notes or the site: neither runs (other stages are judged by their own tests)
    assert not re.search(r"^built: kind-one: .*\bnotes\b", again, flags=re.M), again
    assert not re.search(r"^built: show: .*\bsite\b", again, flags=re.M), again

    override = root / "templates" / "base.html"
    override.parent.mkdir()
    from pipeline.web.templating import PACKAGED_TEMPLATES

    text = (PACKAGED_TEMPLATES / "base.html").read_text().replace("<main>", "<main data-theme=\"ours\">")
    override.write_text(text)
    assert status_of(root, "kind-one", "notes") == "will run: input changed: templates/base.html"
    rebuilt = kindcast("build", "--root", root, check=True).stdout
    assert re.search(r"^built: kind-one: .*\bnotes [0-9.]+s$", rebuilt, flags=re.M), rebuilt
    assert not re.search(r"\b(master|transcribe|tag) [0-9.]+s", rebuilt), rebuilt  # a template edit: no audio work
    assert re.search(r"built: show: .*site", rebuilt), rebuilt
    assert 'data-theme="ours"' in (feeds / "episodes" / "kind-one" / "notes.html").read_text()
    assert 'data-theme="ours"' in (feeds / "conditions" / "index.html").read_text()

    override.write_text(text.replace("{% block main %}", "{% block main %"))
    line = 1 + text[:text.index("{% block main %}")].count("\n")
    proc = kindcast("build", "--root", root)
    assert proc.returncode == 1
    output = proc.stdout + proc.stderr
    assert f"kind-one: notes: templates/base.html: line {line}: template syntax error" in output, output
    assert "Traceback" not in output
