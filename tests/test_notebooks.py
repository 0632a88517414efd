"""The solution notebooks run top to bottom in a real Jupyter kernel (cells tagged `slow` skipped)."""

import copy

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.source import lesson_dirs

SOLUTIONS = lesson_dirs("solutions")


@pytest.mark.slow
@pytest.mark.parametrize("lid", sorted(SOLUTIONS))
def test_solution_notebook_executes(lid):
    folder = SOLUTIONS[lid]
    nb = nbformat.read(folder / f"{folder.name}.ipynb", as_version=4)
    runnable = copy.deepcopy(nb)
    runnable.cells = [c for c in nb.cells if "slow" not in c.metadata.get("tags", [])]
    client = NotebookClient(runnable, timeout=300, kernel_name="gpt-course",
                            resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    printed = "".join(o.get("text", "") for c in runnable.cells if c.cell_type == "code" for o in c.outputs)
    assert "FAIL" not in printed and "TODO" not in printed, "a check cell did not pass on the reference"
