"""Load a lesson notebook's definitions as a Python module.

Only the cells that define the lesson run: the graded solution cells (nbgrader `solution`) and the
locked set-up cells (nbgrader `locked`, not a check cell). Demo and exploration cells carry no
nbgrader metadata and are skipped, so loading is fast and has no side effects worth mentioning.

A solution cell that does not parse, or raises while it runs, costs only what it defines: the other
cells still run, the module records the problem (`__cell_errors__`), and a task that needs a name
the broken cell was to define is told which cell and why. A broken *set-up* cell fails the lesson.

A lesson may use an earlier lesson's code with `load_lesson("07")` in a set-up cell. Such nested
loads follow the *dependency source* of the outer load: training your own GPT uses your own earlier
lessons all the way down, while grading uses the reference versions, so one early bug does not
fail every later lesson. Inside the grading jail the reference is not on disk at all: it arrives as
compiled cells (reference.py), never as source text.

The grader creates one Loader per process role; `Loader.keep_only_for` is the one place that says
what a sandboxed task may still see of what the process loaded before it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import linecache
import logging
import os
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

# jsonschema (imported by nbformat) builds an IRI grammar at import time when rfc3987_syntax is
# installed: seconds of start-up, in the grader and in every notebook's first cell, for a string
# format notebooks never use. Without it jsonschema simply skips that format.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402 - after the jsonschema start-up fix above

from . import submission_files  # noqa: E402
from .paths import REPO_ROOT, lesson_id  # noqa: E402
from .reference import CompiledLessons  # noqa: E402
from .source import Source, dependencies_for  # noqa: E402

MAX_NOTEBOOK_BYTES = 100 << 20
REFERENCE_ENV = "GPT_COURSE_REFERENCE"  # a compiled reference file, set for jailed kernels (jail/kernel.py)

# Set while a lesson is being loaded: where nested load_lesson() calls look, and what they loaded.
_outer: contextvars.ContextVar[tuple[Loader, object, dict] | None] = contextvars.ContextVar("_outer", default=None)


class LessonLoadError(Exception):
    """A notebook that cannot be loaded; the message names the file and the cell."""


@dataclass
class CellError:
    """A solution cell that did not parse or raised while loading; `defines` are the names it was to define."""
    index: int
    problem: str  # "01_chars.ipynb, cell 5: SyntaxError on line 2: '(' was never closed"
    defines: set[str] = field(default_factory=set)


_DEFINES = re.compile(r"^(?:async\s+def|def|class)\s+(\w+)|^(\w+)\s*(?::[^=]+)?=(?!=)", re.MULTILINE)


def defined_names(source: str) -> set[str]:
    """Top-level names a cell's source defines (def, class, plain assignment), read without running it."""
    return {a or b for a, b in _DEFINES.findall(source)}


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


def definition_cells(nb) -> list[tuple[int, str]]:
    """(index, source) of the cells that define a lesson, in notebook order."""
    return [(index, cell_text(cell)) for index, cell in enumerate(nb.cells) if cell_kind(cell)]


def strip_magics(source: str) -> str:
    # `%matplotlib inline` or `!pip install` mean nothing outside Jupyter; keep line numbers intact.
    return "\n".join(
        "pass  # " + line.strip() if line.lstrip().startswith(("%", "!")) else line
        for line in source.split("\n")
    )


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


