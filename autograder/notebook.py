"""How a lesson notebook is read: the one module that knows a notebook's file, cells and text.

    reader = NotebookReader()
    nb = reader.read(path)                  # file checks, then nbformat; kept while the file is unchanged
    for cell in definition_cells(nb): ...   # the set-up and solution cells a lesson is made of
    load_calls(cell.code)                   # ["07"] for `L07 = load_lesson("07")`
    check_calls(cell_text(cell))            # ["01.encode"] for a check cell `check("01.encode")`

A *lesson store* (`Lessons`) is where a lesson's definition cells come from: a folder of lesson
notebooks (source.Source) or the compiled reference the grading jail gets (reference.CompiledLessons).
The loader runs cells from either through this one interface; the capstone reads the lesson graph
(`dependencies`) through it too.

Nothing here runs a cell: this is the bottom layer (it imports only paths and submission_files).
"""

from __future__ import annotations

import ast
import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

# jsonschema (imported by nbformat) builds an IRI grammar at import time when rfc3987_syntax is
# installed: seconds of start-up, in the grader and in every notebook's first cell, for a string
# format notebooks never use. Without it jsonschema simply skips that format.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402 - after the jsonschema start-up fix above

from . import submission_files  # noqa: E402
from .paths import LessonNotFound, lesson_id  # noqa: E402

MAX_NOTEBOOK_BYTES = submission_files.MAX_FILE_BYTES
SUFFIX = ".ipynb"


class LessonLoadError(Exception):
    """A notebook that cannot be loaded; the message names the file and the cell."""


def is_notebook_path(lesson) -> bool:
    """True for a path to a notebook file ("lessons/01_chars/01_chars.ipynb"), False for a lesson id ("01")."""
    return str(lesson).endswith(SUFFIX)


# -- cells ----------------------------------------------------------------------------------------

def cell_kind(cell) -> str | None:
    """'solution', 'setup' or None (demo, markdown, check) for a notebook cell."""
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return None
    meta = cell.get("metadata", {})
    meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("solution"):
        return "solution"
    if meta.get("locked") and not meta.get("grade"):
        return "setup"
    return None


def cell_text(cell) -> str:
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return source if isinstance(source, str) else ""


def strip_magics(source: str) -> str:
    # `%matplotlib inline` or `!pip install` mean nothing outside Jupyter; keep line numbers intact.
    return "\n".join(
        "pass  # " + line.strip() if line.lstrip().startswith(("%", "!")) else line
        for line in source.split("\n")
    )


_DEFINES = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)|^(\w+)\s*(?::[^=]+)?=(?!=)", re.MULTILINE)


def defined_names(source: str) -> set[str]:
    """Top-level names a cell's source defines (def, class, plain assignment), read without running it."""
    return {a or b for a, b in _DEFINES.findall(source)}


def called_name(call: ast.Call) -> str:
    """'load_lesson' for `load_lesson(...)` and for `autograder.load_lesson(...)`."""
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def load_calls(code: str | ast.AST) -> list[str]:
    """Lesson ids of the `load_lesson("NN")` calls in a cell's code (a cell that does not parse has none)."""
    if isinstance(code, str):
        try:
            code = ast.parse(code)
        except SyntaxError:
            return []
    found = []
    for node in ast.walk(code):
        if isinstance(node, ast.Call) and called_name(node) == "load_lesson" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, (str, int)) \
                    and not isinstance(arg.value, bool) and not is_notebook_path(arg.value):
                try:
                    found.append(lesson_id(arg.value))
                except LessonNotFound:
                    pass
    return found


# A check cell's line as the release writes it (nbgrader_glue/cells.check_source): `check("01.encode")`
# on a line of its own (in the instructor's source, hidden tests may surround it). The one definition:
# the nbgrader plug-ins and the Gradescope autograder (which lesson an upload is) both read it here.
CHECK_CALL = re.compile(r"""^\s*check\(\s*["'](\d\d\.[\w.]+)["']\s*\)\s*$""", re.MULTILINE)


def check_calls(source: str) -> list[str]:
    """Task ids of a cell's `check("01.encode")` lines, in order."""
    return CHECK_CALL.findall(source)


@dataclass(frozen=True)
class Cell:
    """One definition cell of a lesson, ready to run."""
    index: int  # its position in the notebook
    kind: str  # "solution" (a broken one costs what it defines) or "setup" (a broken one fails the lesson)
    where: str  # how messages name it: "01_chars.ipynb, cell 5", "reference lesson 01, cell 5"
    code: str | CodeType  # source text (magics made harmless), or compiled code (the reference)
    filename: str = ""  # for compile() and tracebacks: "<path>#cell5" (where_in_notebook reads it)


CELL_MARK = "#cell"


def cell_filename(path: Path, index: int) -> str:
    return f"{path}{CELL_MARK}{index}"


def definition_cells(nb, path: Path | None = None) -> list[Cell]:
    """The cells that define a lesson (set-up and solution cells), in notebook order."""
    name = path.name if path is not None else "notebook"
    return [Cell(index, kind, f"{name}, cell {index}", strip_magics(cell_text(cell)),
                 cell_filename(path, index) if path is not None else f"<cell {index}>")
            for index, cell in enumerate(nb.cells) if (kind := cell_kind(cell))]


# -- the file ---------------------------------------------------------------------------------------

