"""FlagEditedCells: locked cells a student edited, re-checksummed or deleted are put on the report."""

from __future__ import annotations

import copy

import pytest
from nbgrader.utils import compute_checksum

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.flag_edited_cells import FlagEditedCells

from .tiny import lesson


@pytest.fixture
def released(release):
    return release(lesson())


def flagged(nb, resources) -> list[str]:
    nb, _ = FlagEditedCells().preprocess(copy.deepcopy(nb), resources)
    return nb.metadata[FLAGS_KEY]["edited_locked_cells"]


def test_untouched_release_flags_nothing(released, resources):
    assert flagged(released, resources) == []  # the check cell whose hidden tests were cleared included


def test_a_solved_notebook_flags_nothing(released, resources):
    released.cells[2].source = "def encode(text):\n    return list(text.encode())"
    released.cells[4].source = "print('my own demo')"
    assert flagged(released, resources) == []


def test_an_edited_locked_cell_is_flagged(released, resources):
    released.cells[6].source = "2  # full marks please"
    released.cells[1].source += "\nimport os"
    assert flagged(released, resources) == ["setup-1", "check-decode"]


def test_a_rewritten_checksum_is_flagged(released, resources):
    cell = released.cells[6]
    cell.source = "check = lambda task: 2\n" + cell.source
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)  # the student covered their tracks
    assert flagged(released, resources) == ["check-decode"]


def test_a_deleted_locked_cell_is_flagged(released, resources):
    del released.cells[3]  # check-encode
    del released.cells[2]  # encode: a solution cell, which the student may do without
    assert flagged(released, resources) == ["check-encode (deleted)"]


def test_the_record_replaces_an_earlier_one(released, resources):
    released.metadata[FLAGS_KEY] = {"edited_locked_cells": ["check-encode"], "forged": True}
    assert flagged(released, resources) == []
