"""End to end: a student's display(HTML(<script>...)) reaches neither formgrader nor the feedback page.

A class of two through the real nbgrader command line (lesson 01, in the jail): `ref` hands in the
reference solutions, `mallory` the same code plus active content in every form a notebook carries
(HTML with script and event handlers, JavaScript, SVG, markdown outputs, a markdown cell, widget state
and a title in the notebook's metadata). After autograde the autograded notebook (what formgrader
renders) holds nothing that can run; after feedback mallory's page holds no script, as ref's
(the course's template loads none), and no event handler or javascript: URL; both get full marks.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell

from tests.conftest import REPO, run
from tests.nbgrader_glue.test_inert_student_content import active, rendered, scripts
from tests.test_instructor_e2e import cells_by_id, filled

pytestmark = [pytest.mark.nbgrader, pytest.mark.slow]

LESSON = "01_chars"
ATTACK = ("<script>fetch('/api/contents')</script><img src=x onerror=alert(1)>"
          "<a href='javascript:alert(2)'>x</a><iframe src='//evil.example'></iframe><b>kept-bold</b>")
ATTACK_CODE = f'''
from IPython.display import HTML, SVG, Javascript, Markdown, display
display(HTML({ATTACK!r}))
display(Javascript("alert(3)"))
display(Markdown("[click](javascript:alert(4)) <script>alert(5)</script>"))
display({{"image/svg+xml": "<svg xmlns='http://www.w3.org/2000/svg' onload='alert(6)'><script>alert(7)</script></svg>",
         "text/plain": "svg"}}, raw=True)
'''


def attacked(release, source):
    nb = filled(release, source, {gid for gid, c in cells_by_id(release).items() if c.metadata["nbgrader"].get("solution")})
    cells_by_id(nb)["encode"].source += "\n" + ATTACK_CODE
    nb.cells.insert(1, new_markdown_cell("My notes <script>alert(8)</script> [go](javascript:alert(9))"))
    nb.metadata.title = "</title><script>alert(10)</script>"
    nb.metadata.widgets = {"application/vnd.jupyter.widget-state+json": {"state": {}, "x": "</script><script>alert(11)"}}
    return nb


def test_active_content_is_made_inert_and_grades_stay(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "solutions" / LESSON, course / "solutions" / LESSON)
    (course / ".nbgrader").mkdir()  # nbgrader does not create the gradebook's folder
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}", "MPLBACKEND": "Agg",
           "GPT_COURSE_OUTPUTS": "1"}  # the kernel's outputs are where a student's HTML comes from

    def cli(*args):
        result = run(sys.executable, *args, cwd=course, env=env, timeout=600)
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        return result

    cli("-m", "nbgrader", "generate_assignment", LESSON, "--force", "--log-level=WARN")
    release = nbformat.read(course / "lessons" / LESSON / f"{LESSON}.ipynb", as_version=4)
    source = nbformat.read(course / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    inbox = tmp_path / "inbox"
    for student, nb in {"ref": filled(release, source, set(cells_by_id(release))),
                        "mallory": attacked(release, source)}.items():
        (inbox / student / LESSON).mkdir(parents=True)
        nbformat.write(nb, inbox / student / LESSON / f"{LESSON}.ipynb")
    cli("-m", "autograder.instructor", "collect", str(inbox))
    cli("-m", "autograder.instructor", "autograde")
    cli("-m", "autograder.instructor", "feedback")
    cli("-m", "autograder.instructor", "export")

    # Grades: the attack changes nothing (full marks, as the reference).
    with open(course / ".nbgrader" / "grades.csv", newline="") as f:
        scores = {r["student_id"]: (float(r["score"]), float(r["max_score"])) for r in csv.DictReader(f)}
    assert scores["mallory"] == scores["ref"] and scores["ref"][0] == scores["ref"][1] > 0

    # The autograded notebook (formgrader renders it): the attack ran, its output is inert.
    graded = nbformat.read(course / ".nbgrader/autograded/mallory" / LESSON / f"{LESSON}.ipynb", as_version=4)
    outputs = [o for c in graded.cells for o in c.get("outputs", [])]
    html_parts = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("kept-bold" in part for part in html_parts)  # the attack's output is there, harmless HTML kept
    shown = html_parts + [rendered(o.data["text/markdown"]) for o in outputs if "text/markdown" in o.get("data", {})]
    shown += [rendered(c.source) for c in graded.cells if c.cell_type == "markdown"]
    assert active("\n".join(shown)) == []
    assert not any(set(o.get("data", {})) - {"text/plain", "text/html", "text/markdown", "image/png"} for o in outputs)
    assert "widgets" not in graded.metadata and "title" not in graded.metadata

    # The feedback pages: no script at all (the course's template loads none), and nothing else active.
    pages = {s: (course / ".nbgrader/feedback" / s / LESSON / f"{LESSON}.html").read_text() for s in ("ref", "mallory")}
    assert scripts(pages["ref"]) == [] and scripts(pages["mallory"]) == []
    assert active(pages["mallory"]) == active(pages["ref"])
    assert not [found for found in active(pages["mallory"]) if " on" in found or "script:" in found]
    assert "kept-bold" in pages["mallory"]
