"""Load a lesson notebook's definitions as a Python module.

Only the cells that define the lesson run: the graded solution cells (nbgrader `solution`) and the
locked set-up cells (nbgrader `locked`, not a check cell). Demo and exploration cells carry no
nbgrader metadata and are skipped, so loading is fast and has no side effects worth mentioning.
How a notebook is read and which cells those are: notebook.py. This module only runs them.

A solution cell that does not parse, or raises while it runs, costs only what it defines: the other
cells still run, the module records the problem (`__cell_errors__`), and a task that needs a name
the broken cell was to define is told which cell and why. A broken *set-up* cell fails the lesson.

A lesson may use an earlier lesson's code with `load_lesson("07")` in a set-up cell. Such nested
loads follow the *dependency source* of the outer load: training your own GPT uses your own earlier
lessons all the way down, while grading uses the reference versions, so one early bug does not
fail every later lesson. Inside the grading jail the reference is not on disk at all: it arrives as
compiled cells (reference.py), never as source text. Both are lesson stores (notebook.Lessons).

The grader creates one Loader per process role; what a sandboxed task may still see of what the
process loaded before it is decided by reference.visible_to, applied here by `Loader.keep_only_for`
and `Loader.with_reference_dependencies`.
"""

from __future__ import annotations

import contextlib
import contextvars
import linecache
import os
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

from .notebook import (CELL_MARK, Cell, LessonLoadError, Lessons, NotebookReader, defined_names,  # noqa: F401
                       is_notebook_path)  # LessonLoadError: autograder.LessonLoadError, the public name
from .paths import REPO_ROOT, lesson_id
from .reference import REFERENCE_ENV, CompiledLessons, visible_to
from .source import Source, dependencies_for
from .wording import cell_error, not_defined


@dataclass
class LoadContext:
    """Set while a lesson is being loaded, for the load_lesson() calls its cells make."""
    loader: Loader  # the loader of the outer load: nested loads stay with it
    deps: Lessons  # where nested loads look when they name no source
    loaded: dict = field(default_factory=dict)  # lessons already loaded within this load, by store key


_context: contextvars.ContextVar[LoadContext | None] = contextvars.ContextVar("_context", default=None)


@dataclass
class CellError:
    """A solution cell that did not parse or raised while loading; `defines` are the names it was to define."""
    index: int
    problem: str  # "01_chars.ipynb, cell 5: SyntaxError on line 2: '(' was never closed"
    defines: set[str] = field(default_factory=set)


class Loader:
    """Loads lessons as modules for one process: a student's kernel, the grader's worker, the capstone.

    deps: the lesson store nested load_lesson() calls look in when a load names none (a Source, the
    compiled reference), or None for "the same place as the lesson itself".
    """

    def __init__(self, deps: Lessons | None = None, default_source: Lessons | None = None):
        self.deps = deps
        self.default_source = default_source or Source.parse("lessons")
        self.reader = NotebookReader()
        self._kept: dict[tuple[str, str], types.ModuleType | LessonLoadError] = {}  # preloaded lessons

    def read_notebook(self, path: Path):
        """Read a notebook (notebook.NotebookReader: file checks, nbformat, kept while unchanged)."""
        return self.reader.read(path)

    # -- loading ----------------------------------------------------------------------------------

    def load(self, lesson, source: Lessons | str | os.PathLike | None = None,
             deps: Lessons | str | os.PathLike | None = None) -> types.ModuleType:
        """Load a lesson's definitions as a module (see load_lesson); source and deps are lesson stores
        or what Source.parse reads as one."""
        context = _context.get()
        source = Source.parse(source) if source is not None else context.deps if context else self.default_source
        if deps is not None:
            deps = Source.parse(deps)
        else:
            deps = context.deps if context else (self.deps if self.deps is not None else source)
        if is_notebook_path(lesson):  # a notebook file, wherever it is
            source = Source.parse(Path(lesson).parent)
        else:
            kept = self._kept.get((source.key, lesson_id(lesson)))
            if kept is not None and deps.key == source.key:
                if isinstance(kept, LessonLoadError):
                    raise kept
                return kept
        loaded = context.loaded if context else {}
        key = (source.cache_key(lesson), deps.key)
        if key not in loaded:
            loaded[key] = self._run(source, lesson, LoadContext(self, deps, loaded))
        return loaded[key]

    def _run(self, source: Lessons, lesson, context: LoadContext) -> types.ModuleType:
        found = source.lesson_cells(lesson, self.reader)
        module = _new_module(found.lesson, found.origin)
        token = _context.set(context)
        try:
            for cell in found.cells:
                problem = _run_cell(cell, module)
                if problem is None:
                    continue
                if cell.kind == "setup":
                    raise LessonLoadError(problem[0]) from problem[1]
                module.__cell_errors__.append(CellError(cell.index, problem[0], defined_names(cell.code)))
        finally:
            _context.reset(token)
        return module

    def preload(self, lessons, source: Lessons) -> None:
        """Load these lessons of `source` once, for later loads (and forked children) to reuse.

        The grader's worker does this for the reference lessons before forking a task's child: the
        child inherits them. A lesson that fails to load is remembered as its error.
        """
        for lid in lessons:
            key = (source.key, lesson_id(lid))
            if key not in self._kept:
                try:
                    self._kept[key] = self.load(lid, source=source, deps=source)
                except Exception as err:  # noqa: BLE001 - reported where the lesson is used
                    self._kept[key] = LessonLoadError(f"the reference lesson {key[1]} could not be loaded: {err}")

    # -- what a graded task may see (reference.visible_to) -----------------------------------------

    def keep_only_for(self, lesson: str, notebook: Path | None) -> None:
        """What a sandboxed task of `lesson` may still see, and nothing more.

        Called in a task's child before student code runs: the preloaded lessons numbered `lesson`
        and later (the reference of the very lesson being graded, or of lessons after it) are
        dropped, so are notebooks parsed for other reasons and the cell sources linecache kept for
        tracebacks (reference cells among them).
        """
        visible = set(visible_to(lesson, {key[1] for key in self._kept}))
        self._kept = {key: mod for key, mod in self._kept.items() if key[1] in visible}
        for store in {id(s): s for s in (self.deps, self.default_source) if isinstance(s, CompiledLessons)}.values():
            store.forget_after(lesson)
        self.reader.forget_all_but(notebook)
        keep = os.path.realpath(notebook) if notebook is not None else None
        for filename in [f for f in linecache.cache if isinstance(f, str) and CELL_MARK in f]:
            if keep is None or os.path.realpath(filename.rsplit(CELL_MARK, 1)[0]) != keep:
                del linecache.cache[filename]
        if "autograder.fixtures" in sys.modules:  # reference outputs a trusted caller may hold
            sys.modules["autograder.fixtures"].forget()

    def with_reference_dependencies(self, namespace: dict, lesson: str) -> None:
        """In a kernel's copy (a task's child): earlier lessons' objects become the reference versions.

        A notebook's set-up cell binds names from earlier lessons (`Block = L08.Block`): in the student's
        kernel those are the student's own. `make grade` loads them from the reference, so a lesson is
        judged on its own code only; this makes a check cell judge exactly the same way.
        """
        references = {}
        for name, value in list(namespace.items()):
            owner = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
            lid = lesson_of_module(owner)
            if lid is None or not visible_to(lesson, [lid]):
                continue
            if lid not in references:
                try:
                    references[lid] = self.load(lid, source=self.deps, deps=self.deps)
                except Exception:  # noqa: BLE001 - no reference here: the student's own stays
                    references[lid] = None
            reference = references[lid]
            if reference is None:
                continue
            if isinstance(value, types.ModuleType):
                namespace[name] = reference
            elif hasattr(reference, getattr(value, "__name__", "")):
                namespace[name] = getattr(reference, value.__name__)


