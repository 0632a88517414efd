"""RestoreDeletedCells: a locked cell the student deleted comes back from the gradebook, where it was."""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.nbgrader_glue.restore_deleted_cells import RestoreDeletedCells

from .tiny import ASSIGNMENT, NOTEBOOK, grade_ids, lesson


@pytest.fixture
def released(release, tmp_path, monkeypatch):
    """The release, also in lessons/ of the course folder (the plug-in reads the released order there)."""
    nb = release(lesson())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lessons" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(nb, tmp_path / "lessons" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    return nb


def restored(nb, resources):
    nb, _ = RestoreDeletedCells().preprocess(copy.deepcopy(nb), resources)
    return nb


def test_a_deleted_check_cell_comes_back_where_it_was(released, resources, db):
    submitted = copy.deepcopy(released)
    del submitted.cells[3]  # check-encode
    submitted.cells[2].source = "def encode(text):\n    return list(text.encode())"

    nb = restored(submitted, resources)
    assert grade_ids(nb) == grade_ids(released)
    assert nb.cells[2].source == submitted.cells[2].source  # the student's answer stays
    cell = nb.cells[3]
    with Gradebook(db) as gb:
        original = gb.find_source_cell("check-encode", NOTEBOOK, ASSIGNMENT)
        assert cell.source == original.source  # hidden tests included: autograde strips them later
        assert cell.metadata.nbgrader["checksum"] == original.checksum
    assert cell.cell_type == "code"
    assert cell.metadata.nbgrader == {"grade_id": "check-encode", "locked": True, "solution": False, "task": False,
                                      "grade": True, "points": 2, "schema_version": 3,
                                      "checksum": cell.metadata.nbgrader["checksum"]}


def test_the_first_locked_cell_comes_back_before_the_code_that_needs_it(released, resources):
    submitted = copy.deepcopy(released)
    del submitted.cells[1]  # the set-up cell (imports); nothing with a grade id precedes it
    nb = restored(submitted, resources)
    assert grade_ids(nb) == grade_ids(released)
    assert nb.cells[1].source == released.cells[1].source
    assert "points" not in nb.cells[1].metadata.nbgrader and not nb.cells[1].metadata.nbgrader["grade"]


def test_several_deleted_cells_come_back_in_released_order(released, resources):
    submitted = copy.deepcopy(released)
    for index in (6, 3, 1):  # check-decode, check-encode, setup-1
        del submitted.cells[index]
    assert grade_ids(restored(submitted, resources)) == grade_ids(released)


def test_a_deleted_solution_cell_does_not_come_back(released, resources):
    submitted = copy.deepcopy(released)
    del submitted.cells[5]  # decode: the student's own cell
    nb = restored(submitted, resources)
    assert nb == submitted


def test_nothing_changes_when_nothing_is_missing(released, resources):
    submitted = copy.deepcopy(released)
    submitted.cells[6].source = "2  # an edited check cell: OverwriteCells' business, not this one's"
    del submitted.cells[4]  # a demo cell
    assert restored(submitted, resources) == submitted


def test_without_the_released_file_the_gradebook_order_is_used(release, resources, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no lessons/ here
    released = release(lesson())
    submitted = copy.deepcopy(released)
    del submitted.cells[3]
    assert grade_ids(restored(submitted, resources)) == grade_ids(released)
