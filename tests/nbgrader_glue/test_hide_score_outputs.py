"""HideScoreOutputs: no raw score under a check cell, and the gradebook keeps the partial credit."""

from __future__ import annotations

import copy

import pytest
from nbformat.v4 import new_output
from nbgrader.api import Gradebook
from nbgrader.preprocessors import SaveAutoGrades
from traitlets.config.loader import PyFileConfigLoader

from autograder.nbgrader_glue.hide_score_outputs import HideScoreOutputs
from tests.conftest import REPO

from .tiny import ASSIGNMENT, NOTEBOOK, STUDENT, check_cell, lesson, notebook, solution_cell

# nbgrader's add_submission warns of its own session handling (SQLAlchemy), as in its own tests
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


def verdict(text):
    return new_output("stream", name="stdout", text=text + "\n")


def score(points, count=3):
    return new_output("execute_result", data={"text/plain": repr(float(points))}, execution_count=count)


def test_a_check_cell_keeps_its_verdict_and_loses_its_number():
    check = check_cell("check-encode", 'check("01.encode")', points=2)
    check.outputs = [verdict("FAIL 01.encode: encode('hi'): values differ (0/2 points)"), score(0)]
    answer = solution_cell("encode", "def encode(t):\n    return []\nencode")
    answer.outputs = [score(7, count=2)]  # a student's own cell: what it shows is theirs
    nb, _ = HideScoreOutputs().preprocess(notebook(answer, check), {})
    assert [o.output_type for o in nb.cells[1].outputs] == ["stream"]
    assert nb.cells[1].outputs[0].text.startswith("FAIL 01.encode")
    assert nb.cells[0].outputs == [score(7, count=2)]


def autograde_order():
    """The course's autograde steps that touch scores, in nbgrader_config.py's order."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    steps = config.Autograde.autograde_preprocessors
    return [step for step in steps if step in (SaveAutoGrades, HideScoreOutputs)]


def test_partial_credit_reaches_the_gradebook_before_the_number_goes(release, resources):
    order = autograde_order()
    assert order == [SaveAutoGrades, HideScoreOutputs]
    nb = release(lesson())
    checks = {c.metadata.nbgrader.grade_id: c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}
    checks["check-encode"].outputs = [verdict("FAIL 01.encode: 1 of 2 cases (0.5/2 points)"), score(0.5)]
    checks["check-decode"].outputs = [verdict("FAIL 01.decode: not started (0/2 points)"), score(0)]
    with Gradebook(resources["nbgrader"]["db_url"]) as gb:
        gb.add_submission(ASSIGNMENT, STUDENT)
    for step in order:
        nb, resources = step().preprocess(nb, resources)
    with Gradebook(resources["nbgrader"]["db_url"]) as gb:
        grades = {g: gb.find_grade(g, NOTEBOOK, ASSIGNMENT, STUDENT).auto_score for g in checks}
    assert grades == {"check-encode": 0.5, "check-decode": 0.0}
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "execute_result"]


def test_without_its_number_nbgrader_would_give_full_marks(release, resources):
    """Why the order matters: nbgrader scores a grade cell with no number and no error as passed."""
    nb = release(lesson())
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [verdict("FAIL (0 points)"), score(0)]
    with Gradebook(resources["nbgrader"]["db_url"]) as gb:
        gb.add_submission(ASSIGNMENT, STUDENT)
    nb, resources = HideScoreOutputs().preprocess(copy.deepcopy(nb), resources)
    nb, resources = SaveAutoGrades().preprocess(nb, resources)
    with Gradebook(resources["nbgrader"]["db_url"]) as gb:
        assert gb.find_grade("check-encode", NOTEBOOK, ASSIGNMENT, STUDENT).auto_score == 2
