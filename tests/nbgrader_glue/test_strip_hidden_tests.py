"""StripHiddenTests: hidden tests leave the notebook before it runs; the originals wait in resources."""

from __future__ import annotations

import copy

from autograder.nbgrader_glue.commands import FLAGS_KEY
from autograder.nbgrader_glue.strip_hidden_tests import StripHiddenTests

from .tiny import HIDDEN, HIDDEN_MARK, check_cell, demo_cell, lesson, notebook


def test_hidden_regions_are_removed_and_kept_by_cell_index():
    source = lesson()  # as OverwriteCells leaves it: the check cell holds its hidden tests again
    nb, resources = StripHiddenTests().preprocess(copy.deepcopy(source), {})
    assert nb.cells[3].source == 'check("01.encode")'
    assert resources[FLAGS_KEY]["hidden"] == {3: source.cells[3].source}
    assert HIDDEN_MARK not in str(nb)


def test_cells_without_hidden_tests_are_untouched():
    source = lesson()
    nb, _ = StripHiddenTests().preprocess(copy.deepcopy(source), {})
    assert [c for i, c in enumerate(nb.cells) if i != 3] == [c for i, c in enumerate(source.cells) if i != 3]
    assert nb.cells[3].metadata == source.cells[3].metadata


def test_several_hidden_cells_and_earlier_flags():
    source = notebook(check_cell("a", HIDDEN + 'check("01.encode")'), demo_cell("x = 1"),
                      check_cell("b", 'check("01.decode")\n' + HIDDEN))
    resources = {FLAGS_KEY: {"started": 1.0}}
    nb, resources = StripHiddenTests().preprocess(copy.deepcopy(source), resources)
    assert [c.source for c in nb.cells] == ['check("01.encode")', "x = 1", 'check("01.decode")\n']
    assert resources[FLAGS_KEY] == {"started": 1.0, "hidden": {0: source.cells[0].source, 2: source.cells[2].source}}
