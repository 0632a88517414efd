"""What the plug-ins need to know about a lesson notebook's cells: check cells and hidden tests."""

from __future__ import annotations

import copy

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import is_grade

from ..notebook import CHECK_CALL

_HIDDEN = ClearHiddenTests()  # nbgrader's own delimiters and region logic


def check_task_id(cell) -> str | None:
    """'01.encode' for a check cell `check("01.encode")` (hidden tests may surround it)."""
    if cell.cell_type != "code" or not is_grade(cell):
        return None
    match = CHECK_CALL.search(cell.source)
    return match.group(1) if match else None


def check_source(task_id: str) -> str:
    """The line a check cell runs: `check("01.encode")` (CHECK_CALL reads it back)."""
    return f'check("{task_id}")'


def check_grade_id(task_id: str) -> str:
    """The nbgrader grade_id of a task's check cell: 'check-01-encode'."""
    return "check-" + task_id.replace(".", "-", 1)


def without_hidden_tests(source: str) -> str:
    """The source as released: nbgrader's ClearHiddenTests applied to it."""
    cell = NotebookNode(cell_type="code", source=source, metadata={})
    _HIDDEN._remove_hidden_test_region(cell)
    return cell.source


def hidden_code(source: str) -> str:
    """The code inside a cell's hidden test regions (marker lines left out), in order."""
    kept, inside = [], False
    for line in source.split("\n"):
        if _HIDDEN.begin_test_delimeter in line:
            inside = True
        elif _HIDDEN.end_test_delimeter in line:
            inside = False
        elif inside:
            kept.append(line)
    return "\n".join(kept)


def hidden_tests(source, lessons: list[str]) -> dict[str, str]:
    """{task id: hidden test code} from the check cells of `source`'s notebooks (an autograder.source.Source):
    what the Gradescope zip carries and grade-class runs, from the instructor's solutions/."""
    hidden = {}
    for lid in lessons:
        for cell in nbformat.read(source.notebook(lid), as_version=4).cells:
            task = check_task_id(cell)
            code = hidden_code(cell.source) if task else ""
            if code.strip():
                hidden[task] = code
    return hidden


def hidden_lines(source: str) -> list[str]:
    """The non-blank lines of a cell's hidden tests, stripped (what must never reach a student)."""
    return [line.strip() for line in hidden_code(source).split("\n") if line.strip()]


def is_demo_cell(cell) -> bool:
    """A code cell nbgrader knows nothing of (no solution, locked or grade flag): a lesson's demo."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and not (meta.get("solution") or meta.get("locked") or meta.get("grade"))


def without_any_hidden_tests(nb) -> NotebookNode:
    """A copy of the notebook with every cell's hidden tests removed: what student code may see."""
    clean = copy.deepcopy(nb)
    for cell in clean.cells:
        if cell.cell_type == "code" and hidden_code(cell.source).strip():
            cell.source = without_hidden_tests(cell.source)
    return clean


def with_answers(release, reference, grade_ids=None):
    """A copy of a released notebook whose answer cells hold the reference's code (markers dropped):
    what a student who solved those cells hands in. grade_ids: which cells (default: all)."""
    import json

    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in reference.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers \
                and (grade_ids is None or grade_id in grade_ids):
            cell.source = "\n".join(line for line in answers[grade_id].split("\n")
                                    if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    return nb
