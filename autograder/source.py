"""Which lessons: the student's notebooks or the reference, parsed once at each command-line edge.

    Source.parse("lessons")      your notebooks in lessons/
    Source.parse("solutions")    the instructor's reference in solutions/
    Source.parse("/some/folder") a folder of NN_slug lesson folders (a submission, a test's copy)

Every command that takes a `--source` (make grade, make train, make sample, the nbgrader plug-ins)
turns its text into a Source here, and passes the Source on; nothing below reads the text again.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .notebook import LessonCells, Lessons, NotebookReader, definition_cells, is_notebook_path
from .paths import REPO_ROOT, LessonNotFound, lesson_id

NAMED = {"lessons": REPO_ROOT / "lessons", "solutions": REPO_ROOT / "solutions"}


@dataclass(frozen=True)
class Source(Lessons):
    """A folder of lesson folders (`NN_slug/NN_slug.ipynb`), and whether it is the reference."""

    root: Path
    reference: bool = False
    label: str = ""  # how the user named it, for messages ("lessons", "solutions", a path)

    @classmethod
    def parse(cls, text: str | os.PathLike | Lessons) -> Source | Lessons:
        """A Source from its name or path; a lesson store (a Source, the compiled reference) is kept."""
        if isinstance(text, Lessons):
            return text
        name = str(text)
        if name in NAMED:
            return cls(NAMED[name], reference=name == "solutions", label=name)
        root = Path(name).expanduser().resolve()
        return cls(root, reference=root == NAMED["solutions"].resolve(), label=name)

    def __str__(self) -> str:
        return self.label or str(self.root)

    def lessons(self) -> dict[str, Path]:
        """{'01': <root>/01_chars, ...} for every lesson folder here."""
        if not self.root.is_dir():
            return {}
        return {child.name[:2]: child for child in sorted(self.root.iterdir())
                if re.match(r"\d\d_", child.name) and child.is_dir()}

    def notebook(self, lesson: str | int | os.PathLike) -> Path:
        """The notebook of a lesson here: <root>/NN_slug/NN_slug.ipynb (a path to an .ipynb is kept)."""
        if is_notebook_path(lesson):
            return Path(lesson)
        lid = lesson_id(lesson)
        folder = self.lessons().get(lid)
        if folder is None:
            raise LessonNotFound(f"no lesson {lid} in {self}")
        return folder / f"{folder.name}.ipynb"

    # -- the lesson store interface (notebook.Lessons) ----------------------------------------------

    @property
    def key(self) -> str:
        return str(self.root)

    def ids(self) -> list[str]:
        return list(self.lessons())

    def cache_key(self, lesson) -> str:
        return str(self.notebook(lesson).resolve())

    def lesson_cells(self, lesson, reader: NotebookReader) -> LessonCells:
        path = self.notebook(lesson)
        lid = lesson_id(path.parent.name if path.parent.name[:2].isdigit() else path.stem)
        return LessonCells(lid, str(path), definition_cells(reader.read(path), path))


def lesson_dirs(source="lessons") -> dict[str, Path]:
    """{'01': <source>/01_chars, ...}: shorthand for Source.parse(source).lessons()."""
    return Source.parse(source).lessons()


def lesson_notebook(lesson, source="lessons") -> Path:
    """<source>/NN_slug/NN_slug.ipynb: shorthand for Source.parse(source).notebook(lesson)."""
    return Source.parse(source).notebook(lesson)


def reference() -> Source | None:
    """The instructor's solutions when this copy of the course has them (a student release may not)."""
    solutions = Source.parse("solutions")
    return solutions if solutions.lessons() else None


def dependencies_for(submission: Lessons) -> Lessons:
    """Where a graded lesson's earlier lessons come from: the reference, else the submission itself."""
    return submission if submission.reference else reference() or submission
