"""A new lesson is found everywhere from its folder: CONTRIBUTING's "Adding a lesson" checklist is complete.

In a copy of the course, add lesson 15 the way the checklist says -- its solution notebook, its
checks, its wrong and right variants, then `make fixtures` and `make release` -- and edit no other
file. The release, `python -m autograder grade`, the variant tests and the capstone's lesson graph
must all see it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.paths import REPO_ROOT

pytestmark = pytest.mark.slow

SLUG = "15_doubling"
CHECKS = '''"""Lesson 15 (a test's lesson): doubling."""

import torch

from ..tasks import task


@task("15.double", points=1, target="double", hint="add x to itself")
def double_cases(double):
    return {"double(2.5)": double(torch.tensor(2.5, dtype=torch.float64))}
'''
VARIANTS = '''WRONG = {"double": ["def double(x):\\n    return x + 2"]}
RIGHT = {"double": ["def double(x):\\n    return x + x"]}
'''


def nbgrader_cell(source: str, **flags):
    meta = {"grade": False, "locked": False, "solution": False, "task": False, "schema_version": 3, **flags}
    return new_code_cell(source, metadata={"nbgrader": meta})


def lesson_notebook() -> nbformat.NotebookNode:
    """Set-up (loads lesson 01), one solution cell, its check cell as solutions/ writes it (no points)."""
    return new_notebook(cells=[
        new_markdown_cell("# Lesson 15: doubling"),
        nbgrader_cell('from autograder import check, load_lesson\nL01 = load_lesson("01")', locked=True,
                      grade_id="setup"),
        nbgrader_cell("def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                      solution=True, grade_id="double"),
        nbgrader_cell('check("15.double")', grade=True, locked=True),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def copy_of_the_course(root: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, check=True,
                           capture_output=True, text=True).stdout.split("\n")
    for name in filter(None, files):
        source = REPO_ROOT / name
        if source.is_file() and not name.startswith("lessons/"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(source.read_bytes())
    return root


def run(course: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_a_new_lesson_is_seen_by_release_grading_variants_and_capstone(tmp_path):
    course = copy_of_the_course(tmp_path / "course")
    folder = course / "solutions" / SLUG
    folder.mkdir()
    nbformat.write(lesson_notebook(), folder / f"{SLUG}.ipynb")
    (course / "autograder" / "checks" / "lesson15.py").write_text(CHECKS)
    (course / "tests" / "lessons" / "test_lesson15.py").write_text(VARIANTS)

    run(course, "-m", "autograder", "fixtures", "--lesson", "15")
    assert (course / "autograder" / "fixtures" / "lesson15.pt").is_file()

    release = tmp_path / "release"
    run(course, "-m", "autograder.release", "--lesson", "15", "--out", str(release))
    released = nbformat.read(release / SLUG / f"{SLUG}.ipynb", as_version=4)
    check = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade"))
    assert (check.source, check.metadata.nbgrader.grade_id, check.metadata.nbgrader.points) == \
        ('check("15.double")', "check-15-double", 1)
    assert "15.double: add x to itself" in "".join(c.source for c in released.cells)

    results = tmp_path / "results.json"
    graded = run(course, "-m", "autograder", "grade", "--source", "solutions", "--lesson", "15",
                 "--results", str(results))
    assert "15.double" in graded.stdout
    tests = json.loads(results.read_text())["tests"]
    assert [(t["name"].split()[0], t["score"], t["max_score"]) for t in tests] == [("15.double", 1, 1)]

    variants = run(course, "-m", "pytest", "-v", "-p", "no:cacheprovider", "tests/lessons/test_variants.py",
                   "-k", "15.double or every_task_has_a_wrong_answer").stdout
    for test in ("test_wrong_answer_fails", "test_other_correct_answer_passes",
                 "test_other_correct_answer_passes_on_a_simulated_other_cpu"):  # the last: its outputs are floats
        assert f"{test}[15.double-0] PASSED" in variants, variants[-3000:]
    assert "test_every_task_has_a_wrong_answer_that_must_fail PASSED" in variants

    graph = run(course, "-c", "from autograder.source import Source; from capstone.assemble import needed_lessons; "
                              "print(needed_lessons(Source.parse('solutions'), ['15']))")
    assert graph.stdout.strip() == "['01', '15']"
