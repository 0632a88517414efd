"""SkipDemoCells and unskip: the kernel runs only set-up, solution and check cells; the tags come back as they were."""

from __future__ import annotations

import copy

from nbformat.v4 import new_markdown_cell

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.skip_demo_cells import SKIP_TAG, SkipDemoCells, unskip

from .tiny import check_cell, demo_cell, locked_cell, notebook, solution_cell


def submitted():
    return notebook(
        locked_cell("setup-1", "from autograder import check"),
        solution_cell("encode", "def encode(text):\n    return list(text)"),
        check_cell("check-encode", 'check("01.encode")'),
        demo_cell('print(encode("hi"))'),
        demo_cell("train_forever()", tags=["slow"]),
        demo_cell("plot()", tags=[SKIP_TAG]),  # the author already skips it
        new_markdown_cell("prose"),
    )


def test_demo_cells_are_tagged_and_nothing_else():
    nb = submitted()
    nb, resources = SkipDemoCells().preprocess(nb, {})
    assert [c.metadata.get("tags") for c in nb.cells] == [None, None, None, [SKIP_TAG], ["slow", SKIP_TAG], [SKIP_TAG],
                                                        None]
    assert [c.metadata.get(FLAGS_KEY) for c in nb.cells] == [None, None, None, {"skipped": True}, {"skipped": True},
                                                           None, None]
    assert isinstance(resources[FLAGS_KEY]["started"], float)  # GradeChecks reports the seconds since


def test_unskip_restores_the_cells_exactly():
    original = submitted()
    nb, _ = SkipDemoCells().preprocess(copy.deepcopy(original), {})
    unskip(nb)
    assert nb == original


def test_a_regular_nbgrader_cell_is_a_demo_too():
    cell = locked_cell("", "print(1)")
    cell.metadata.nbgrader["locked"] = False  # nbgrader's "-" cell type: metadata, nothing set
    nb, _ = SkipDemoCells().preprocess(notebook(cell), {})
    assert nb.cells[0].metadata.tags == [SKIP_TAG]