class Loader:
    """Loads lessons as modules for one process: a student's kernel, the grader's worker, the capstone.

    deps: where nested load_lesson() calls look when a load names none: a Source, the compiled
    reference (CompiledLessons), or None for "the same place as the lesson itself".
    """

    def __init__(self, deps: Source | CompiledLessons | None = None,
                 default_source: Source | CompiledLessons | None = None):
        self.deps = deps
        self.default_source = default_source or Source.parse("lessons")
        self._kept: dict[tuple[str, str], types.ModuleType | LessonLoadError] = {}  # preloaded lessons
        self._read: dict[str, tuple[tuple[int, int], object]] = {}  # parsed notebooks, by real path

    # -- reading ----------------------------------------------------------------------------------

    def read_notebook(self, path: Path):
        """Read a notebook with nbformat; kept while the file is unchanged (children get it for free).

        Only a regular file is read, never through a link (submission_files.py says why)."""
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

    # -- loading ----------------------------------------------------------------------------------

    def load(self, lesson, source: Source | CompiledLessons | str | os.PathLike | None = None,
             deps: Source | CompiledLessons | str | os.PathLike | None = None) -> types.ModuleType:
        """Load a lesson's definitions as a module (see load_lesson)."""
        outer = _outer.get()
        if source is None:
            source = outer[1] if outer else self.default_source
        source = _as_source(source)
        if deps is None:
            deps = outer[1] if outer else (self.deps if self.deps is not None else source)
        deps = _as_source(deps)
        kept = self._kept.get((_key(source), lesson_id(lesson))) if not str(lesson).endswith(".ipynb") else None
        if _key(deps) == _key(source) and kept is not None:
            if isinstance(kept, LessonLoadError):
                raise kept
            return kept
        cache = outer[2] if outer else {}
        if isinstance(source, CompiledLessons) and not str(lesson).endswith(".ipynb"):
            key = ("compiled", lesson_id(lesson))
            if key not in cache:
                cache[key] = self._exec_compiled(source, lesson_id(lesson), deps, cache)
            return cache[key]
        path = Path(lesson) if str(lesson).endswith(".ipynb") else source.notebook(lesson)
        key = (str(path.resolve()), _key(deps))
        if key not in cache:
            cache[key] = self._exec_notebook(path, deps, cache)
        return cache[key]

    def _exec_notebook(self, path: Path, deps, cache: dict) -> types.ModuleType:
        nb = self.read_notebook(path)
        lid = lesson_id(path.parent.name if path.parent.name[:2].isdigit() else path.stem)
        module = _new_module(lid, path)
        token = _outer.set((self, deps, cache))
        try:
            for index, cell in enumerate(nb.cells):
                kind = cell_kind(cell)
                if kind is None:
                    continue
                filename = f"{path}#cell{index}"
                code_text = strip_magics(cell_text(cell))
                linecache.cache[filename] = (len(code_text), None, code_text.splitlines(True), filename)
                problem = _run_cell(code_text, filename, module, f"{path.name}, cell {index}")
                if problem is None:
                    continue
                if kind == "setup":
                    raise LessonLoadError(problem[0]) from problem[1]
                module.__cell_errors__.append(CellError(index, problem[0], defined_names(code_text)))
        finally:
            _outer.reset(token)
        return module

    def _exec_compiled(self, store: CompiledLessons, lid: str, deps, cache: dict) -> types.ModuleType:
        module = _new_module(lid, Path(store.name(lid)))
        token = _outer.set((self, deps, cache))
        try:
            for index, code in store.cells(lid):
                try:
                    exec(code, module.__dict__)
                except LessonLoadError:
                    raise
                except (Exception, SystemExit, KeyboardInterrupt) as err:  # noqa: BLE001 - reported as one line
                    raise LessonLoadError(f"reference lesson {lid}, cell {index}: {_describe(err)}") from err
        finally:
            _outer.reset(token)
        return module

    def preload(self, lessons, source: Source | CompiledLessons) -> None:
        """Load these lessons of `source` once, for later loads (and forked children) to reuse.

        The grader's worker does this for the reference lessons before forking a task's child: the
        child inherits them. A lesson that fails to load is remembered as its error.
        """
        source = _as_source(source)
        for lid in lessons:
            key = (_key(source), lesson_id(lid))
            if key not in self._kept:
                try:
                    self._kept[key] = self.load(lid, source=source, deps=source)
                except Exception as err:  # noqa: BLE001 - reported where the lesson is used
                    self._kept[key] = LessonLoadError(f"the reference lesson {key[1]} could not be loaded: {err}")

    def keep_only_for(self, lesson: str, notebook: Path | None) -> None:
        """What a sandboxed task of `lesson` may still see, and nothing more.

        Called in a task's child before student code runs: the preloaded lessons numbered `lesson`
        and later (the reference of the very lesson being graded, or of lessons after it) are
        dropped, so are notebooks parsed for other reasons and the cell sources linecache kept for
        tracebacks (reference cells among them).
        """
        self._kept = {key: mod for key, mod in self._kept.items() if key[1] < lesson}
        for store in {id(s): s for s in (self.deps, self.default_source) if isinstance(s, CompiledLessons)}.values():
            store.lessons = {lid: cells for lid, cells in store.lessons.items() if lid < lesson}
        keep = os.path.realpath(notebook) if notebook is not None else None
        self._read = {k: v for k, v in self._read.items() if k == keep}
        for filename in [f for f in linecache.cache if isinstance(f, str) and "#cell" in f]:
            if keep is None or os.path.realpath(filename.rsplit("#cell", 1)[0]) != keep:
                del linecache.cache[filename]
        if "autograder.fixtures" in sys.modules:  # reference outputs a trusted caller may hold
            sys.modules["autograder.fixtures"].forget()


