"""export.py: Gradescope results of a class from what autograde recorded, formgrader's manual scores
included, and every task of a notebook that could not be graded listed with the reason."""

from __future__ import annotations

import dataclasses

import nbformat
import pytest

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.export import gradescope_results
from autograder.nbgrader_glue.workspace import AUTOGRADED, SUBMITTED, gradebook
from autograder.run import PASSED, Verdict
from autograder.tasks import lesson_tasks

from .class_folder import LESSON


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission, not ours
def test_gradescope_results_list_every_task_of_an_unreadable_notebook(course):
    with gradebook() as gb:
        for student in ("alice", "bob"):
            gb.add_student(student)
            gb.add_submission(LESSON, student)
    broken = SUBMITTED / "bob" / LESSON / f"{LESSON}.ipynb"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"cells": [')
    graded = AUTOGRADED / "alice" / LESSON / f"{LESSON}.ipynb"
    graded.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    verdicts = [Verdict(t.id, PASSED, float(t.points), float(t.points)) for t in lesson_tasks("01")]
    nb.metadata[FLAGS_KEY] = {"isolation": "bubblewrap 0.8.0", "visible": [],
                              "verdicts": [dataclasses.asdict(v) for v in verdicts]}
    nbformat.write(nb, graded)

    results = gradescope_results()
    tasks = lesson_tasks("01")
    bob = results["bob"]
    assert [t["name"] for t in bob["tests"]] == [t.id for t in tasks]
    assert [(t["score"], t["max_score"], t["status"]) for t in bob["tests"]] == [
        (0.0, float(t.points), "failed") for t in tasks]
    assert all(t["output"].startswith(f"FAIL {t['name']}: not graded: not a valid notebook (") for t in bob["tests"])
    assert bob["score"] == 0 and "output" not in bob
    alice = results["alice"]
    assert [(t["name"], t["score"]) for t in alice["tests"]] == [(t.id, float(t.points)) for t in tasks]
    assert alice["output"] == "Graded in isolation: bubblewrap 0.8.0"


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission, not ours
def test_a_score_set_by_hand_reaches_gradescope_results(course):
    """formgrader's manual grade (Grade.manual_score, what its REST API sets) replaces autograde's score."""
    graded = AUTOGRADED / "alice" / LESSON / f"{LESSON}.ipynb"
    graded.parent.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('check("01.encode")', metadata={"nbgrader": {
        "grade": True, "grade_id": "check-01-encode", "points": 2, "solution": False, "locked": True}})]
    verdicts = [Verdict(t.id, PASSED, float(t.points), float(t.points)) for t in lesson_tasks("01")]
    nb.metadata[FLAGS_KEY] = {"isolation": "bubblewrap 0.8.0", "visible": [],
                              "verdicts": [dataclasses.asdict(v) for v in verdicts]}
    nbformat.write(nb, graded)
    with gradebook() as gb:
        gb.add_student("alice")
        gb.add_submission(LESSON, "alice")
        grade = gb.find_grade("check-01-encode", LESSON, LESSON, "alice")
        grade.auto_score = 2.0
        gb.db.commit()
    full = sum(t.points for t in lesson_tasks("01"))
    assert gradescope_results()["alice"]["score"] == full

    with gradebook() as gb:
        gb.find_grade("check-01-encode", LESSON, LESSON, "alice").manual_score = 0.5
        gb.db.commit()
    result = gradescope_results()["alice"]
    encode = next(t for t in result["tests"] if t["name"] == "01.encode")
    assert (encode["score"], encode["status"]) == (0.5, "failed")
    assert encode["output"].endswith("\nScore set by the instructor: 0.5/2 (autograded: 2).")
    assert result["score"] == full - 1.5
    others = [t for t in result["tests"] if t["name"] != "01.encode"]
    assert all(t["score"] == t["max_score"] for t in others)