def _run_cell(cell: Cell, module) -> tuple[str, BaseException] | None:
    """Compile and run one cell in the module; (one-line problem, exception) or None if it ran."""
    code = cell.code
    if isinstance(code, str):
        linecache.cache[cell.filename] = (len(code), None, code.splitlines(True), cell.filename)
        try:
            # dont_inherit: this module's `from __future__ import annotations` must not turn the
            # notebook's annotations into strings (@dataclass in a lesson needs real types).
            code = compile(code, cell.filename, "exec", dont_inherit=True)
        except SyntaxError as err:
            return f"{cell.where}: SyntaxError on line {err.lineno}: {err.msg}", err
    try:
        exec(code, module.__dict__)
    except LessonLoadError as err:
        return str(err), err
    except (Exception, SystemExit, KeyboardInterrupt) as err:  # noqa: BLE001 - a cell must not end the grader
        return f"{cell.where}: {cell_error(err)}", err
    return None


MODULE_PREFIX = "lesson"  # a loaded lesson is the module "lesson07"


def _new_module(lid: str, origin: str) -> types.ModuleType:
    module = types.ModuleType(f"{MODULE_PREFIX}{lid}", f"Definitions of {origin}")
    module.__file__ = origin
    module.__cell_errors__ = []
    return module


def lesson_of_module(name) -> str | None:
    """'07' for a module this loader made ("lesson07"), else None."""
    if not isinstance(name, str) or not name.startswith(MODULE_PREFIX):
        return None
    digits = name[len(MODULE_PREFIX):]
    return digits if len(digits) == 2 and digits.isdigit() else None


def why_missing(module: types.ModuleType, name: str) -> str:
    """Why `name` is not in a loaded lesson: the broken cell that was to define it, if any."""
    errors = getattr(module, "__cell_errors__", [])
    for error in errors:
        if name in error.defines:
            return f"{name} is not defined, because {error.problem}"
    if errors:  # defined some other way (exec, a loop...): the broken cell is still the best lead
        return f"{name} is not defined; the likely cause: {errors[0].problem}"
    return not_defined(name)


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


def load_lesson(lesson, source: str | os.PathLike | Lessons | None = None,
                deps: str | os.PathLike | Lessons | None = None) -> types.ModuleType:
    """Load a lesson notebook's definitions as a module.

    lesson: "01", 1, "01_chars", or a path to an .ipynb file.
    source: "lessons" (your notebooks), "solutions" (the reference), or a folder of lesson folders.
            Default: the outer load's dependency source, else the tree the current notebook is in
            (solutions/ or lessons/).
    deps:   where this lesson's own load_lesson() calls look: a source as above, or "reference"
            (solutions/ when present, else the lesson's own source). Default: the same as source.
    """
    context = _context.get()
    loader = context.loader if context else current()  # a nested load stays with the loader of the outer one
    if str(deps) == "reference":
        deps = dependencies_for(Source.parse(source) if source is not None else loader.default_source)
    return loader.load(lesson, source=source, deps=deps)

