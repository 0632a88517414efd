"""NameCheckCells: each check cell records its task id for the feedback template; no other cell does."""

from __future__ import annotations

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.name_check_cells import NameCheckCells

from .tiny import HIDDEN, check_cell, lesson, notebook, solution_cell


def test_check_cells_are_named_by_their_task():
    nb, _ = NameCheckCells().preprocess(lesson(), {})
    named = {c.metadata.nbgrader.grade_id: c.metadata[FLAGS_KEY]["task"] for c in nb.cells if FLAGS_KEY in c.metadata}
    assert named == {"check-encode": "01.encode", "check-decode": "01.decode"}


def test_only_a_graded_check_call_names_a_cell():
    ungraded = solution_cell("helper", 'check("01.encode")')  # a student's cell that calls check
    odd = check_cell("check-odd", HIDDEN + "print('no check call here')")
    nb, _ = NameCheckCells().preprocess(notebook(ungraded, odd), {})
    assert all(FLAGS_KEY not in c.metadata for c in nb.cells)
