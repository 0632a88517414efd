"""The reference lessons as compiled cells: what the grading jail gets instead of solutions/.

A lesson builds on earlier ones (lesson 09's set-up cell loads lesson 08), and grading uses the
reference versions of those, so one early bug does not fail every later lesson. Inside the jail
solutions/ does not exist: the trusted grader compiles the definition cells of the earlier reference
lessons and hands the jail their bytecode. No source text, no comments, and only lessons *before*
the one being graded: what a student's code can reach there is what it could already call.
"""

from __future__ import annotations

import marshal
import sys
from pathlib import Path

from .notebook import Cell, LessonCells, LessonLoadError, Lessons, NotebookReader
from .paths import LessonNotFound, lesson_id

# bytecode and marshal's format are fixed within a Python minor version (3.11.x), not across them
REFERENCE_ENV = "GPT_COURSE_REFERENCE"  # a compiled reference file, set for jailed kernels (jail/kernel.py)
MAGIC = f"gpt-course-reference-1 python{sys.version_info[0]}.{sys.version_info[1]}\n".encode()


def visible_to(lesson: str, lessons) -> list[str]:
    """What a graded task of `lesson` may see of the reference: the lessons before its own, nothing more.

    The one home of that rule: the compiled reference handed to a jail, the lessons a task's child
    keeps (loader.Loader.keep_only_for), a kernel's earlier-lesson objects swapped for the reference
    (loader.Loader.with_reference_dependencies) and a check cell's preloads all ask here."""
    return sorted(lid for lid in {lesson_id(x) for x in lessons} if lid < lesson)


class CompiledLessons(Lessons):
    """{lesson id: (folder name, [(cell index, marshalled code)])}, in notebook order."""

    key = "compiled"
    reference = True  # (notebook.Lessons)

    def __init__(self, lessons: dict[str, tuple[str, list[tuple[int, bytes]]]] | None = None):
        self.lessons = dict(lessons or {})

    @classmethod
    def compile(cls, source: Lessons, lessons, reader: NotebookReader | None = None) -> CompiledLessons:
        """Compile the definition cells of these lessons of `source` (a Source of notebooks)."""
        reader = reader or NotebookReader()
        compiled = {}
        for lid in sorted({lesson_id(x) for x in lessons}):
            try:
                found = source.lesson_cells(lid, reader)
            except (LessonLoadError, LessonNotFound, OSError):
                # A lesson that is missing or cannot be read is simply not handed over: whoever loads it
                # is told why. Anything else is a bug in the grader, and must not pass for a missing lesson.
                continue
            folder = Path(found.origin).parent.name
            cells = []
            for cell in found.cells:
                where = f"<reference {folder}, cell {cell.index}>"
                try:
                    code = compile(cell.code, where, "exec", dont_inherit=True)
                except SyntaxError as err:  # (only when the dependencies are a student's own lessons)
                    code = compile(f"raise SyntaxError({f'{where}: {err.msg}'!r})", where, "exec")
                cells.append((cell.index, marshal.dumps(code)))
            compiled[lid] = (folder, cells)
        return cls(compiled)

    @classmethod
    def for_lesson(cls, source: Lessons, lesson: str, reader: NotebookReader | None = None) -> CompiledLessons:
        """What a graded task of `lesson` gets instead of solutions/: the earlier lessons, compiled."""
        if isinstance(source, CompiledLessons):
            return source.only(visible_to(lesson, source.ids()))
        return cls.compile(source, visible_to(lesson, source.ids()), reader)

    def __contains__(self, lid: str) -> bool:
        return lid in self.lessons

    def ids(self) -> list[str]:
        return sorted(self.lessons)

    def add(self, other: CompiledLessons) -> None:
        self.lessons.update(other.lessons)

    def only(self, lessons) -> CompiledLessons:
        return CompiledLessons({lid: v for lid, v in self.lessons.items() if lid in set(lessons)})

    def name(self, lid: str) -> str:
        return f"reference {self.lessons[lid][0]}" if lid in self.lessons else f"reference lesson {lid}"

    def cells(self, lid: str):
        """(index, code object) of a lesson's definition cells; LookupError if it was not handed over."""
        if lid not in self.lessons:
            raise LessonNotFound(f"the reference of lesson {lid} is not available here (grading only "
                                 f"hands over the lessons before the one being graded)")
        return [(index, marshal.loads(data)) for index, data in self.lessons[lid][1]]

    # -- the lesson store interface (notebook.Lessons) ----------------------------------------------

    def cache_key(self, lesson) -> str:
        return f"compiled {lesson_id(lesson)}"

    def lesson_cells(self, lesson, reader: NotebookReader | None = None) -> LessonCells:
        """Compiled cells: each one is trusted reference code, so any error fails the lesson ("setup")."""
        lid = lesson_id(lesson)
        return LessonCells(lid, self.name(lid), [Cell(index, "setup", f"reference lesson {lid}, cell {index}", code)
                                                 for index, code in self.cells(lid)])

    def forget_after(self, lesson: str) -> None:
        """Keep only what a task of `lesson` may see (see visible_to)."""
        keep = set(visible_to(lesson, self.lessons))
        self.lessons = {lid: cells for lid, cells in self.lessons.items() if lid in keep}

    # -- as bytes: sent to the jail's worker, or a read-only file in a jailed kernel -------------------

    def to_bytes(self) -> bytes:
        return MAGIC + marshal.dumps({lid: (name, cells) for lid, (name, cells) in self.lessons.items()})

    @classmethod
    def from_bytes(cls, data: bytes) -> CompiledLessons:
        if not data.startswith(MAGIC):
            raise ValueError("not a compiled reference for this Python version")
        return cls(marshal.loads(data[len(MAGIC):]))

    @classmethod
    def read(cls, path) -> CompiledLessons:
        return cls.from_bytes(Path(path).read_bytes())