def parse_notebook(path: Path, text: str):
    """A notebook from its JSON text, turning every way it can be broken into one clear error."""
    try:
        data = json.loads(text)
    except ValueError as err:
        where = f" at line {err.lineno}, column {err.colno}" if hasattr(err, "lineno") else ""
        raise LessonLoadError(f"{path}: not a valid notebook (broken JSON{where}: was it cut short "
                              f"or edited by hand?)") from None
    except RecursionError:
        raise LessonLoadError(f"{path}: not a valid notebook (JSON nested too deeply)") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells", data.get("worksheets")), list):
        raise LessonLoadError(f"{path}: not a valid notebook (no list of cells)")
    version = data.get("nbformat")
    if version not in (3, 4):
        shown = f" {version}" if isinstance(version, int) and not isinstance(version, bool) else ""
        raise LessonLoadError(f"{path}: notebook format{shown} is not supported (expected 4)")
    errors: dict = {}
    quiet = logging.getLogger("traitlets")  # nbformat logs validation problems; the error says enough
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error=errors)
    except Exception:  # noqa: BLE001 - nbformat raises several conversion/validation errors
        # A fixed phrase: nbformat's messages quote the notebook's bytes.
        raise LessonLoadError(f"{path}: not a valid notebook (it does not follow the notebook format)") from None
    finally:
        quiet.setLevel(level)
    if not isinstance(nb.get("cells"), list):
        raise LessonLoadError(f"{path}: not a valid notebook (no cells)")
    return nb


class NotebookReader:
    """Reads notebook files with nbformat, each kept while the file is unchanged (forked children get
    them for free). Only a regular file is read, never through a link (submission_files.py says why)."""

    def __init__(self):
        self._read: dict[str, tuple[tuple[int, int], object]] = {}  # parsed notebooks, by real path

    def read(self, path: Path):
        path = Path(path)
        why = submission_files.problem(path, hard_links=True)
        if why:
            plain_only = "" if why in ("file not found", "is a folder, not a notebook file") or \
                why.startswith("cannot") else f" ({submission_files.PLAIN_ONLY})"
            raise LessonLoadError(f"{path}: {why}{plain_only}")
        info = os.stat(path, follow_symlinks=False)
        if info.st_size == 0:
            raise LessonLoadError(f"{path}: is empty (0 bytes): restore it from your backup or `git checkout`")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise LessonLoadError(f"{path}: is larger than {MAX_NOTEBOOK_BYTES >> 20} MB: clear its outputs")
        key, stamp = os.path.realpath(path), (info.st_mtime_ns, info.st_size)
        if key in self._read and self._read[key][0] == stamp:
            return self._read[key][1]
        try:
            text = submission_files.read_plain(path, hard_links=True, limit=MAX_NOTEBOOK_BYTES).decode("utf-8")
        except UnicodeDecodeError as err:
            raise LessonLoadError(f"{path}: cannot be read (not UTF-8 text: {err.reason})") from None
        except submission_files.NotPlainFile as err:
            raise LessonLoadError(f"{err} ({submission_files.PLAIN_ONLY})") from None
        nb = parse_notebook(path, text)
        self._read[key] = (stamp, nb)
        return nb

    def forget_all_but(self, path: Path | None) -> None:
        """Drop every parsed notebook except `path`'s (a graded task's child keeps only its own)."""
        keep = os.path.realpath(path) if path is not None else None
        self._read = {k: v for k, v in self._read.items() if k == keep}


# -- where lessons come from ------------------------------------------------------------------------

@dataclass
class LessonCells:
    """What a lesson store hands the loader: the lesson's id, a name for its module, its cells."""
    lesson: str
    origin: str  # the notebook's path, or "reference 01_chars"
    cells: list[Cell]


class Lessons:
    """A lesson store: a folder of lesson notebooks (source.Source) or compiled reference lessons
    (reference.CompiledLessons). The loader and the capstone read lessons through these methods only."""

    key: str  # identity for caches: the same key, the same lessons
    reference: bool = False  # the instructor's reference (solutions/ or its compiled cells)

    def ids(self) -> list[str]:
        """The lesson ids this store holds, in order."""
        raise NotImplementedError

    def lesson_cells(self, lesson, reader: NotebookReader) -> LessonCells:
        """A lesson's definition cells (lesson: an id, or a path to a notebook file)."""
        raise NotImplementedError

    def cache_key(self, lesson) -> str:
        """What a loaded lesson is kept under within one load (a notebook's real path, or the id)."""
        raise NotImplementedError

    def dependencies(self, lesson, reader: NotebookReader) -> list[str]:
        """The lessons this lesson's definition cells load (`load_lesson("07")`), in cell order."""
        found = []
        for cell in self.lesson_cells(lesson, reader).cells:
            if isinstance(cell.code, str):
                found += [lid for lid in load_calls(cell.code) if lid not in found]
        return found

    def lesson_graph(self, roots, reader: NotebookReader) -> list[str]:
        """`roots` and every lesson they load, directly or not, each after the lessons it loads.

        A lesson that cannot be read ends its branch (whoever loads it reports why)."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(lesson: str) -> None:
            if lesson in seen:
                return
            seen.add(lesson)
            try:
                deps = self.dependencies(lesson, reader)
            except (LessonLoadError, LessonNotFound):
                deps = []
            for dep in deps:
                visit(dep)
            order.append(lesson)

        for root in roots:
            visit(lesson_id(root))
        return order
