"""CheckCells: a check cell's source, grade_id and points come from the task registry at release."""

from __future__ import annotations

import pytest

from autograder.nbgrader_glue.check_cells import CheckCellError, CheckCells
from autograder.tasks import lesson_tasks

from .tiny import HIDDEN, HIDDEN_MARK, _nbgrader, notebook, solution_cell
from nbformat.v4 import new_code_cell


def bare_check(source):
    """A check cell as solutions/ writes it: locked and graded, no grade_id, no points."""
    cell = _nbgrader(new_code_cell(source), None, grade=True, locked=True)
    del cell.metadata.nbgrader["grade_id"]
    return cell


def release(*cells, assignment="01_chars"):
    nb, _ = CheckCells().preprocess(notebook(*cells), {"nbgrader": {"assignment": assignment, "notebook": assignment}})
    return nb


def lesson01_checks(*skip):
    return [bare_check(f'check("{t.id}")') for t in lesson_tasks("01") if t.id not in skip]


def test_points_and_grade_id_come_from_the_task():
    nb = release(solution_cell("encode", "def encode(text, stoi): ..."), *lesson01_checks())
    checks = {c.source: c.metadata.nbgrader for c in nb.cells if c.metadata.nbgrader["grade"]}
    for task in lesson_tasks("01"):
        meta = checks[f'check("{task.id}")']
        assert (meta["points"], meta["grade_id"], meta["locked"]) == (task.points, f"check-01-{task.id[3:]}", True)


def test_the_call_is_written_as_the_registry_writes_it_and_hidden_tests_stay():
    cell = bare_check(f"check( '01.encode' )\n{HIDDEN}")
    nb = release(cell, *lesson01_checks("01.encode"))
    assert nb.cells[0].source.startswith('check("01.encode")\n')
    assert HIDDEN_MARK in nb.cells[0].source  # ClearHiddenTests removes them later in the release


@pytest.mark.parametrize("source, says", [
    ('check("01.no_such_task")', "no @task in autograder/checks/ defines"),
    ('check("02.tokenize")', "of another lesson"),
    ('check("01.encode")', "a second check cell for this task"),
])
def test_a_check_cell_the_registry_does_not_back_stops_the_release(source, says):
    with pytest.raises(CheckCellError, match=says):
        release(*lesson01_checks(), bare_check(source))


def test_a_task_without_a_check_cell_stops_the_release():
    with pytest.raises(CheckCellError, match="no check cell for 01.decode"):
        release(*lesson01_checks("01.decode"))
