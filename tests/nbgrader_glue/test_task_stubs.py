"""TaskStubs: a released stub names its task and gives the hint registered with the task's check."""

from __future__ import annotations

import pytest
from nbformat.v4 import new_markdown_cell

from autograder.nbgrader_glue.task_stubs import TaskStubs, enclosing_name
from autograder.tasks import get_task

from .tiny import check_cell, notebook, solution_cell


@pytest.fixture
def preprocessor():
    return TaskStubs(code_stub={"python": "raise NotImplementedError()"})  # as nbgrader_config.py sets it


def release(preprocessor, assignment, *cells):
    nb, _ = preprocessor.preprocess(notebook(*cells), {"nbgrader": {"assignment": assignment, "notebook": assignment}})
    return nb


def stub(task_id: str) -> str:
    task = get_task(task_id)
    return f"raise NotImplementedError({f'{task.id}: {task.hint}'!r})"


def test_a_function_stub_names_its_task_and_hint(preprocessor):
    nb = release(preprocessor, "01_chars", solution_cell("encode", '''def encode(text: str, stoi: dict[str, int]) -> list[int]:
    """Return the ids."""
    ### BEGIN SOLUTION
    return [stoi[ch] for ch in text]
    ### END SOLUTION'''))
    assert nb.cells[0].source == f'''def encode(text: str, stoi: dict[str, int]) -> list[int]:
    """Return the ids."""
    {stub("01.encode")}'''
    assert "01.encode: look up each character of text in stoi" in nb.cells[0].source


def test_a_method_stub_names_the_task_of_class_dot_method(preprocessor):
    nb = release(preprocessor, "07_self_attention", solution_cell("head", '''class Head(nn.Module):
    def __init__(self, head_size):
        super().__init__()
        self.head_size = head_size

    def forward(self, x):
        ### BEGIN SOLUTION
        return x
        ### END SOLUTION

    def extra(self):
        ### BEGIN SOLUTION
        return 1
        ### END SOLUTION'''))
    lines = nb.cells[0].source.split("\n")
    assert lines[6] == "        " + stub("07.head")
    assert lines[8] == "    def extra(self):"
    assert lines[9] == "        raise NotImplementedError('07: fill in Head.extra')"  # no task: the lesson fallback


def test_unknown_names_get_the_lesson_fallback(preprocessor):
    nb = release(preprocessor, "01_chars",
                 solution_cell("helper", "def helper(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
                 solution_cell("top", "### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION"))
    assert nb.cells[0].source == "def helper(x):\n    raise NotImplementedError('01: fill in helper')"
    assert nb.cells[1].source == "raise NotImplementedError('01: fill in this cell')"


def test_other_cells_are_left_alone(preprocessor):
    check = check_cell("check-01-encode", 'check("01.encode")')
    text = new_markdown_cell("### BEGIN SOLUTION\nan answer\n### END SOLUTION")
    text.metadata.nbgrader = {**check.metadata.nbgrader, "grade": False, "locked": False, "solution": True,
                              "grade_id": "essay"}
    nb = release(preprocessor, "01_chars", check, text)
    assert nb.cells[0].source == 'check("01.encode")'
    assert nb.cells[1].source == "YOUR ANSWER HERE"  # nbgrader's own text stub


def test_enclosing_name():
    lines = ["class A:", "    x = 1", "    class B:", "        def f(self):", "            pass", "def g():",
             "    pass", "top = 1"]
    assert enclosing_name(lines, 4) == "A.B.f"
    assert enclosing_name(lines, 1) == "A"
    assert enclosing_name(lines, 6) == "g"
    assert enclosing_name(lines, 7) == ""
