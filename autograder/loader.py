"""Load a lesson notebook's definitions as a Python module.

Only the cells that define the lesson run: the graded solution cells (nbgrader `solution`) and the
locked set-up cells (nbgrader `locked`, not a check cell). Demo and exploration cells carry no
nbgrader metadata and are skipped, so loading is fast and has no side effects worth mentioning.

A lesson may use an earlier lesson's code with `load_lesson("07")` in a set-up cell. Such nested
loads follow the *dependency source* of the outer load: training your own GPT uses your own earlier
lessons all the way down, while grading uses the reference versions, so one early bug does not
fail every later lesson.
"""

from __future__ import annotations

import contextlib
import contextvars
import linecache
import os
import types
from pathlib import Path

import nbformat

from .paths import REPO_ROOT, lesson_dirs, lesson_id, lesson_notebook

# Set while a lesson is being loaded: where nested load_lesson() calls look, and what they loaded.
_deps: contextvars.ContextVar[tuple[str, dict] | None] = contextvars.ContextVar("_deps", default=None)


class LessonLoadError(Exception):
    """A notebook that cannot be loaded; the message names the file and the cell."""


def definition_cells(nb) -> list[tuple[int, str]]:
    """(index, source) of the cells that define a lesson, in notebook order."""
    cells = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        if meta.get("solution") or (meta.get("locked") and not meta.get("grade")):
            cells.append((index, cell.source))
    return cells


def _strip_magics(source: str) -> str:
    # `%matplotlib inline` or `!pip install` mean nothing outside Jupyter; keep line numbers intact.
    return "\n".join(
        "pass  # " + line.strip() if line.lstrip().startswith(("%", "!")) else line
        for line in source.split("\n")
    )


def read_notebook(path: Path):
    """Read a notebook with nbformat, turning every way it can be broken into one clear error."""
    if path.is_dir():
        raise LessonLoadError(f"{path}: is a folder, not a notebook file")
    try:
        with open(path, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
    except FileNotFoundError:
        raise LessonLoadError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise LessonLoadError(f"{path}: cannot be read ({err.__class__.__name__}: {err})") from None
    except Exception as err:  # nbformat raises several JSON/validation errors
        first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
        raise LessonLoadError(f"{path}: not a valid notebook ({first})") from None
    if not isinstance(nb.get("cells"), list):
        raise LessonLoadError(f"{path}: not a valid notebook (no cells)")
    return nb


def _default_source() -> str:
    """Where load_lesson looks when not told: the tree the current notebook is in."""
    if os.environ.get("GPT_COURSE_SOURCE"):
        return os.environ["GPT_COURSE_SOURCE"]
    with contextlib.suppress(OSError):
        if Path.cwd().resolve().is_relative_to(REPO_ROOT / "solutions"):
            return "solutions"
    return "lessons"


def _resolve_deps(deps: str) -> str:
    # "reference" means the instructor's solutions when they are here (they are not in a student
    # release); without them the student's own earlier lessons are the best there is.
    if deps == "reference":
        return "solutions" if lesson_dirs("solutions") else "lessons"
    return deps


def load_lesson(lesson, source: str | os.PathLike | None = None,
                deps: str | os.PathLike | None = None) -> types.ModuleType:
    """Load a lesson notebook's definitions as a module.

    lesson: "01", 1, "01_chars", or a path to an .ipynb file.
    source: "lessons" (your notebooks), "solutions" (the reference), or a folder of lesson folders.
            Default: the outer load's dependency source, else $GPT_COURSE_SOURCE, else the tree the
            current working directory is in, else "lessons".
    deps:   where this lesson's own load_lesson() calls look: a source as above, or "reference"
            (solutions/ when present). Default: the same as source.
    """
    outer = _deps.get()
    if source is None:
        source = outer[0] if outer else _default_source()
    source = _resolve_deps(str(source))
    path = lesson_notebook(lesson, source)
    deps = _resolve_deps(str(deps)) if deps is not None else (outer[0] if outer else source)
    cache = outer[1] if outer else {}

    key = (str(path.resolve()), deps)
    if key in cache:
        return cache[key]

    nb = read_notebook(path)
    lid = lesson_id(path.parent.name if path.parent.name[:2].isdigit() else path.stem)
    module = types.ModuleType(f"lesson{lid}", f"Definitions of {path}")
    module.__file__ = str(path)
    token = _deps.set((deps, cache))
    try:
        for index, source_text in definition_cells(nb):
            filename = f"{path}#cell{index}"
            code_text = _strip_magics(source_text)
            linecache.cache[filename] = (len(code_text), None, code_text.splitlines(True), filename)
            try:
                code = compile(code_text, filename, "exec")
            except SyntaxError as err:
                raise LessonLoadError(
                    f"{path.name}, cell {index}: SyntaxError on line {err.lineno}: {err.msg}") from None
            try:
                exec(code, module.__dict__)
            except LessonLoadError:
                raise
            except Exception as err:
                raise LessonLoadError(
                    f"{path.name}, cell {index}: {err.__class__.__name__}: {err}") from err
    finally:
        _deps.reset(token)
    cache[key] = module
    return module
