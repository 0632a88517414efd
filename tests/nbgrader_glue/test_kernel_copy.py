"""kernel_copy: what JailedExecute's kernel runs -- no hidden tests, demo cells skipped -- while the
notebook itself (the instructor's record) is left exactly as it was."""

from __future__ import annotations

import copy

from nbformat.v4 import new_markdown_cell

from autograder.nbgrader_glue.cells import is_demo_cell, without_any_hidden_tests
from autograder.nbgrader_glue.jailed_execute import SKIP_TAG, kernel_copy

from .tiny import HIDDEN, HIDDEN_MARK, check_cell, demo_cell, lesson, locked_cell, notebook, solution_cell


def submitted():
    return notebook(
        locked_cell("setup-1", "from autograder import check"),
        solution_cell("encode", "def encode(text):\n    return list(text)"),
        check_cell("check-encode", HIDDEN + 'check("01.encode")'),
        demo_cell('print(encode("hi"))'),
        demo_cell("train_forever()", tags=["slow"]),
        new_markdown_cell("prose"),
    )


def test_the_kernel_gets_no_hidden_test_and_skips_demo_cells_only():
    original = submitted()
    run = kernel_copy(original)
    assert HIDDEN_MARK not in str(run) and run.cells[2].source == 'check("01.encode")'
    assert [c.metadata.get("tags") for c in run.cells] == [None, None, None, [SKIP_TAG], ["slow", SKIP_TAG], None]


def test_the_notebook_itself_is_untouched():
    original = submitted()
    before = copy.deepcopy(original)
    kernel_copy(original)
    without_any_hidden_tests(original)
    assert original == before


def test_hidden_regions_anywhere_in_a_cell_are_removed_and_other_cells_kept():
    source = notebook(check_cell("a", HIDDEN + 'check("01.encode")'), demo_cell("x = 1"),
                      check_cell("b", 'check("01.decode")\n' + HIDDEN))
    clean = without_any_hidden_tests(source)
    assert [c.source for c in clean.cells] == ['check("01.encode")', "x = 1", 'check("01.decode")\n']
    assert HIDDEN_MARK not in str(clean) and HIDDEN_MARK in str(source)
    assert str(without_any_hidden_tests(lesson())).count(HIDDEN_MARK) == 0


def test_a_regular_nbgrader_cell_is_a_demo_too():
    cell = locked_cell("", "print(1)")
    cell.metadata.nbgrader["locked"] = False  # nbgrader's "-" cell type: metadata, nothing set
    assert is_demo_cell(cell) and not is_demo_cell(locked_cell("setup", "x = 1"))
    assert kernel_copy(notebook(cell)).cells[0].metadata.tags == [SKIP_TAG]
