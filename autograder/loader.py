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
import json
import linecache
import logging
import os
import stat
import sys
import types
from pathlib import Path

# jsonschema (imported by nbformat) builds an IRI grammar at import time when rfc3987_syntax is
# installed: seconds of start-up, in the grader and in every notebook's first cell, for a string
# format notebooks never use. Without it jsonschema simply skips that format.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402

from .paths import REPO_ROOT, lesson_dirs, lesson_id, lesson_notebook

# Set while a lesson is being loaded: where nested load_lesson() calls look, and what they loaded.
_deps: contextvars.ContextVar[tuple[str, dict] | None] = contextvars.ContextVar("_deps", default=None)


class LessonLoadError(Exception):
    """A notebook that cannot be loaded; the message names the file and the cell."""


MAX_NOTEBOOK_BYTES = 100 << 20
# Reference lessons the grader loaded once for its sandboxed children: {(source, lesson id): module}
# (or the LessonLoadError to raise). See preload(); nested load_lesson() calls look here first.
_preloaded: dict[tuple[str, str], types.ModuleType | LessonLoadError] = {}
_read_cache: dict[str, tuple[tuple[int, int], object]] = {}


def definition_cells(nb) -> list[tuple[int, str]]:
    """(index, source) of the cells that define a lesson, in notebook order."""
    cells = []
    for index, cell in enumerate(nb.cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        meta = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        meta = meta if isinstance(meta, dict) else {}
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        if not isinstance(source, str):
            continue
        if meta.get("solution") or (meta.get("locked") and not meta.get("grade")):
            cells.append((index, source))
    return cells


def _strip_magics(source: str) -> str:
    # `%matplotlib inline` or `!pip install` mean nothing outside Jupyter; keep line numbers intact.
    return "\n".join(
        "pass  # " + line.strip() if line.lstrip().startswith(("%", "!")) else line
        for line in source.split("\n")
    )


def read_notebook(path: Path):
    """Read a notebook with nbformat, turning every way it can be broken into one clear error.

    The result is kept while the file is unchanged, so the grader reads each notebook once and its
    children (forked) get it for free.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise LessonLoadError(f"{path}: file not found") from None
    except OSError as err:
        raise LessonLoadError(f"{path}: cannot be read ({err.strerror or err})") from None
    if stat.S_ISDIR(info.st_mode):
        raise LessonLoadError(f"{path}: is a folder, not a notebook file")
    if not stat.S_ISREG(info.st_mode):
        raise LessonLoadError(f"{path}: is not a regular file (a pipe or a device?)")
    if info.st_size == 0:
        raise LessonLoadError(f"{path}: is empty (0 bytes): restore it from your backup or `git checkout`")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise LessonLoadError(f"{path}: is larger than {MAX_NOTEBOOK_BYTES >> 20} MB: clear its outputs")
    key, stamp = os.path.realpath(path), (info.st_mtime_ns, info.st_size)
    if key in _read_cache and _read_cache[key][0] == stamp:
        return _read_cache[key][1]
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8")
    except UnicodeDecodeError as err:
        raise LessonLoadError(f"{path}: cannot be read (not UTF-8 text: {err.reason})") from None
    except OSError as err:
        raise LessonLoadError(f"{path}: cannot be read ({err.strerror or err})") from None
    nb = _parse_notebook(path, text)
    _read_cache[key] = (stamp, nb)
    return nb


def _parse_notebook(path: Path, text: str):
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
        raise LessonLoadError(f"{path}: notebook format {version!r} is not supported (expected 4)")
    errors: dict = {}
    quiet = logging.getLogger("traitlets")  # nbformat logs validation problems; the error says enough
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error=errors)
    except Exception as err:  # noqa: BLE001 - nbformat raises several conversion/validation errors
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else err.__class__.__name__
        raise LessonLoadError(f"{path}: not a valid notebook ({first})") from None
    finally:
        quiet.setLevel(level)
    if not isinstance(nb.get("cells"), list):
        raise LessonLoadError(f"{path}: not a valid notebook (no cells)")
    return nb


def preload(lessons, source: str = "solutions") -> None:
    """Load these lessons of `source` (with nested loads from it too) once, for later loads to reuse.

    The grader does this for the reference lessons before forking a child: the child inherits them
    and can run a later lesson's set-up cells while its sandbox hides solutions/. A lesson that fails
    to load is remembered as its error.
    """
    for lid in lessons:
        key = (str(source), lesson_id(lid))
        if key not in _preloaded:
            try:
                _preloaded[key] = load_lesson(lid, source=source, deps=source)
            except Exception as err:  # noqa: BLE001 - reported where the lesson is used
                _preloaded[key] = LessonLoadError(f"the {source} version of lesson {key[1]} could not be loaded: {err}")


def forget_other_notebooks(keep) -> None:
    """Drop every parsed notebook read_notebook() kept, except `keep`'s."""
    keep = os.path.realpath(keep)
    for key in [k for k in _read_cache if k != keep]:
        del _read_cache[key]


def forget_preloaded(from_lesson: str) -> None:
    """Drop preloaded lessons numbered from_lesson or later, and the cell sources linecache kept."""
    dropped = {key: mod for key, mod in _preloaded.items() if key[1] >= from_lesson}
    for key in dropped:
        del _preloaded[key]
    from .paths import source_dir

    roots = {str(source_dir(key[0]).resolve()) for key in dropped} | {str((REPO_ROOT / "solutions").resolve())}
    for filename in [f for f in linecache.cache if isinstance(f, str) and "#cell" in f]:
        folder = Path(filename.rsplit("#cell", 1)[0]).parent
        with contextlib.suppress(LookupError):
            if str(folder.parent) in roots and lesson_id(folder.name) >= from_lesson:
                del linecache.cache[filename]


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
    deps = _resolve_deps(str(deps)) if deps is not None else (outer[0] if outer else source)
    if deps == source and not str(lesson).endswith(".ipynb"):
        preloaded = _preloaded.get((source, lesson_id(lesson)))
        if isinstance(preloaded, LessonLoadError):
            raise preloaded
        if preloaded is not None:
            return preloaded
    path = lesson_notebook(lesson, source)
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
                # dont_inherit: this module's `from __future__ import annotations` must not turn the
                # notebook's annotations into strings (@dataclass in a lesson needs real types).
                code = compile(code_text, filename, "exec", dont_inherit=True)
            except SyntaxError as err:
                raise LessonLoadError(
                    f"{path.name}, cell {index}: SyntaxError on line {err.lineno}: {err.msg}") from None
            try:
                exec(code, module.__dict__)
            except LessonLoadError:
                raise
            except (Exception, SystemExit, KeyboardInterrupt) as err:  # a cell must not end the grader
                raise LessonLoadError(f"{path.name}, cell {index}: {_describe(err)}") from err
    finally:
        _deps.reset(token)
    cache[key] = module
    return module


def _describe(err: BaseException) -> str:
    if isinstance(err, SystemExit):
        return "exits the process (sys.exit/exit): remove that call"
    if isinstance(err, EOFError) and str(err).startswith("called input()"):
        return str(err)
    try:
        message = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
    except Exception:  # noqa: BLE001 - a student's exception whose str() fails
        message = ""
    return f"{err.__class__.__name__}: {message}" if message else err.__class__.__name__