def _run_cell(code_text: str, filename: str, module, where: str):
    """Compile and run one cell in the module; (one-line problem, exception) or None if it ran."""
    try:
        # dont_inherit: this module's `from __future__ import annotations` must not turn the
        # notebook's annotations into strings (@dataclass in a lesson needs real types).
        code = compile(code_text, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        return f"{where}: SyntaxError on line {err.lineno}: {err.msg}", err
    try:
        exec(code, module.__dict__)
    except LessonLoadError as err:
        return str(err), err
    except (Exception, SystemExit, KeyboardInterrupt) as err:  # noqa: BLE001 - a cell must not end the grader
        return f"{where}: {_describe(err)}", err
    return None


def _new_module(lid: str, path: Path) -> types.ModuleType:
    module = types.ModuleType(f"lesson{lid}", f"Definitions of {path}")
    module.__file__ = str(path)
    module.__cell_errors__ = []
    return module


def _as_source(source) -> Source | CompiledLessons:
    return source if isinstance(source, CompiledLessons) else Source.parse(source)


def _key(source: Source | CompiledLessons) -> str:
    return "compiled" if isinstance(source, CompiledLessons) else str(source.root)


def why_missing(module: types.ModuleType, name: str) -> str:
    """Why `name` is not in a loaded lesson: the broken cell that was to define it, if any."""
    errors = getattr(module, "__cell_errors__", [])
    for error in errors:
        if name in error.defines:
            return f"{name} is not defined, because {error.problem}"
    if errors:  # defined some other way (exec, a loop...): the broken cell is still the best lead
        return f"{name} is not defined; the likely cause: {errors[0].problem}"
    return f"{name} is not defined in the notebook (was its cell deleted or renamed?)"


# -- the process's loader ---------------------------------------------------------------------------

_current: Loader | None = None


def current() -> Loader:
    """This process's loader, made on first use from where it runs (see default_loader)."""
    global _current
    if _current is None:
        _current = default_loader()
    return _current


def use(loader: Loader) -> Loader:
    """Make `loader` this process's loader (the grader's worker does, before any notebook runs)."""
    global _current
    _current = loader
    return loader


def default_loader() -> Loader:
    """A jailed kernel: the compiled reference it was handed. Elsewhere: the tree the notebook is in."""
    compiled = os.environ.get(REFERENCE_ENV)
    if compiled:
        reference = CompiledLessons.read(compiled)
        return Loader(deps=reference, default_source=reference)
    with contextlib.suppress(OSError):
        if Path.cwd().resolve().is_relative_to(REPO_ROOT / "solutions"):
            return Loader(default_source=Source.parse("solutions"))
    return Loader()


def load_lesson(lesson, source: str | os.PathLike | Source | None = None,
                deps: str | os.PathLike | Source | None = None) -> types.ModuleType:
    """Load a lesson notebook's definitions as a module.

    lesson: "01", 1, "01_chars", or a path to an .ipynb file.
    source: "lessons" (your notebooks), "solutions" (the reference), or a folder of lesson folders.
            Default: the outer load's dependency source, else the tree the current notebook is in
            (solutions/ or lessons/).
    deps:   where this lesson's own load_lesson() calls look: a source as above, or "reference"
            (solutions/ when present, else the lesson's own source). Default: the same as source.
    """
    outer = _outer.get()
    loader = outer[0] if outer else current()  # a nested load stays with the loader of the outer one
    if str(deps) == "reference":
        base = Source.parse(source) if source is not None else loader.default_source
        deps = base if isinstance(base, CompiledLessons) else dependencies_for(base)
    return loader.load(lesson, source=source, deps=deps)


def read_notebook(path: Path):
    """The current loader's read_notebook (cached parse of a notebook file)."""
    return current().read_notebook(path)
