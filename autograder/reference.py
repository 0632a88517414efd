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

from .paths import lesson_id

# bytecode and marshal's format are fixed within a Python minor version (3.11.x), not across them
MAGIC = f"gpt-course-reference-1 python{sys.version_info[0]}.{sys.version_info[1]}\n".encode()


class CompiledLessons:
    """{lesson id: (folder name, [(cell index, marshalled code)])}, in notebook order."""

    def __init__(self, lessons: dict[str, tuple[str, list[tuple[int, bytes]]]] | None = None):
        self.lessons = dict(lessons or {})

    @classmethod
    def compile(cls, source, lessons, read_notebook) -> CompiledLessons:
        """Compile the definition cells of these lessons of `source` (a Source of notebooks)."""
        from .loader import cell_kind, cell_text, strip_magics

        compiled = {}
        for lid in sorted({lesson_id(x) for x in lessons}):
            try:
                path = source.notebook(lid)
                notebook = read_notebook(path)
            except Exception:  # noqa: BLE001 - a lesson that cannot be read is simply not handed over
                continue
            cells = []
            for index, cell in enumerate(notebook.cells):
                if cell_kind(cell):
                    where = f"<reference {path.parent.name}, cell {index}>"
                    try:
                        code = compile(strip_magics(cell_text(cell)), where, "exec", dont_inherit=True)
                    except SyntaxError as err:  # (only when the dependencies are a student's own lessons)
                        code = compile(f"raise SyntaxError({f'{where}: {err.msg}'!r})", where, "exec")
                    cells.append((index, marshal.dumps(code)))
            compiled[lid] = (path.parent.name, cells)
        return cls(compiled)

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
        from .paths import LessonNotFound

        if lid not in self.lessons:
            raise LessonNotFound(f"the reference of lesson {lid} is not available here (grading only "
                                 f"hands over the lessons before the one being graded)")
        return [(index, marshal.loads(data)) for index, data in self.lessons[lid][1]]

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
