"""Which lesson an uploaded notebook is: what run_autograder and the capstone leaderboard both ask.

Notebooks are matched by their check cells (`check("01.encode")`), so a student may name the file
anything ("01_chars (2).ipynb", "lesson1.ipynb"); without one, the file name decides.
"""

from __future__ import annotations

from pathlib import Path

from ..loader import LessonLoadError, Loader
from ..notebook import cell_text, check_calls
from ..paths import LessonNotFound, lesson_id
from ..printable import printable


def lesson_of(path: Path, loader: Loader) -> tuple[str | None, str]:
    """(lesson id, problem): from the notebook's check cells, else from its file name."""
    try:
        nb = loader.read_notebook(path)
    except LessonLoadError as err:
        problem = printable(str(err).replace(str(path), path.name))  # not the private copy's path
    else:
        found = sorted({task[:2] for cell in nb.cells for task in check_calls(cell_text(cell))})
        if len(found) == 1:
            return found[0], ""
        problem = printable(f"{path.name}: its check cells name {'no lesson' if not found else 'several lessons'}")
    try:
        return lesson_id(path.name), problem
    except LessonNotFound:
        return None, problem
