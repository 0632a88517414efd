"""Tiny notebooks for the plug-ins' unit tests, built as nbgrader's tests/preprocessors/ build theirs.

A test writes a few cells with nbgrader metadata, "releases" them the way generate_assignment does
(the cells recorded in a gradebook by nbgrader's own SaveCells, hidden tests then cleared), and runs
one plug-in's preprocess(nb, resources) with the resources nbgrader passes it.
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.nbgraderformat import SCHEMA_VERSION

ASSIGNMENT = NOTEBOOK = "ps0"
STUDENT = "alice"


def _nbgrader(cell, grade_id, *, grade=False, solution=False, locked=False, points=None):
    cell.metadata.nbgrader = {"grade": grade, "grade_id": grade_id, "locked": locked, "solution": solution,
                              "task": False, "schema_version": SCHEMA_VERSION}
    if points is not None:
        cell.metadata.nbgrader["points"] = points
    return cell


def check_cell(grade_id, source, points=1):
    """A check cell: locked, graded, worth `points` (the course's check("NN.task") cells)."""
    return _nbgrader(new_code_cell(source), grade_id, grade=True, locked=True, points=points)


def solution_cell(grade_id, source):
    return _nbgrader(new_code_cell(source), grade_id, solution=True)


def locked_cell(grade_id, source, cell_type="code"):
    """A set-up cell (code) or a locked explanation (markdown)."""
    cell = new_code_cell(source) if cell_type == "code" else new_markdown_cell(source)
    return _nbgrader(cell, grade_id, locked=True)


def demo_cell(source, **metadata):
    """A cell without nbgrader metadata: a demo a student may run and change."""
    return new_code_cell(source, metadata=metadata)


def notebook(*cells):
    nb = new_notebook(cells=list(cells))
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def grade_ids(nb) -> list:
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


HIDDEN_MARK = "hidden-mark-p4z"  # appears only inside the hidden tests below
HIDDEN = f"""### BEGIN HIDDEN TESTS
assert encode("zz") == [122, 122], '{HIDDEN_MARK}'
### END HIDDEN TESTS
"""


def lesson():
    """A source notebook in the course's shape: set-up, solution and check cells, one with hidden tests."""
    return notebook(
        new_markdown_cell("# Lesson 00"),
        locked_cell("setup-1", "from autograder import check"),
        solution_cell("encode", "def encode(text):\n    ### BEGIN SOLUTION\n    return [ord(c) for c in text]\n"
                                "    ### END SOLUTION"),
        check_cell("check-encode", HIDDEN + 'check("01.encode")', points=2),
        demo_cell('print(encode("hi"))'),
        solution_cell("decode", "def decode(ids):\n    ### BEGIN SOLUTION\n    return ''.join(map(chr, ids))\n"
                                "    ### END SOLUTION"),
        check_cell("check-decode", 'check("01.decode")', points=2),
    )
