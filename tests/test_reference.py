"""reference.py: the compiled reference hands over the lessons it can read, and nothing hides a bug."""

from __future__ import annotations

import nbformat
import pytest

from autograder.notebook import LessonCells, NotebookReader
from autograder.reference import CompiledLessons
from autograder.source import Source


def lesson_folder(root, name: str, code: str) -> None:
    """root/<name>/<name>.ipynb with one set-up cell (locked, not graded: a definition cell)."""
    (root / name).mkdir(parents=True)
    cell = nbformat.v4.new_code_cell(code, metadata={"nbgrader": {"locked": True, "grade": False,
                                                                  "solution": False, "grade_id": "setup"}})
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), root / name / f"{name}.ipynb")


def test_a_lesson_that_cannot_be_read_is_left_out(tmp_path):
    lesson_folder(tmp_path, "01_chars", "VOCAB = 65\n")
    (tmp_path / "02_tokens").mkdir()
    (tmp_path / "02_tokens" / "02_tokens.ipynb").write_text('{"cells": [')  # cut short
    compiled = CompiledLessons.compile(Source(tmp_path), ["01", "02", "03"])  # 03: no such lesson
    assert compiled.ids() == ["01"]
    namespace: dict = {}
    for _, code in compiled.cells("01"):
        exec(code, namespace)  # the compiled reference cell, as the loader runs it
    assert namespace["VOCAB"] == 65


class BuggyStore(Source):
    """A lesson store with a bug: reading a lesson raises what no unreadable notebook raises."""

    def lesson_cells(self, lesson, reader: NotebookReader) -> LessonCells:
        raise TypeError("a bug in the store, not a missing lesson")


def test_a_bug_while_reading_a_lesson_is_not_swallowed(tmp_path):
    """A broad `except Exception` here once turned any bug into 'lesson not handed over': every
    later lesson would then fail for a reason nobody could see."""
    lesson_folder(tmp_path, "01_chars", "VOCAB = 65\n")
    with pytest.raises(TypeError, match="a bug in the store"):
        CompiledLessons.compile(BuggyStore(tmp_path), ["01"])
