"""HideHiddenTests: feedback shows neither a hidden test's code nor an output that quotes it."""

from __future__ import annotations

import copy

from nbformat.v4 import new_output

from autograder.nbgrader_glue.hide_hidden_tests import HideHiddenTests

from .tiny import HIDDEN, HIDDEN_MARK, check_cell, notebook

NOTE = "(output of a hidden check, not shown)\n"


def autograded(*outputs, source=HIDDEN + 'check("01.encode")'):
    cell = check_cell("check-encode", source, points=2)
    cell.outputs = list(outputs)
    return notebook(cell)


def feedback(nb):
    nb, _ = HideHiddenTests().preprocess(copy.deepcopy(nb), {})
    return nb.cells[0]


def test_the_hidden_region_is_gone_from_the_source():
    verdict = new_output("stream", name="stdout", text="PASS 01.encode (2/2 points)\n")
    score = new_output("execute_result", data={"text/plain": "2.0"}, execution_count=3)
    cell = feedback(autograded(verdict, score))
    assert cell.source == 'check("01.encode")'
    assert cell.outputs == [verdict, score]  # outputs quoting nothing hidden stay as they were


def test_an_output_quoting_a_hidden_line_is_replaced():
    quoted = f"assert encode(\"zz\") == [122, 122], '{HIDDEN_MARK}'"  # both kinds of quotes in one line
    cell = feedback(autograded(
        new_output("stream", name="stdout", text="PASS 01.encode (2/2 points)\n"),
        new_output("stream", name="stderr", text=f"the test was:\n{quoted}\n"),
        new_output("display_data", data={"text/plain": f"'{quoted}'", "text/html": "<pre>...</pre>"}),
        new_output("error", ename="AssertionError", evalue=HIDDEN_MARK,
                   traceback=[f"\x1b[0;31m{quoted[:6]}\x1b[0m{quoted[6:]}"]),
    ))
    assert [o.get("text") for o in cell.outputs] == ["PASS 01.encode (2/2 points)\n", NOTE, NOTE, NOTE]
    assert HIDDEN_MARK not in str(cell)


def test_a_cell_without_hidden_tests_keeps_its_outputs():
    output = new_output("stream", name="stdout", text="anything\n")
    cell = feedback(autograded(output, source='check("01.decode")'))
    assert cell.source == 'check("01.decode")' and cell.outputs == [output]
